"""Label algebra, pairing, eval mode and seeding of Mixup, StatEx and FeatEx."""

import pytest
import torch

from speechbrain_asd.lobes.augment import FeatEx, Mixup, StatEx

C = 3


def onehot(labels):
    return torch.nn.functional.one_hot(torch.tensor(labels), C).float()


def gen(seed):
    return torch.Generator().manual_seed(seed)


def base_class_weights(targets):
    """Sums a multi-block label vector over its blocks -> weight per base class."""
    return targets.view(targets.shape[0], -1, C).sum(1)


# ---------------------------------------------------------------- Mixup
def test_mixup_pairs_with_reversed_batch_and_mixes_labels():
    wavs = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    y = onehot([0, 1, 2, 0])
    out, y_out = Mixup(prob=1.0).train()(wavs, y, generator=gen(0))
    lam = torch.rand(4, generator=gen(0))  # first draw of the call
    partner = [3, 2, 1, 0]
    for i in range(4):
        expected = lam[i] * wavs[i] + (1 - lam[i]) * wavs[partner[i]]
        torch.testing.assert_close(out[i], expected)
        torch.testing.assert_close(y_out[i], lam[i] * y[i] + (1 - lam[i]) * y[partner[i]])
    torch.testing.assert_close(y_out.sum(1), torch.ones(4))


def test_mixup_prob_zero_and_eval_are_identity():
    wavs, y = torch.randn(5, 7), onehot([0, 1, 2, 0, 1])
    out, y_out = Mixup(prob=0.0).train()(wavs, y)
    assert torch.equal(out, wavs) and torch.equal(y_out, y)
    mixup = Mixup(prob=1.0).eval()
    for _ in range(2):
        out, y_out = mixup(wavs, y)
        assert torch.equal(out, wavs) and torch.equal(y_out, y)


def test_mixup_selects_about_prob():
    wavs, y = torch.randn(4000, 1), onehot([0, 1] * 2000)
    _, y_out = Mixup(prob=0.5).train()(wavs, y, generator=gen(1))
    mixed = (y_out != y).any(1).float().mean().item()
    assert 0.45 < mixed < 0.55


