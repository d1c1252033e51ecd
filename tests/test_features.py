"""Tests of speechbrain_asd.lobes.features: tiling, full-clip spectrum and magnitude STFT."""

import numpy as np
import pytest
import torch

from speechbrain_asd.lobes.features import (
    MagnitudeSpectrum,
    MagnitudeSTFT,
    fixed_length,
    magnitude_spectrum,
    magnitude_stft,
)


@pytest.mark.parametrize("n", [1, 3, 10, 160])
@pytest.mark.parametrize("length", [1, 7, 10, 333])
def test_fixed_length_matches_tiling(n, length):
    wav = torch.randn(n)
    reps = -(-(length + n) // n)
    tiled = np.tile(wav.numpy(), reps)
    for offset in sorted({0, n // 2, n - 1}):
        out = fixed_length(wav, length, offset)
        assert out.shape == (length,)
        np.testing.assert_array_equal(out.numpy(), tiled[offset : offset + length])


def test_fixed_length_does_not_alias_input():
    wav = torch.arange(10.0)
    out = fixed_length(wav, 5, 2)
    out[0] = -1.0
    assert wav[2] == 2.0


def test_fixed_length_keeps_dtype():
    wav = torch.arange(5, dtype=torch.float64)
    assert fixed_length(wav, 12, 4).dtype == torch.float64


@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.zeros(2, 3), 4), "1-D"),
        ((torch.zeros(0), 4), "empty"),
        ((torch.zeros(3), 0), "length"),
        ((torch.zeros(3), 4, 3), "offset must be < len"),
        ((torch.zeros(3), 4, -1), "offset"),
    ],
)
def test_fixed_length_errors(args, match):
    with pytest.raises(ValueError, match=match):
        fixed_length(*args)


def test_magnitude_spectrum_matches_numpy():
    wavs = torch.randn(3, 1000, dtype=torch.float64)
    expected = np.abs(np.fft.fft(wavs.numpy(), axis=1))[:, :500]
    out = magnitude_spectrum(wavs)
    assert out.dtype == torch.float32 and out.shape == (3, 500)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-3)


def test_magnitude_stft_matches_torch_stft_and_shape_18s():
    wavs = torch.randn(2, 288000)
    out = magnitude_stft(wavs)
    assert out.shape == (2, 561, 513)
    ref = torch.stft(
        wavs, 1024, 512, window=torch.hann_window(1024), center=False, return_complex=True
    )
    torch.testing.assert_close(out, ref.abs().transpose(1, 2), rtol=1e-4, atol=1e-4)


def test_modules_match_functions():
    wavs = torch.randn(2, 5000)
    torch.testing.assert_close(MagnitudeSpectrum()(wavs), magnitude_spectrum(wavs))
    stft = MagnitudeSTFT(256, 100)
    torch.testing.assert_close(stft(wavs), magnitude_stft(wavs, 256, 100))
    assert stft.n_frames(5000) == stft(wavs).shape[1]
    assert "window" not in stft.state_dict()


def test_float32_under_bf16_autocast():
    wavs = torch.randn(2, 4096)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        spec = magnitude_spectrum(wavs.bfloat16())
        stft = magnitude_stft(wavs.bfloat16(), 512, 256)
    assert spec.dtype == torch.float32 and stft.dtype == torch.float32
    torch.testing.assert_close(stft, magnitude_stft(wavs.bfloat16().float(), 512, 256))


@pytest.mark.parametrize(
    "fn, arg",
    [
        (magnitude_spectrum, torch.zeros(10)),
        (magnitude_stft, torch.zeros(3, 2, 100)),
        (magnitude_stft, torch.zeros(2, 100)),  # shorter than n_fft
        (magnitude_spectrum, torch.zeros(2, 10, dtype=torch.long)),
    ],
)
def test_feature_errors(fn, arg):
    with pytest.raises(ValueError):
        fn(arg)
