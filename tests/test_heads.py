"""Tests of the SSLASD sub-centre heads."""

import pytest
import torch

from speechbrain_asd.lobes.heads import SSLASDHeads


@pytest.mark.parametrize("statex_head", [False, True])
def test_shapes_and_keys(statex_head):
    heads = SSLASDHeads(32, n_classes=5, n_subcenters=4, statex_head=statex_head)
    out = heads(torch.randn(6, 32), torch.randn(6, 32))
    expected = {"main": (6, 5, 4), "featex": (6, 45, 4)}
    if statex_head:
        expected["statex"] = (6, 15, 4)
    assert {k: tuple(v.shape) for k, v in out.items()} == expected
    assert set(out) <= set(SSLASDHeads.TARGETS)
    for cos in out.values():
        assert (cos.abs() <= 1 + 1e-5).all()


def test_trainability_and_checkpointed_centres():
    heads = SSLASDHeads(8, n_classes=2, n_subcenters=16, statex_head=True)
    assert not heads.main.centres.requires_grad
    assert heads.featex.centres.requires_grad and heads.statex.centres.requires_grad
    assert "main.centres" in heads.state_dict()
    assert heads.featex.centres.shape == (8, 9 * 2 * 16)


def test_main_head_uses_embedding_featex_head_uses_featex_embedding():
    torch.manual_seed(0)
    heads = SSLASDHeads(8, n_classes=2, n_subcenters=2, statex_head=True)
    emb, emb_featex = torch.randn(3, 8), torch.randn(3, 8)
    out = heads(emb, emb_featex)
    torch.testing.assert_close(out["main"], heads.main(emb))
    torch.testing.assert_close(out["statex"], heads.statex(emb))
    torch.testing.assert_close(out["featex"], heads.featex(emb_featex))


def test_errors():
    with pytest.raises(ValueError, match="statex_head"):
        SSLASDHeads(8, 2, statex_head="yes")
    with pytest.raises(ValueError, match="rows"):
        SSLASDHeads(8, 2)(torch.randn(3, 8), torch.randn(2, 8))
    with pytest.raises(ValueError):
        SSLASDHeads(8, 0)
