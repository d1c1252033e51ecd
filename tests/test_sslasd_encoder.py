"""Shapes, parameter count, determinism, API identities and gradient flow of the SSLASD encoder."""

import pytest
import torch

from speechbrain_asd.lobes.augment import FeatEx, Mixup, StatEx
from speechbrain_asd.lobes.heads import SSLASDHeads
from speechbrain_asd.lobes.sslasd import (
    SqueezeExcitation,
    SSLASDEncoder,
    weight_decay_param_groups,
)

SMALL = {
    "clip_seconds": 2.0,
    "embedding_dim": 16,
    "spectrum_channels": 16,
    "spectrum_dense_layers": 2,
    "resnet_channels": (8, 16),
    "blocks_per_stage": 2,
    "n_fft": 256,
    "hop_length": 128,
    "se_ratio": 4,
}


def n_trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_reference_parameter_count():
    enc = SSLASDEncoder()
    # 2,683,634 trainable (the reference's "about 2.7 M"); 7,842 BatchNorm running statistics
    assert n_trainable(enc) == 2_683_634
    assert n_trainable(enc.spectrum_branch) == 1_711_104
    assert n_trainable(enc.stft_branch) == 972_530
    assert sum(b.numel() for n, b in enc.named_buffers() if "running" in n) == 7_842
    assert enc.spectrum_branch.flat_size == 18 * 128
    assert enc.stft_branch.flat_size == 2048


@pytest.mark.parametrize("seconds, frames", [(18.0, 561), (10.0, 311)])
def test_full_size_shapes(seconds, frames):
    torch.manual_seed(0)
    enc = SSLASDEncoder(clip_seconds=seconds).eval()
    wavs = torch.randn(2, int(16000 * seconds))
    with torch.no_grad():
        spec = enc.stft(wavs)
        assert spec.shape == (2, frames, 513)
        emb = enc(wavs)
        assert emb.shape == (2, 256)
        assert enc.spectrum_embedding(wavs).shape == (2, 128)
        assert enc.stft_embedding(spec).shape == (2, 128)
    assert torch.isfinite(emb).all()


def test_wrong_length_is_a_clear_error():
    enc = SSLASDEncoder(clip_seconds=18.0)
    with pytest.raises(ValueError, match="expected clips of 288000 samples.*got 160000"):
        enc(torch.randn(1, 160000))
    with pytest.raises(ValueError, match=r"\[batch, 561, 513\]"):
        enc.stft_embedding(torch.randn(1, 300, 513))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        enc(torch.randn(288000))


def test_forward_is_concat_of_branches_and_lengths_ignored():
    torch.manual_seed(0)
    enc = SSLASDEncoder(**SMALL).eval()
    wavs = torch.randn(3, 32000)
    with torch.no_grad():
        full = enc(wavs)
        parts = torch.cat([enc.spectrum_embedding(wavs), enc.stft_embedding(enc.stft(wavs))], 1)
        with_lengths = enc(wavs, torch.tensor([1.0, 0.5, 0.2]))
    assert torch.equal(full, parts)
    assert torch.equal(full, with_lengths)
    assert torch.equal(full, torch.cat(enc.branch_embeddings(wavs), 1))


def test_determinism_same_seed_and_eval_twice():
    wavs = torch.randn(4, 32000)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        enc = SSLASDEncoder(**SMALL).eval()
        with torch.no_grad():
            outs.append(enc(wavs))
            assert torch.equal(outs[-1], enc(wavs))  # eval twice: identical
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    with torch.no_grad():
        assert not torch.equal(outs[0], SSLASDEncoder(**SMALL).eval()(wavs))


def test_train_mode_updates_running_stats_eval_does_not():
    torch.manual_seed(0)
    enc = SSLASDEncoder(**SMALL)
    wavs = torch.randn(4, 32000)
    before = enc.stft_branch.bin_norm.running_mean.clone()
    with torch.no_grad():
        enc.eval()(wavs)
        assert torch.equal(before, enc.stft_branch.bin_norm.running_mean)
        enc.train()(wavs)
    assert not torch.equal(before, enc.stft_branch.bin_norm.running_mean)


