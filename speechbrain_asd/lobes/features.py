"""Input features of the SSLASD encoder: fixed-length clips, full-clip spectrum and STFT.

The SSLASD reference (Wilkinghoff, ICASSP 2024) brings every clip to 18 s by tiling, and feeds
two branches: the magnitude of the FFT of the whole clip and a linear magnitude STFT (frame 1024,
hop 512, Hann window, no padding at the end; no mel filterbank and no log).

Every FFT here runs in float32, also under ``torch.autocast`` (bf16 FFTs are inaccurate and not
supported for these sizes), on the device of the input.

Authors
 * speechbrain-asd developers 2026
"""

import torch


def _check_int(name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_batch(fn, wavs):
    if not isinstance(wavs, torch.Tensor) or wavs.dim() != 2:
        shape = tuple(wavs.shape) if isinstance(wavs, torch.Tensor) else type(wavs).__name__
        raise ValueError(f"{fn}: wavs must be a tensor [batch, time], got {shape}")
    if not (wavs.is_floating_point() or wavs.is_complex()):
        raise ValueError(f"{fn}: wavs must be floating point, got dtype {wavs.dtype}")


def fixed_length(wav, length, offset=0):
    """Brings a clip to ``length`` samples by tiling it and cropping from ``offset``.

    The clip is conceptually repeated as often as needed (``wav, wav, wav, ...``) and the
    samples ``offset .. offset + length - 1`` of that endless signal are returned, as the
    reference's ``adjust_size`` does (there the offset is random; here the caller draws it,
    so that the crop is reproducible). Cheap enough for DataLoader workers: at most one
    copy of ``length`` samples, no index tensors.

    Arguments
    ---------
    wav : torch.Tensor
        One mono clip ``[time]``, at least one sample.
    length : int
        Number of output samples (e.g. 288000 for 18 s at 16 kHz).
    offset : int
        Start sample inside the first copy, ``0 <= offset < len(wav)`` (0 at evaluation).

    Returns
    -------
    torch.Tensor
        The clip ``[length]``, same dtype and device as ``wav``.

    Example
    -------
    >>> fixed_length(torch.tensor([1.0, 2.0, 3.0]), 7, offset=1)
    tensor([2., 3., 1., 2., 3., 1., 2.])
    >>> fixed_length(torch.arange(10.0), 4, offset=2)
    tensor([2., 3., 4., 5.])
    """
    if not isinstance(wav, torch.Tensor) or wav.dim() != 1:
        shape = tuple(wav.shape) if isinstance(wav, torch.Tensor) else type(wav).__name__
        raise ValueError(f"fixed_length: wav must be a 1-D tensor [time], got {shape}")
    n = wav.shape[0]
    if n == 0:
        raise ValueError("fixed_length: wav is empty (0 samples), nothing to tile")
    _check_int("fixed_length: length", length, 1)
    _check_int("fixed_length: offset", offset, 0)
    if offset >= n:
        raise ValueError(f"fixed_length: offset must be < len(wav)={n}, got {offset}")
    end = offset + length
    if end <= n:
        return wav[offset:end].clone()
    # head (rest of the first copy), whole copies, then the start of one more copy
    pieces = [wav[offset:]]
    remaining = length - (n - offset)
    full, rest = divmod(remaining, n)
    pieces.extend([wav] * full)  # views: torch.cat below is the only copy
    if rest:
        pieces.append(wav[:rest])
    return torch.cat(pieces)


def magnitude_spectrum(wavs):
    """Magnitude of the FFT of each whole clip, first half of the bins.

    As in the reference: ``|FFT(x)|[:time // 2]``; no log, no normalisation. For real
    input the bins ``0 .. time // 2 - 1`` of the full FFT equal those of ``rfft``.

    Arguments
    ---------
    wavs : torch.Tensor
        Clips ``[batch, time]``.

    Returns
    -------
    torch.Tensor
        Float32 magnitudes ``[batch, time // 2]``; bin k is ``k * sample_rate / time`` Hz.

    Example
    -------
    >>> spec = magnitude_spectrum(torch.ones(2, 8))
    >>> spec.shape
    torch.Size([2, 4])
    >>> spec[0]
    tensor([8., 0., 0., 0.])
    """
    _check_batch("magnitude_spectrum", wavs)
    with torch.autocast(device_type=wavs.device.type, enabled=False):
        spec = torch.fft.rfft(wavs.float(), dim=-1)
        return spec[:, : wavs.shape[1] // 2].abs()


def hann_window(n_fft, device=None):
    """Periodic Hann window, as ``tf.signal.stft``'s default and ``torch.hann_window``.

    Arguments
    ---------
    n_fft : int
        Window length in samples.
    device : torch.device, optional
        Where to create it.

    Returns
    -------
    torch.Tensor
        Float32 window ``[n_fft]``.

    Example
    -------
    >>> hann_window(4)
    tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    _check_int("hann_window: n_fft", n_fft, 1)
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def magnitude_stft(wavs, n_fft=1024, hop_length=512, window=None):
    """Linear magnitude STFT without padding (``center=False``), frames first.

    Frames are taken as strided views (no copy) and transformed with one batched
    ``rfft``, which directly gives the ``[batch, frames, bins]`` layout the encoder needs.
    Trailing samples that do not fill a whole frame are dropped, as with ``pad_end=False``
    in the reference.

    Arguments
    ---------
    wavs : torch.Tensor
        Clips ``[batch, time]``, ``time >= n_fft``.
    n_fft : int
        Frame (and FFT) length in samples.
    hop_length : int
        Hop between frames in samples.
    window : torch.Tensor, optional
        Window ``[n_fft]``; default the periodic Hann window.

    Returns
    -------
    torch.Tensor
        Float32 magnitudes ``[batch, frames, n_fft // 2 + 1]`` with
        ``frames = 1 + (time - n_fft) // hop_length`` (561 x 513 for 18 s at 16 kHz).

    Example
    -------
    >>> magnitude_stft(torch.randn(2, 288000)).shape
    torch.Size([2, 561, 513])
    >>> spec = magnitude_stft(torch.ones(1, 8), n_fft=4, hop_length=2)
    >>> spec.shape
    torch.Size([1, 3, 3])
    >>> spec[0, 0]
    tensor([2., 1., 0.])
    """
    _check_batch("magnitude_stft", wavs)
    _check_int("magnitude_stft: n_fft", n_fft, 1)
    _check_int("magnitude_stft: hop_length", hop_length, 1)
    if wavs.shape[1] < n_fft:
        raise ValueError(
            f"magnitude_stft: clips have {wavs.shape[1]} samples, fewer than n_fft={n_fft}"
        )
    with torch.autocast(device_type=wavs.device.type, enabled=False):
        if window is None:
            window = hann_window(n_fft, device=wavs.device)
        elif window.shape != (n_fft,):
            raise ValueError(
                f"magnitude_stft: window must have shape ({n_fft},), got {tuple(window.shape)}"
            )
        frames = wavs.float().unfold(-1, n_fft, hop_length)
        return torch.fft.rfft(frames * window.float(), dim=-1).abs()


class MagnitudeSpectrum(torch.nn.Module):
    """Module form of :func:`magnitude_spectrum` (no parameters).

    Example
    -------
    >>> MagnitudeSpectrum()(torch.randn(3, 100)).shape
    torch.Size([3, 50])
    """

    def forward(self, wavs):
        """Computes ``|FFT|`` of each clip.

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, time]``.

        Returns
        -------
        torch.Tensor
            Magnitudes ``[batch, time // 2]``.
        """
        return magnitude_spectrum(wavs)


class MagnitudeSTFT(torch.nn.Module):
    """Module form of :func:`magnitude_stft`; the window is a non-persistent buffer.

    Arguments
    ---------
    n_fft : int
        Frame (and FFT) length in samples.
    hop_length : int
        Hop between frames in samples.

    Example
    -------
    >>> MagnitudeSTFT(n_fft=256, hop_length=128)(torch.randn(3, 16000)).shape
    torch.Size([3, 124, 129])
    """

    def __init__(self, n_fft=1024, hop_length=512):
        super().__init__()
        _check_int("MagnitudeSTFT: n_fft", n_fft, 1)
        _check_int("MagnitudeSTFT: hop_length", hop_length, 1)
        self.n_fft = n_fft
        self.hop_length = hop_length
        # non-persistent: it is a constant, so checkpoints stay free of it
        self.register_buffer("window", hann_window(n_fft), persistent=False)

    def n_frames(self, n_samples):
        """Number of frames for clips of ``n_samples`` samples.

        Arguments
        ---------
        n_samples : int
            Clip length in samples.

        Returns
        -------
        int
            ``1 + (n_samples - n_fft) // hop_length``.

        Example
        -------
        >>> MagnitudeSTFT().n_frames(288000)
        561
        """
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def forward(self, wavs):
        """Computes the magnitude STFT.

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, time]``.

        Returns
        -------
        torch.Tensor
            Magnitudes ``[batch, frames, n_fft // 2 + 1]``.
        """
        return magnitude_stft(wavs, self.n_fft, self.hop_length, window=self.window)

    def extra_repr(self):
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}"