def test_mixup_seeding():
    wavs, y = torch.randn(8, 16), onehot([0, 1, 2, 0, 1, 2, 0, 1])
    mixup = Mixup().train()
    torch.manual_seed(3)
    a = mixup(wavs, y)
    torch.manual_seed(3)
    b = mixup(wavs, y)
    torch.manual_seed(4)
    c = mixup(wavs, y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert torch.equal(mixup(wavs, y, generator=gen(5))[0], mixup(wavs, y, generator=gen(5))[0])


# ---------------------------------------------------------------- StatEx
def test_statex_exchanges_frame_statistics_and_labels():
    torch.manual_seed(0)
    spec = torch.rand(4, 6, 10) * torch.tensor([1.0, 2.0, 3.0, 4.0]).view(4, 1, 1)
    y = onehot([0, 1, 2, 0])
    out, y3 = StatEx(prob=1.0).train()(spec, y, generator=gen(0))
    for i in range(4):
        p = 3 - i
        m, s = spec[i].mean(-1, keepdim=True), spec[i].std(-1, keepdim=True, unbiased=False)
        mp = spec[p].mean(-1, keepdim=True)
        sp = spec[p].std(-1, keepdim=True, unbiased=False)
        torch.testing.assert_close(out[i], (spec[i] - m) / (s + 1e-16) * sp + mp)
        torch.testing.assert_close(y3[i], torch.cat([torch.zeros(C), y[i] / 2, y[p] / 2]))
    torch.testing.assert_close(y3.sum(1), torch.ones(4))


def test_statex_mixed_decisions_layout():
    spec, y = torch.rand(6, 4, 5), onehot([0, 1, 2, 0, 1, 2])
    out, y3 = StatEx(prob=0.5).train()(spec, y, generator=gen(7))
    exchanged = torch.rand(6, generator=gen(7)) < 0.5
    assert 0 < exchanged.sum() < 6  # this seed gives both cases
    assert y3.shape == (6, 3 * C)
    for i in range(6):
        if exchanged[i]:
            torch.testing.assert_close(y3[i, :C], torch.zeros(C))
            torch.testing.assert_close(y3[i, C : 2 * C], y[i] / 2)
            torch.testing.assert_close(y3[i, 2 * C :], y[5 - i] / 2)
            assert not torch.equal(out[i], spec[i])
        else:
            torch.testing.assert_close(y3[i], torch.cat([y[i], torch.zeros(2 * C)]))
            assert torch.equal(out[i], spec[i])
    # column j belongs to base class j % C: total weight per base class from i or partner
    torch.testing.assert_close(base_class_weights(y3).sum(1), torch.ones(6))


def test_statex_eval_mode():
    spec, y = torch.rand(3, 4, 5), onehot([0, 1, 2])
    out, y3 = StatEx(prob=1.0).eval()(spec, y)
    assert torch.equal(out, spec)
    torch.testing.assert_close(y3, torch.cat([y, torch.zeros(3, 2 * C)], 1))


def test_statex_seeding():
    spec, y = torch.rand(10, 4, 5), onehot([0, 1] * 5)
    st = StatEx().train()
    a, b, c = (st(spec, y, generator=gen(s)) for s in (1, 1, 2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


# ---------------------------------------------------------------- FeatEx
def test_featex_exchanges_stft_embedding_and_labels():
    e1 = torch.arange(4.0).view(4, 1)
    e2 = 10 * torch.arange(4.0).view(4, 1)
    y3 = torch.cat([onehot([0, 1, 2, 0]), torch.zeros(4, 2 * C)], 1)
    y3[1] = torch.cat([torch.zeros(C), onehot([1])[0] / 2, onehot([2])[0] / 2])  # a StatEx row
    emb, y9 = FeatEx(prob=0.5).train()(e1, e2, y3, generator=gen(7))
    exchanged = torch.rand(4, generator=gen(7)) < 0.5
    assert y9.shape == (4, 9 * C)
    for i in range(4):
        p = 3 - i
        assert emb[i, 0] == e1[i, 0]
        if exchanged[i]:
            assert emb[i, 1] == e2[p, 0]
            torch.testing.assert_close(y9[i], torch.cat([torch.zeros(3 * C), y3[i] / 2, y3[p] / 2]))
        else:
            assert emb[i, 1] == e2[i, 0]
            torch.testing.assert_close(y9[i], torch.cat([y3[i], torch.zeros(6 * C)]))
    torch.testing.assert_close(y9.sum(1), torch.ones(4))


def test_featex_full_chain_base_classes_come_from_pair():
    y = onehot([0, 1, 2, 1, 0])
    wavs = torch.randn(5, 8)
    torch.manual_seed(11)
    _, y_mix = Mixup(1.0).train()(wavs, y)
    _, y3 = StatEx(1.0).train()(torch.rand(5, 3, 4), y_mix)
    _, y9 = FeatEx(1.0).train()(torch.randn(5, 2), torch.randn(5, 2), y3)
    assert y9.shape == (5, 9 * C)
    torch.testing.assert_close(y9.sum(1), torch.ones(5))
    weights = base_class_weights(y9)
    for i in range(5):
        allowed = y[i] + y[4 - i] > 0
        assert (weights[i][~allowed] == 0).all()


def test_featex_eval_mode_and_gradients():
    e1 = torch.randn(4, 3, requires_grad=True)
    e2 = torch.randn(4, 2, requires_grad=True)
    y3 = torch.rand(4, 3 * C)
    featex = FeatEx(prob=1.0)
    emb, y9 = featex.eval()(e1, e2, y3)
    assert torch.equal(emb, torch.cat([e1, e2], 1))
    torch.testing.assert_close(y9, torch.cat([y3, torch.zeros(4, 6 * C)], 1))
    emb, _ = featex.train()(e1, e2, y3)
    emb.sum().backward()
    assert e1.grad is not None and e2.grad is not None


@pytest.mark.parametrize(
    "module, args",
    [
        (Mixup(), (torch.zeros(4, 3), torch.zeros(3, C))),
        (Mixup(), (torch.zeros(4, 3), torch.zeros(4, C, dtype=torch.long))),
        (StatEx(), (torch.zeros(4, 3), torch.zeros(4, C))),
        (FeatEx(), (torch.zeros(4, 3), torch.zeros(3, 3), torch.zeros(4, 3 * C))),
    ],
)
def test_bad_inputs(module, args):
    with pytest.raises(ValueError):
        module(*args)


@pytest.mark.parametrize("cls", [Mixup, StatEx, FeatEx])
@pytest.mark.parametrize("prob", [-0.1, 1.5, "0.5", True])
def test_bad_prob(cls, prob):
    with pytest.raises(ValueError, match="prob"):
        cls(prob)
