"""Tests of the adaptive (AdaCos) scale against direct re-computations of its two formulas."""

import math

import pytest
import torch

from speechbrain_asd.nnet.adacos import AdaptiveScale, initial_scale
from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss


def _sslasd_by_hand(s, cos, y):
    """The SSLASD reference's formula written with plain Python loops."""
    batch, n_classes, n_sub = cos.shape
    values = [s * float(cos[b, c, m]) for b in range(batch) for c in range(n_classes)
              for m in range(n_sub)]
    big_m = max(values)
    sums = []
    angles = []
    for b in range(batch):
        sums.append(sum(math.exp(s * float(cos[b, c, m]) - big_m)
                        for c in range(n_classes) for m in range(n_sub)))
        angles.append(sum(float(y[b, c]) * math.acos(float(cos[b, c, m]))
                          for c in range(n_classes) for m in range(n_sub)))
    b_avg = sum(sums) / batch
    theta_med = sorted(angles)[(batch - 1) // 2]
    return (big_m + math.log(b_avg)) / math.cos(min(math.pi / 4, theta_med))


def _adacos_by_hand(s, cos, labels):
    """The AdaCos paper's formula (non-target logits, target angle) with plain loops."""
    batch, n_classes, n_sub = cos.shape
    sums = []
    angles = []
    for b in range(batch):
        sums.append(sum(math.exp(s * float(cos[b, c, m])) for c in range(n_classes)
                        if c != labels[b] for m in range(n_sub)))
        angles.append(math.acos(max(float(cos[b, labels[b], m]) for m in range(n_sub))))
    theta_med = sorted(angles)[(batch - 1) // 2]
    return math.log(sum(sums) / batch) / math.cos(min(math.pi / 4, theta_med))


def test_initial_scale():
    assert initial_scale(10, 16) == pytest.approx(math.sqrt(2) * math.log(159))
    assert float(AdaptiveScale(3, 4).scale) == pytest.approx(math.sqrt(2) * math.log(11))
    with pytest.raises(ValueError, match="n_classes \\* n_subcenters"):
        initial_scale(1, 1)


def test_sslasd_formula_matches_hand_computation():
    torch.manual_seed(0)
    cos = torch.rand(5, 3, 4) * 2 - 1
    labels = [0, 2, 1, 1, 0]
    y = torch.nn.functional.one_hot(torch.tensor(labels), 3).float()
    scale = AdaptiveScale(3, 4, variant="sslasd")
    expected = _sslasd_by_hand(float(scale.scale), cos, y)
    assert float(scale.update(cos, y)) == pytest.approx(expected, rel=1e-5)
    # A second update starts from the new scale.
    expected = _sslasd_by_hand(float(scale.scale), cos, y)
    assert float(scale.update(cos, y)) == pytest.approx(expected, rel=1e-5)


def test_sslasd_formula_with_small_angles_uses_the_median():
    # One sub-centre per class: the summed angle is a single angle and can stay below pi/4.
    cos = torch.tensor([[[0.95], [0.1]], [[0.2], [0.9]], [[0.99], [-0.3]]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    scale = AdaptiveScale(2, 1, variant="sslasd")
    scale.scale.fill_(3.0)
    expected = _sslasd_by_hand(3.0, cos, y)
    assert math.acos(0.95) < math.pi / 4  # the median angle is acos(0.95): no clipping
    assert float(scale.update(cos, y)) == pytest.approx(expected, rel=1e-5)


def test_adacos_formula_matches_hand_computation():
    torch.manual_seed(1)
    cos = torch.rand(5, 3, 2) * 0.4 + 0.55  # angles below pi/4: the median is not clipped
    labels = [0, 2, 1, 1, 0]
    y = torch.nn.functional.one_hot(torch.tensor(labels), 3).float()
    scale = AdaptiveScale(3, 2, variant="adacos")
    expected = _adacos_by_hand(float(scale.scale), cos, labels)
    assert float(scale.update(cos, y)) == pytest.approx(expected, rel=1e-5)


def test_masked_subcenters_take_no_part():
    torch.manual_seed(2)
    cos = torch.rand(3, 2, 3) * 2 - 1
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 0]), 2).float()
    mask = torch.ones(3, 2, 3, dtype=torch.bool)
    mask[:, :, 2] = False
    full = AdaptiveScale(2, 3)
    reduced = AdaptiveScale(2, 2)
    reduced.scale.copy_(full.scale)
    assert float(full.update(cos, y, mask)) == pytest.approx(
        float(reduced.update(cos[:, :, :2], y)), rel=1e-6
    )


def test_loss_updates_scale_only_in_training_and_saves_it():
    loss = SubcenterAdaCosLoss(4, 2)
    before = float(loss.current_scale())
    cos = torch.rand(6, 4, 2)
    loss.eval()
    loss(cos, torch.arange(6) % 4)
    assert float(loss.current_scale()) == before
    loss.train()
    loss(cos, torch.arange(6) % 4)
    assert float(loss.current_scale()) != before
    state = loss.state_dict()
    assert "scale.scale" in state
    other = SubcenterAdaCosLoss(4, 2)
    other.load_state_dict(state)
    assert float(other.current_scale()) == float(loss.current_scale())


def test_degenerate_batch_keeps_the_scale():
    scale = AdaptiveScale(2, 1, variant="adacos")
    before = float(scale.scale)
    # Soft labels with weight 1 on both classes leave no non-target logit: ln(0) = -inf.
    scale.update(torch.zeros(2, 2, 1), torch.ones(2, 2))
    assert float(scale.scale) == before


def test_bad_variant():
    with pytest.raises(ValueError, match="variant"):
        AdaptiveScale(2, 2, variant="arcface")
