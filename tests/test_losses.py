"""Tests of the sub-centre AdaCos losses: paper eq. 3-5 and 10, the three representations."""

import math

import pytest
import torch

from speechbrain_asd.nnet.aasrl import across_subcenter_mask
from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss


def _joint_by_hand(s, cos, label):
    """Eq. 3 for one sample, with plain Python loops."""
    n_classes, n_sub = cos.shape
    numerator = sum(math.exp(s * float(cos[label, m])) for m in range(n_sub))
    denominator = sum(math.exp(s * float(cos[j, m])) for j in range(n_classes)
                      for m in range(n_sub))
    return -math.log(numerator / denominator)


def test_joint_tiny_hand_computed_value():
    # s = 2, one sample, 2 classes x 2 sub-centres, label 1:
    # numerator e^{2*0.5} + e^{2*0} = e + 1 = 3.718282; denominator adds e^{2*1} + e^{-2*1}
    # = 7.389056 + 0.135335 -> 11.242673; loss = -ln(3.718282 / 11.242673) = 1.106455.
    loss = SubcenterAdaCosLoss(2, 2, scale=2.0)
    cos = torch.tensor([[[1.0, -1.0], [0.5, 0.0]]])
    assert float(loss(cos, torch.tensor([1]))) == pytest.approx(1.106455, abs=1e-6)


def test_optimal_tiny_hand_computed_value():
    # Same example, optimal: class scores 2*1 = 2 and 2*0.5 = 1;
    # loss = -ln(e^1 / (e^2 + e^1)) = ln(1 + e) = 1.313262.
    loss = SubcenterAdaCosLoss(2, 2, representation="optimal", scale=2.0)
    cos = torch.tensor([[[1.0, -1.0], [0.5, 0.0]]])
    assert float(loss(cos, torch.tensor([1]))) == pytest.approx(1.313262, abs=1e-6)


def test_masked_joint_tiny_hand_computed_value():
    # AASRL: the own class (1) keeps only sub-centre 0; class 0 keeps both.
    # numerator e^1 = 2.718282; denominator e^2 + e^-2 + e^1 = 10.242673;
    # loss = -ln(2.718282 / 10.242673) = 1.326563.
    loss = SubcenterAdaCosLoss(2, 2, scale=2.0)
    cos = torch.tensor([[[1.0, -1.0], [0.5, 0.0]]])
    mask = torch.tensor([[[True, True], [True, False]]])
    assert float(loss(cos, torch.tensor([1]), mask)) == pytest.approx(1.326563, abs=1e-6)
    # "negative" ablation: the unselected own sub-centre stays in the denominator:
    # -ln(e / 11.242673) = 1.419717.
    negative = SubcenterAdaCosLoss(2, 2, scale=2.0, unselected="negative")
    assert float(negative(cos, torch.tensor([1]), mask)) == pytest.approx(1.419717, abs=1e-6)


def test_joint_equals_equation_3_on_random_cases():
    torch.manual_seed(0)
    cos = torch.rand(6, 5, 3) * 2 - 1
    labels = torch.tensor([0, 4, 2, 2, 1, 3])
    loss = SubcenterAdaCosLoss(5, 3, scale=7.5)
    expected = sum(_joint_by_hand(7.5, cos[b], int(labels[b])) for b in range(6)) / 6
    assert float(loss(cos, labels)) == pytest.approx(expected, rel=1e-5)


def test_equation_4_class_probability_is_sum_of_subcenter_probabilities():
    torch.manual_seed(1)
    cos = torch.rand(1, 4, 3) * 2 - 1
    s = 5.0
    p = torch.softmax(s * cos.flatten(1), dim=1).view(1, 4, 3)  # p_j^m
    loss = SubcenterAdaCosLoss(4, 3, scale=s)
    for label in range(4):
        p_i = float(p[0, label].sum())  # eq. 4
        assert float(loss(cos, torch.tensor([label]))) == pytest.approx(-math.log(p_i), rel=1e-5)


