"""Tests for the sub-centre cosine head."""

import torch

from speechbrain_asd.nnet.subcenter import SubcenterCosine


def test_shapes_and_range():
    head = SubcenterCosine(4, 3, 2)
    cos = head(torch.randn(6, 4))
    assert cos.shape == (6, 3, 2)
    assert cos.abs().max() <= 1 + 1e-6