def test_channels_last_path_equals_plain_convolution():
    torch.manual_seed(0)
    enc = SSLASDEncoder(**SMALL).eval()
    wavs = torch.randn(2, 32000)
    with torch.no_grad():
        fast = enc(wavs)
        enc.stft_branch.channels_last = False
        plain = enc(wavs)
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("frames, bins", [(561, 513), (60, 129), (61, 130)])
def test_polyphase_stem_matches_conv2d(frames, bins):
    from speechbrain_asd.lobes.sslasd import _stem_conv_polyphase

    x = torch.randn(2, frames, bins)
    w = torch.randn(4, 1, 7, 7)
    ref = torch.nn.functional.conv2d(x.unsqueeze(1), w, stride=2, padding=3)
    torch.testing.assert_close(_stem_conv_polyphase(x, w), ref, rtol=1e-4, atol=1e-4)


def test_weight_decay_param_groups():
    enc = SSLASDEncoder(**SMALL)
    heads = SSLASDHeads(16, n_classes=3, n_subcenters=2)
    model = torch.nn.ModuleDict({"encoder": enc, "heads": heads})
    decay, rest = weight_decay_param_groups(model, 2e-5)
    assert decay["weight_decay"] == 2e-5 and rest["weight_decay"] == 0.0
    decay_ids = {id(p) for p in decay["params"]}
    rest_ids = {id(p) for p in rest["params"]}
    assert not decay_ids & rest_ids
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            assert id(m.weight) in rest_ids and id(m.bias) in rest_ids
        if isinstance(m, SqueezeExcitation):
            assert all(id(p) in rest_ids for p in m.parameters())
    assert id(enc.stft_branch.stem_conv.weight) in decay_ids
    assert id(enc.spectrum_branch.convs[0].weight) in decay_ids
    assert id(heads.featex.centres) in rest_ids
    assert id(heads.main.centres) not in decay_ids | rest_ids  # frozen
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(decay_ids | rest_ids) == len(trainable)
    with pytest.raises(ValueError, match="weight_decay"):
        weight_decay_param_groups(model, -1.0)


def test_one_step_changes_every_trainable_parameter_and_no_frozen_one():
    torch.manual_seed(0)
    n_classes = 3
    enc = SSLASDEncoder(**SMALL).train()
    heads = SSLASDHeads(16, n_classes, n_subcenters=2, statex_head=True).train()
    mixup, statex, featex = Mixup().train(), StatEx().train(), FeatEx().train()
    model = torch.nn.ModuleDict({"encoder": enc, "heads": heads})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(weight_decay_param_groups(model, 2e-5), lr=1e-3)

    wavs = torch.randn(6, 32000)
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), n_classes).float()
    wavs, y_mix = mixup(wavs, y)
    spec, y3 = statex(enc.stft(wavs), y_mix)
    emb_spectrum, emb_stft = enc.spectrum_embedding(wavs), enc.stft_embedding(spec)
    embedding = torch.cat([emb_spectrum, emb_stft], 1)
    emb_featex, y9 = featex(emb_spectrum, emb_stft, y3)
    cosines = heads(embedding, emb_featex)
    targets = {"main": y_mix, "statex": y3, "featex": y9}
    loss = sum(
        torch.nn.functional.cross_entropy(10 * cos.amax(-1), targets[key])
        for key, cos in cosines.items()
    )
    opt.zero_grad()
    loss.backward()
    opt.step()

    for name, p in model.named_parameters():
        if p.requires_grad:
            assert not torch.equal(p, before[name]), f"{name} did not change"
        else:
            assert torch.equal(p, before[name]), f"frozen {name} changed"
    assert not heads.main.centres.requires_grad
    assert torch.equal(heads.main.centres, before["heads.main.centres"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"embedding_dim": 15}, "even"),
        ({"clip_seconds": 0}, "clip_seconds"),
        ({"clip_seconds": 0.01}, "frames"),
        ({"resnet_channels": ()}, "channels"),
        ({"sample_rate": 16000.0}, "sample_rate"),
    ],
)
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SSLASDEncoder(**kwargs)