def test_equation_10_closed_form_gradient_matches_autograd():
    # Logits s h^T w with an unnormalised h (the paper's setting of eq. 6-10).
    torch.manual_seed(2)
    dim, n_classes, n_sub, s = 6, 4, 3, 1.7
    w = torch.nn.functional.normalize(torch.randn(dim, n_classes * n_sub), dim=0)
    loss = SubcenterAdaCosLoss(n_classes, n_sub, scale=s)
    for label in range(n_classes):
        h = torch.randn(dim, requires_grad=True)
        logits = (h @ w).view(1, n_classes, n_sub)
        loss(logits, torch.tensor([label])).backward()
        with torch.no_grad():
            p = torch.softmax(s * (h @ w), dim=0)  # p_j^m, [C*S]
            w3 = w.view(dim, n_classes, n_sub)
            p3 = p.view(n_classes, n_sub)
            global_term = w @ p  # sum_j sum_m p_j^m w_j^m
            own = w3[:, label] @ p3[label] / p3[label].sum()  # sum_m p_i^m w_i^m / P_i
            closed_form = s * (global_term - own)
        torch.testing.assert_close(h.grad, closed_form, rtol=1e-5, atol=1e-6)


def test_equation_10_fails_for_a_wrong_formula():
    # Guard that the check above is sensitive: dropping the 1/P_i normalisation is detected.
    torch.manual_seed(3)
    dim, n_classes, n_sub, s = 4, 3, 2, 2.0
    w = torch.nn.functional.normalize(torch.randn(dim, n_classes * n_sub), dim=0)
    h = torch.randn(dim, requires_grad=True)
    SubcenterAdaCosLoss(n_classes, n_sub, scale=s)((h @ w).view(1, n_classes, n_sub),
                                                   torch.tensor([0])).backward()
    p = torch.softmax(s * (h.detach() @ w), dim=0)
    wrong = s * (w @ p - w.view(dim, n_classes, n_sub)[:, 0] @ p.view(n_classes, n_sub)[0])
    assert not torch.allclose(h.grad, wrong, atol=1e-4)


def test_soft_labels_are_a_weighted_sum_of_hard_losses():
    torch.manual_seed(4)
    cos = torch.rand(3, 4, 2) * 2 - 1
    a, b, lam = torch.tensor([0, 1, 3]), torch.tensor([2, 1, 0]), 0.3
    soft = lam * torch.nn.functional.one_hot(a, 4) + (1 - lam) * torch.nn.functional.one_hot(b, 4)
    for representation in ("joint", "optimal"):
        loss = SubcenterAdaCosLoss(4, 2, representation=representation, scale=4.0)
        per_a = torch.stack([loss(cos[i:i + 1], a[i:i + 1]) for i in range(3)])
        per_b = torch.stack([loss(cos[i:i + 1], b[i:i + 1]) for i in range(3)])
        expected = (lam * per_a + (1 - lam) * per_b).mean()
        assert float(loss(cos, soft.float())) == pytest.approx(float(expected), rel=1e-5)


def test_aasrl_with_all_subcenters_selected_is_exactly_joint():
    torch.manual_seed(5)
    cos = torch.rand(8, 5, 4) * 2 - 1
    labels = torch.randint(0, 5, (8,))
    selection = torch.ones(8, 4, dtype=torch.bool)  # k = S for every sample
    mask = across_subcenter_mask(labels, 5, 4, selection)
    assert bool(mask.all())
    for variant in ("sslasd", "adacos"):
        joint = SubcenterAdaCosLoss(5, 4, scale_variant=variant)
        aasrl = SubcenterAdaCosLoss(5, 4, scale_variant=variant)
        assert torch.equal(joint(cos, labels), aasrl(cos, labels, mask))
        assert torch.equal(joint.current_scale(), aasrl.current_scale())


def test_masking_equals_dropping_the_subcenters():
    torch.manual_seed(6)
    cos = torch.rand(2, 3, 4) * 2 - 1
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[:, :, 3] = False
    for representation in ("joint", "optimal"):
        full = SubcenterAdaCosLoss(3, 4, representation=representation, scale=3.0)
        small = SubcenterAdaCosLoss(3, 3, representation=representation, scale=3.0)
        labels = torch.tensor([1, 2])
        assert float(full(cos, labels, mask)) == pytest.approx(float(small(cos[:, :, :3],
                                                                          labels)), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_do_not_overflow(dtype):
    # e^(s cos) with s = 40 overflows float16 (max 65504 ~ e^11): the loss works in float32.
    torch.manual_seed(7)
    cos32 = torch.rand(4, 6, 16) * 2 - 1
    labels = torch.tensor([0, 5, 3, 3])
    loss = SubcenterAdaCosLoss(6, 16, scale=40.0)
    reference = loss(cos32, labels)
    value = loss(cos32.to(dtype), labels)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert float(value) == pytest.approx(float(reference), rel=0.05, abs=0.05)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.isfinite(loss(cos32.to(dtype), labels))


def _devices():
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_runs_on_every_available_device_with_adaptive_scale():
    for device in _devices():
        loss = SubcenterAdaCosLoss(3, 2).to(device)
        cos = (torch.rand(4, 3, 2, device=device) * 2 - 1).requires_grad_()
        value = loss(cos, torch.tensor([0, 1, 2, 0], device=device))
        value.backward()
        assert torch.isfinite(cos.grad).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cosines": torch.zeros(2, 3, 3)}, "cosines: expected \\[batch, 3, 2\\]"),
        ({"cosines": torch.zeros(2, 6)}, "cosines: expected"),
        ({"targets": torch.tensor([0, 3])}, "class indices must be in \\[0, 2\\]"),
        ({"targets": torch.tensor([0, -1])}, "class indices must be in"),
        ({"targets": torch.tensor([0, 1, 2])}, "expected 2 class indices"),
        ({"targets": torch.tensor([[0.5, 0.2, 0.2], [1.0, 0, 0]])}, "row 0 sums to 0.9"),
        ({"targets": torch.tensor([[1.5, -0.5, 0.0], [1.0, 0, 0]])}, "non-negative"),
        ({"targets": torch.zeros(2, 4)}, "soft labels \\[batch, 3\\]"),
        ({"subcenter_mask": torch.ones(2, 3, 2)}, "subcenter_mask: expected a bool"),
        ({"subcenter_mask": torch.tensor([[[1, 1], [0, 0], [1, 1]]] * 2).bool()},
         "leaves class 1 without any sub-centre for sample 0"),
        ({"representation": "best"}, "representation must be one of"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    loss = SubcenterAdaCosLoss(3, 2, scale=2.0)
    args = {"cosines": torch.zeros(2, 3, 2), "targets": torch.tensor([0, 1])}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        loss(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subcenters": 0}, "n_subcenters must be a positive int"),
        ({"n_classes": 2.5}, "n_classes must be a positive int"),
        ({"representation": "all"}, "representation must be one of"),
        ({"scale": -1.0}, "scale must be None, a positive float"),
        ({"scale_variant": "cosface"}, "scale_variant"),
        ({"unselected": "keep"}, "unselected"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    args = {"n_classes": 3, "n_subcenters": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SubcenterAdaCosLoss(**args)


def test_sparse_and_dense_masks_give_the_same_loss_and_gradient():
    torch.manual_seed(8)
    labels = torch.tensor([0, 2, 1, 2])
    selection = torch.rand(4, 3) > 0.5
    selection[:, 0] = True
    targets = torch.nn.functional.one_hot(labels, 3).float() * 0.6 + torch.nn.functional.one_hot(
        labels.flip(0), 3).float() * 0.4
    partner = torch.arange(3, -1, -1)
    dense = across_subcenter_mask(labels, 3, 3, selection, targets=targets, partner=partner)
    sparse = across_subcenter_mask(labels, 3, 3, selection, targets=targets, partner=partner,
                                   sparse=True)
    results = []
    for mask in (dense, sparse):
        loss = SubcenterAdaCosLoss(3, 3)
        cos = (torch.rand(4, 3, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1)
        cos.requires_grad_()
        value = loss(cos, targets, mask)
        value.backward()
        results.append((value.detach(), cos.grad, loss.current_scale()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_sparse_mask_is_validated():
    from speechbrain_asd.nnet.masking import MaskedRows

    loss = SubcenterAdaCosLoss(3, 2, scale=2.0)
    bad = MaskedRows(torch.tensor([0]), torch.tensor([5]), torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match="indices out of range"):
        loss(torch.zeros(2, 3, 2), torch.tensor([0, 1]), bad)
    empty = MaskedRows(torch.tensor([1]), torch.tensor([1]), torch.tensor([[False, False]]))
    with pytest.raises(ValueError, match="leaves class 1 without any sub-centre for sample 1"):
        loss(torch.zeros(2, 3, 2), torch.tensor([0, 1]), empty)


def test_masked_logsumexp_gradient_matches_finite_differences():
    from speechbrain_asd.nnet.masking import masked_rows, reduce_subcenters

    torch.manual_seed(9)
    values = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(3, 4, 5) > 0.4
    mask[..., 0] = True
    rows = masked_rows(mask, values.shape)
    assert torch.autograd.gradcheck(lambda v: reduce_subcenters(v, torch.logsumexp, rows),
                                    (values,))
    expected = torch.logsumexp(values.detach().masked_fill(~mask, float("-inf")), dim=2)
    torch.testing.assert_close(reduce_subcenters(values, torch.logsumexp, rows), expected)
