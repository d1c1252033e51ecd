"""The SSLASD encoder: a full-clip spectrum branch and an STFT ResNet branch.

Re-statement in PyTorch of the encoder of "Self-supervised learning for anomalous sound
detection" (Wilkinghoff, ICASSP 2024; Keras reference wilkinghoff/ssl4asd,
``main_statex+featex.py``), as used by the AASRL paper. Two branches look at the same
(possibly mixed-up) waveform and each ends in a linear embedding of ``embedding_dim // 2``:

* spectrum branch: ``|FFT|`` of the whole clip -> three strided Conv1D + ReLU + SE ->
  flatten -> ``spectrum_dense_layers`` x [Linear - BatchNorm - ReLU] -> Linear;
* STFT branch: magnitude STFT (where StatEx acts) -> subtract each bin's time mean ->
  BatchNorm per bin -> Conv2D 7x7/2 - BN - ReLU - MaxPool 3x3/2 -> residual stages with SE ->
  max over all time -> flatten -> BatchNorm -> Linear.

All conv / linear layers have no bias; kernels are Glorot-uniform initialised and BatchNorm
uses Keras' defaults (``eps=1e-3``, running-average momentum 0.99, i.e. ``momentum=0.01`` in
PyTorch), as in the reference. The L2 weight decay of the reference is not part of the module:
see :func:`weight_decay_param_groups`.

Authors
 * speechbrain-asd developers 2026
"""

import math

import torch
from torch import nn

from speechbrain_asd.lobes.features import MagnitudeSpectrum, MagnitudeSTFT


def _same_padding(length, kernel_size, stride):
    """TensorFlow ``padding='same'``: output ``ceil(length / stride)``, extra pad at the end."""
    out = -(-length // stride)
    total = max((out - 1) * stride + kernel_size - length, 0)
    return out, total // 2, total - total // 2


def _check_positive_int(owner, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: channel gates from the spatial mean (Hu et al., CVPR 2018).

    As in the reference: global average -> Linear(C, C // ratio, no bias) -> ReLU ->
    Linear(C // ratio, C, no bias) -> sigmoid -> channel-wise product.

    Arguments
    ---------
    channels : int
        Number of channels C.
    ratio : int
        Reduction ratio; the hidden width is ``max(1, C // ratio)``.

    Example
    -------
    >>> se = SqueezeExcitation(32)
    >>> se(torch.randn(2, 32, 5, 7)).shape
    torch.Size([2, 32, 5, 7])
    >>> se(torch.randn(2, 32, 9)).shape
    torch.Size([2, 32, 9])
    """

    def __init__(self, channels, ratio=16):
        super().__init__()
        _check_positive_int("SqueezeExcitation", "channels", channels)
        _check_positive_int("SqueezeExcitation", "ratio", ratio)
        hidden = max(1, channels // ratio)
        self.reduce = nn.Linear(channels, hidden, bias=False)
        self.expand = nn.Linear(hidden, channels, bias=False)

    def forward(self, x):
        """Gates the channels of ``x``.

        Arguments
        ---------
        x : torch.Tensor
            Feature map ``[batch, channels, *spatial]``.

        Returns
        -------
        torch.Tensor
            Same shape as ``x``.
        """
        squeezed = x.mean(dim=tuple(range(2, x.dim())))
        gate = torch.sigmoid(self.expand(torch.relu(self.reduce(squeezed))))
        return x * gate.view(*gate.shape, *([1] * (x.dim() - 2)))


class SpectrumBranch(nn.Module):
    """Branch 1: strided Conv1D + SE stack over the full-clip magnitude spectrum, then MLP.

    Conv1D with ``channels`` filters and (kernel, stride) = (256, 64), (64, 32), (16, 4), each
    followed by ReLU and SE, TensorFlow ``'same'`` padding (output length
    ``ceil(length / stride)``); then flatten -> ``dense_layers`` x [Linear(``output_dim``) -
    BatchNorm - ReLU] -> Linear(``output_dim``). Flattening fixes the input length.

    The first convolution has a single input channel and a large stride: it is computed as one
    matrix product over strided frames of the spectrum (a view, no im2col copy), which is the
    same arithmetic as ``conv1d``, about 1.3x faster forward + backward on CPU (measured).

    Arguments
    ---------
    input_size : int
        Number of spectrum bins (``n_samples // 2``).
    channels : int
        Filters of each convolution.
    dense_layers : int
        Number of hidden [Linear - BatchNorm - ReLU] layers.
    output_dim : int
        Width of the hidden layers and of the linear output.
    conv_layers : tuple of (int, int)
        (kernel size, stride) of each convolution.
    se_ratio : int
        Squeeze-and-excitation reduction ratio.
    bn_momentum : float
        BatchNorm running-average momentum (PyTorch convention).
    bn_eps : float
        BatchNorm epsilon.

    Example
    -------
    >>> branch = SpectrumBranch(input_size=32000, channels=16, output_dim=8)
    >>> branch(torch.rand(3, 32000)).shape
    torch.Size([3, 8])
    """

    def __init__(
        self,
        input_size,
        channels=128,
        dense_layers=4,
        output_dim=128,
        conv_layers=((256, 64), (64, 32), (16, 4)),
        se_ratio=16,
        bn_momentum=0.01,
        bn_eps=1e-3,
    ):
        super().__init__()
        for name, value in (
            ("input_size", input_size),
            ("channels", channels),
            ("output_dim", output_dim),
        ):
            _check_positive_int("SpectrumBranch", name, value)
        if not isinstance(dense_layers, int) or dense_layers < 0:
            raise ValueError(
                f"SpectrumBranch: dense_layers must be an int >= 0, got {dense_layers!r}"
            )
        self.input_size = input_size
        self.convs = nn.ModuleList()
        self.ses = nn.ModuleList()
        self.paddings = []
        length, in_channels = input_size, 1
        for kernel_size, stride in conv_layers:
            length_out, left, right = _same_padding(length, kernel_size, stride)
            self.paddings.append((left, right))
            self.convs.append(nn.Conv1d(in_channels, channels, kernel_size, stride, bias=False))
            self.ses.append(SqueezeExcitation(channels, se_ratio))
            length, in_channels = length_out, channels
        self.flat_size = length * channels
        layers = []
        width = self.flat_size
        for _ in range(dense_layers):
            layers += [
                nn.Linear(width, output_dim, bias=False),
                nn.BatchNorm1d(output_dim, eps=bn_eps, momentum=bn_momentum),
                nn.ReLU(inplace=True),
            ]
            width = output_dim
        layers.append(nn.Linear(width, output_dim, bias=False))
        self.mlp = nn.Sequential(*layers)

    def forward(self, spectrum):
        """Embeds magnitude spectra.

        Arguments
        ---------
        spectrum : torch.Tensor
            ``[batch, input_size]``.

        Returns
        -------
        torch.Tensor
            ``[batch, output_dim]``.
        """
        if spectrum.dim() != 2 or spectrum.shape[1] != self.input_size:
            raise ValueError(
                f"SpectrumBranch: expected a spectrum [batch, {self.input_size}], "
                f"got shape {tuple(spectrum.shape)}"
            )
        x = spectrum
        for i, (conv, se) in enumerate(zip(self.convs, self.ses)):
            left, right = self.paddings[i]
            if i == 0 and conv.in_channels == 1:
                # frames [B, L_out, k] as a strided view, times the kernel [k, C] -> [B, L_out, C]
                x = nn.functional.pad(x, (left, right))
                frames = x.unfold(-1, conv.kernel_size[0], conv.stride[0])
                x = (frames @ conv.weight.view(conv.out_channels, -1).t().to(frames.dtype))
                x = x.transpose(1, 2)
            else:
                if left or right:
                    x = nn.functional.pad(x, (left, right))
                x = conv(x)
            x = se(torch.relu(x))
        return self.mlp(x.flatten(1))


def _stem_conv_polyphase(x, weight):
    """``conv2d(x, weight, stride=2, padding=3)`` for a 7x7 single-channel kernel, channels-last.

    A stride-2 convolution of one channel equals a stride-1 convolution of its four polyphase
    components (even/odd rows x even/odd columns) with the kernel zero-padded to 8x8 and split
    the same way into four 4x4 kernels. oneDNN runs that form about twice as fast (forward +
    backward) as the strided single-channel convolution.

    Arguments
    ---------
    x : torch.Tensor
        ``[batch, height, width]``.
    weight : torch.Tensor
        ``[channels, 1, 7, 7]``.

    Returns
    -------
    torch.Tensor
        ``[batch, channels, ceil(height / 2), ceil(width / 2)]``, channels-last.
    """
    batch, height, width = x.shape
    out_h, out_w = -(-height // 2), -(-width // 2)
    pad_h, pad_w = 2 * (out_h + 3), 2 * (out_w + 3)
    x = nn.functional.pad(x, (3, pad_w - width - 3, 3, pad_h - height - 3))
    phases = x.view(batch, pad_h // 2, 2, pad_w // 2, 2).permute(0, 1, 3, 2, 4)
    phases = phases.reshape(batch, pad_h // 2, pad_w // 2, 4).permute(0, 3, 1, 2)
    channels = weight.shape[0]
    kernel = nn.functional.pad(weight, (0, 1, 0, 1)).view(channels, 4, 2, 4, 2)
    kernel = kernel.permute(0, 2, 4, 1, 3).reshape(channels, 4, 4, 4)
    kernel = kernel.contiguous(memory_format=torch.channels_last)
    return nn.functional.conv2d(phases, kernel.to(phases.dtype))


class ResidualUnit(nn.Module):
    """One residual unit of the STFT branch, in the reference's pre-activation form.

    ``x = BN(x)`` (when ``pre_norm``; the normalised trunk also feeds the shortcut), then
    ``r = SE(Conv3x3(mid(Conv3x3/stride(ReLU(x)))))`` with ``mid = ReLU(BN(.))``, and the
    output ``shortcut(x) + r``. The shortcut is the identity, or MaxPool(stride, 'same') and a
    1x1 conv when the unit downsamples or changes the width.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    stride : int
        Stride of the first 3x3 conv (2 to downsample).
    pre_norm : bool
        Whether the trunk is batch-normalised first (False only right after the stem).
    relu_before_bn : bool
        The reference's second unit of the first stage applies ReLU before BN in the middle
        (``mid = BN(ReLU(.))``); True reproduces that.
    se_ratio : int
        Squeeze-and-excitation reduction ratio.
    bn_momentum : float
        BatchNorm momentum (PyTorch convention).
    bn_eps : float
        BatchNorm epsilon.

    Example
    -------
    >>> unit = ResidualUnit(16, 32, stride=2)
    >>> unit(torch.randn(2, 16, 35, 32)).shape
    torch.Size([2, 32, 18, 16])
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        stride=1,
        pre_norm=True,
        relu_before_bn=False,
        se_ratio=16,
        bn_momentum=0.01,
        bn_eps=1e-3,
    ):
        super().__init__()
        self.pre_norm = (
            nn.BatchNorm2d(in_channels, eps=bn_eps, momentum=bn_momentum) if pre_norm else None
        )
        self.relu_before_bn = relu_before_bn
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.se = SqueezeExcitation(out_channels, se_ratio)
        self.pool = (
            nn.MaxPool2d(stride, stride, ceil_mode=True) if stride > 1 else None
        )
        self.project = (
            nn.Conv2d(in_channels, out_channels, 1, bias=False)
            if in_channels != out_channels
            else None
        )

    def forward(self, x):
        """Applies the unit.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, in_channels, time, freq]``.

        Returns
        -------
        torch.Tensor
            ``[batch, out_channels, ceil(time / stride), ceil(freq / stride)]``.
        """
        if self.pre_norm is not None:
            x = self.pre_norm(x)
        r = self.conv1(torch.relu(x))
        if self.relu_before_bn:
            r = self.norm(torch.relu(r))
        else:
            r = torch.relu_(self.norm(r))
        r = self.se(self.conv2(r))
        if self.pool is not None:
            x = self.pool(x)
        if self.project is not None:
            x = self.project(x)
        return x + r


class STFTBranch(nn.Module):
    """Branch 2: ResNet with SE over the normalised magnitude STFT.

    Each bin's mean over time is subtracted, then a BatchNorm per frequency bin; stem Conv2D
    ``channels[0]`` 7x7 stride 2 - BN - ReLU - MaxPool 3x3 stride 2; then one stage per entry of
    ``channels`` with ``blocks_per_stage`` :class:`ResidualUnit` each (every stage after the
    first downsamples by 2); max over all time frames (the reference's MaxPool(18, 1) is exactly
    that at 18 s; taking the global max keeps the branch valid for other lengths); flatten
    (``channels[-1] x freq``, 2048 at the default size) -> BatchNorm -> Linear(``output_dim``).

    The 3x3 stride-2 convolutions pad 1 on both sides; TensorFlow's ``'same'`` pads 0/1 for even
    sizes. Output sizes are identical; only the sampling grid shifts by one bin. The stem runs
    MaxPool before ReLU (the same function, as ReLU is monotonic, on 4x fewer values).

    Arguments
    ---------
    n_bins : int
        Frequency bins of the input (``n_fft // 2 + 1``).
    channels : tuple of int
        Width of each residual stage (the stem has ``channels[0]``).
    blocks_per_stage : int
        Residual units per stage.
    output_dim : int
        Width of the linear output.
    se_ratio : int
        Squeeze-and-excitation reduction ratio.
    bn_momentum : float
        BatchNorm momentum (PyTorch convention).
    bn_eps : float
        BatchNorm epsilon.
    channels_last : bool
        Run the ResNet on channels-last (NHWC) feature maps and the stem convolution in
        polyphase form: the same function (up to float rounding), but oneDNN's convolution
        and pooling kernels are much faster that way on CPU (measured, see docs/encoder.md).

    Example
    -------
    >>> branch = STFTBranch(n_bins=129, channels=(4, 8), blocks_per_stage=1, output_dim=8)
    >>> branch(torch.rand(3, 61, 129)).shape
    torch.Size([3, 8])
    """

    def __init__(
        self,
        n_bins,
        channels=(16, 32, 64, 128),
        blocks_per_stage=2,
        output_dim=128,
        se_ratio=16,
        bn_momentum=0.01,
        bn_eps=1e-3,
        channels_last=True,
    ):
        super().__init__()
        _check_positive_int("STFTBranch", "n_bins", n_bins)
        _check_positive_int("STFTBranch", "blocks_per_stage", blocks_per_stage)
        _check_positive_int("STFTBranch", "output_dim", output_dim)
        channels = tuple(channels)
        if not channels:
            raise ValueError("STFTBranch: channels must name at least one stage width")
        for c in channels:
            _check_positive_int("STFTBranch", "channels entries", c)
        if n_bins < 7:
            raise ValueError(f"STFTBranch: n_bins must be >= 7 for the 7x7 stem, got {n_bins}")
        self.n_bins = n_bins
        self.channels_last = channels_last
        bn = {"eps": bn_eps, "momentum": bn_momentum}
        self.bin_norm = nn.BatchNorm1d(n_bins, **bn)
        self.stem_conv = nn.Conv2d(1, channels[0], 7, 2, padding=3, bias=False)
        self.stem = nn.Sequential(
            nn.BatchNorm2d(channels[0], **bn),
            # max-pooling before the ReLU is the same function (ReLU is monotonic) on 4x
            # fewer values
            nn.MaxPool2d(3, 2),
            nn.ReLU(inplace=True),
        )
        freq = (-(-n_bins // 2) - 3) // 2 + 1
        units = []
        in_channels = channels[0]
        for stage, width in enumerate(channels):
            for block in range(blocks_per_stage):
                downsample = stage > 0 and block == 0
                units.append(
                    ResidualUnit(
                        in_channels,
                        width,
                        stride=2 if downsample else 1,
                        pre_norm=not (stage == 0 and block == 0),
                        relu_before_bn=(stage == 0 and block == 1),
                        se_ratio=se_ratio,
                        **{"bn_momentum": bn_momentum, "bn_eps": bn_eps},
                    )
                )
                if downsample:
                    freq = -(-freq // 2)
                in_channels = width
        self.units = nn.Sequential(*units)
        self.flat_size = in_channels * freq
        self.flat_norm = nn.BatchNorm1d(self.flat_size, **bn)
        self.out = nn.Linear(self.flat_size, output_dim, bias=False)

    def forward(self, spec):
        """Embeds magnitude spectrograms.

        Arguments
        ---------
        spec : torch.Tensor
            ``[batch, frames, n_bins]`` (frames >= 13 so that the stem leaves one row).

        Returns
        -------
        torch.Tensor
            ``[batch, output_dim]``.
        """
        if spec.dim() != 3 or spec.shape[2] != self.n_bins:
            raise ValueError(
                f"STFTBranch: expected a spectrogram [batch, frames, {self.n_bins}], "
                f"got shape {tuple(spec.shape)}"
            )
        batch, frames, bins = spec.shape
        x = spec - spec.mean(dim=1, keepdim=True)
        # rows of [batch * frames, bins]: BatchNorm1d then normalises each bin, no transpose
        x = self.bin_norm(x.reshape(batch * frames, bins)).view(batch, frames, bins)
        if self.channels_last:
            x = _stem_conv_polyphase(x, self.stem_conv.weight)
        else:
            x = self.stem_conv(x.unsqueeze(1))
        x = self.units(self.stem(x))
        x = x.amax(dim=2)
        return self.out(self.flat_norm(x.flatten(1)))


class SSLASDEncoder(nn.Module):
    """The SSLASD two-branch encoder for fixed-length clips.

    ``forward(w) == torch.cat([spectrum_embedding(w), stft_embedding(stft(w))], dim=1)``; the
    pieces are exposed so that the training recipe can apply StatEx between :meth:`stft` and
    :meth:`stft_embedding`, and FeatEx on :meth:`branch_embeddings`.

    Clips must have exactly ``round(sample_rate * clip_seconds)`` samples (the data pipeline
    tiles and crops them, see :func:`speechbrain_asd.lobes.features.fixed_length`): the spectrum
    branch's flatten fixes the length, so any other length raises a ValueError naming both.

    With the defaults (the reference) the encoder has 2,683,634 trainable parameters
    (spectrum branch 1,711,104, STFT branch 972,530), 2,691,476 with the BatchNorm running
    statistics, in line with the reference's "about 2.7 M" (Keras also counts the running
    statistics as non-trainable parameters, and its summary adds the heads' centres).

    Arguments
    ---------
    sample_rate : int
        Sampling rate in Hz (only used with ``clip_seconds`` to get the clip length).
    clip_seconds : float
        Clip length in seconds (18 s in the reference: 288000 samples at 16 kHz).
    embedding_dim : int
        Output size; each branch gives ``embedding_dim // 2`` (must be even).
    spectrum_channels : int
        Filters of the spectrum branch's convolutions.
    spectrum_dense_layers : int
        Hidden [Linear - BN - ReLU] layers of the spectrum branch.
    resnet_channels : tuple of int
        Stage widths of the STFT branch's ResNet.
    blocks_per_stage : int
        Residual units per ResNet stage.
    n_fft : int
        STFT frame and FFT length in samples.
    hop_length : int
        STFT hop in samples.
    se_ratio : int
        Squeeze-and-excitation reduction ratio.
    bn_momentum : float
        BatchNorm momentum in PyTorch's convention (0.01 = Keras' default 0.99).
    bn_eps : float
        BatchNorm epsilon (Keras' default 1e-3).

    Example
    -------
    >>> enc = SSLASDEncoder(
    ...     clip_seconds=2.0, spectrum_channels=16, resnet_channels=(4, 8),
    ...     blocks_per_stage=1, n_fft=256, hop_length=128, embedding_dim=16,
    ... )
    >>> wavs = torch.randn(3, 32000)
    >>> enc(wavs).shape
    torch.Size([3, 16])
    >>> enc.stft(wavs).shape
    torch.Size([3, 249, 129])
    >>> _ = enc.eval()
    >>> torch.equal(enc(wavs), torch.cat(enc.branch_embeddings(wavs), dim=1))
    True
    """

    def __init__(
        self,
        sample_rate=16000,
        clip_seconds=18.0,
        embedding_dim=256,
        spectrum_channels=128,
        spectrum_dense_layers=4,
        resnet_channels=(16, 32, 64, 128),
        blocks_per_stage=2,
        n_fft=1024,
        hop_length=512,
        se_ratio=16,
        bn_momentum=0.01,
        bn_eps=1e-3,
    ):
        super().__init__()
        _check_positive_int("SSLASDEncoder", "sample_rate", sample_rate)
        _check_positive_int("SSLASDEncoder", "embedding_dim", embedding_dim)
        if embedding_dim % 2:
            raise ValueError(f"SSLASDEncoder: embedding_dim must be even, got {embedding_dim}")
        if not isinstance(clip_seconds, int | float) or not clip_seconds > 0:
            raise ValueError(f"SSLASDEncoder: clip_seconds must be > 0, got {clip_seconds!r}")
        self.sample_rate = sample_rate
        self.clip_seconds = float(clip_seconds)
        self.n_samples = int(round(sample_rate * clip_seconds))
        self.embedding_dim = embedding_dim
        self.spectrum = MagnitudeSpectrum()
        self.stft_transform = MagnitudeSTFT(n_fft, hop_length)
        self.n_frames = self.stft_transform.n_frames(self.n_samples)
        self.n_bins = n_fft // 2 + 1
        # the stem (7x7/2 then 3x3/2 pool) needs at least one output row
        if self.n_frames < 7:
            raise ValueError(
                f"SSLASDEncoder: clips of {self.n_samples} samples give {self.n_frames} STFT "
                f"frames with n_fft={n_fft}, hop_length={hop_length}; at least 7 are needed"
            )
        bn = {"bn_momentum": bn_momentum, "bn_eps": bn_eps, "se_ratio": se_ratio}
        self.spectrum_branch = SpectrumBranch(
            self.n_samples // 2,
            channels=spectrum_channels,
            dense_layers=spectrum_dense_layers,
            output_dim=embedding_dim // 2,
            **bn,
        )
        self.stft_branch = STFTBranch(
            self.n_bins,
            channels=resnet_channels,
            blocks_per_stage=blocks_per_stage,
            output_dim=embedding_dim // 2,
            **bn,
        )
        self.reset_parameters()

    def reset_parameters(self):
        """Glorot-uniform kernels (Keras' default, as in the reference), BatchNorm to identity.

        Example
        -------
        >>> SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128).reset_parameters()
        """
        for m in self.modules():
            if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()

    def _check_wavs(self, wavs):
        if not isinstance(wavs, torch.Tensor) or wavs.dim() != 2:
            shape = tuple(wavs.shape) if isinstance(wavs, torch.Tensor) else type(wavs).__name__
            raise ValueError(f"SSLASDEncoder: wavs must be a tensor [batch, time], got {shape}")
        if wavs.shape[1] != self.n_samples:
            raise ValueError(
                f"SSLASDEncoder: expected clips of {self.n_samples} samples "
                f"({self.clip_seconds:g} s at {self.sample_rate} Hz), got {wavs.shape[1]} "
                "samples; bring clips to the configured length first (features.fixed_length)"
            )

    def spectrum_embedding(self, wavs):
        """Branch 1: embedding of the full-clip magnitude spectrum.

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, n_samples]``.

        Returns
        -------
        torch.Tensor
            ``[batch, embedding_dim // 2]``.

        Example
        -------
        >>> enc = SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128, embedding_dim=8)
        >>> enc.spectrum_embedding(torch.randn(2, 16000)).shape
        torch.Size([2, 4])
        """
        self._check_wavs(wavs)
        return self.spectrum_branch(self.spectrum(wavs))

    def stft(self, wavs):
        """Magnitude STFT of the clips, the input of :meth:`stft_embedding` (and of StatEx).

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, n_samples]``.

        Returns
        -------
        torch.Tensor
            Float32 magnitudes ``[batch, frames, bins]`` (561 x 513 by default).

        Example
        -------
        >>> SSLASDEncoder().stft(torch.randn(1, 288000)).shape
        torch.Size([1, 561, 513])
        """
        self._check_wavs(wavs)
        return self.stft_transform(wavs)

    def stft_embedding(self, spec):
        """Branch 2: embedding of a magnitude STFT from :meth:`stft` (possibly StatEx-ed).

        Arguments
        ---------
        spec : torch.Tensor
            ``[batch, frames, bins]``.

        Returns
        -------
        torch.Tensor
            ``[batch, embedding_dim // 2]``.

        Example
        -------
        >>> enc = SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128, embedding_dim=8)
        >>> enc.stft_embedding(enc.stft(torch.randn(2, 16000))).shape
        torch.Size([2, 4])
        """
        if spec.dim() != 3 or tuple(spec.shape[1:]) != (self.n_frames, self.n_bins):
            raise ValueError(
                "SSLASDEncoder.stft_embedding: expected a spectrogram [batch, "
                f"{self.n_frames}, {self.n_bins}], got shape {tuple(spec.shape)}"
            )
        return self.stft_branch(spec)

    def branch_embeddings(self, wavs):
        """Both branch embeddings, for FeatEx.

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, n_samples]``.

        Returns
        -------
        tuple of torch.Tensor
            ``(emb_spectrum, emb_stft)``, each ``[batch, embedding_dim // 2]``.

        Example
        -------
        >>> enc = SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128, embedding_dim=8)
        >>> [e.shape[1] for e in enc.branch_embeddings(torch.randn(2, 16000))]
        [4, 4]
        """
        return self.spectrum_embedding(wavs), self.stft_embedding(self.stft(wavs))

    def forward(self, wavs, lengths=None):
        """Computes the embedding ``[emb_spectrum, emb_stft]``.

        Arguments
        ---------
        wavs : torch.Tensor
            Clips ``[batch, n_samples]``.
        lengths : torch.Tensor, optional
            SpeechBrain relative lengths; accepted for interface compatibility and ignored,
            because every clip is brought to the full fixed length (no padding).

        Returns
        -------
        torch.Tensor
            ``[batch, embedding_dim]``.

        Example
        -------
        >>> enc = SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128, embedding_dim=8)
        >>> enc(torch.randn(2, 16000), torch.ones(2)).shape
        torch.Size([2, 8])
        """
        return torch.cat(self.branch_embeddings(wavs), dim=1)

    def extra_repr(self):
        return (
            f"sample_rate={self.sample_rate}, clip_seconds={self.clip_seconds:g}, "
            f"n_samples={self.n_samples}, embedding_dim={self.embedding_dim}"
        )


def weight_decay_param_groups(module, weight_decay):
    """Optimiser parameter groups reproducing the reference's L2 regularisation.

    Conv / linear kernels get ``weight_decay``; everything else (BatchNorm scales and shifts,
    biases, the squeeze-and-excitation kernels, which the reference leaves unregularised, and
    sub-centre matrices) gets 0. Parameters with ``requires_grad=False`` (the frozen main
    head's centres) are left out. Note the convention: Keras' ``l2(1e-5)`` adds
    ``1e-5 * sum(w ** 2)`` to the loss, i.e. ``2e-5 * w`` to the gradient, which is
    ``weight_decay=2e-5`` for ``torch.optim.Adam`` (coupled L2, not AdamW).

    Arguments
    ---------
    module : torch.nn.Module
        The model (e.g. a ``torch.nn.ModuleDict`` of encoder and heads).
    weight_decay : float
        Decay for the kernels (>= 0).

    Returns
    -------
    list of dict
        ``[{"params": kernels, "weight_decay": weight_decay},
        {"params": rest, "weight_decay": 0.0}]``, empty groups left out.

    Example
    -------
    >>> enc = SSLASDEncoder(clip_seconds=1.0, n_fft=256, hop_length=128)
    >>> groups = weight_decay_param_groups(enc, 2e-5)
    >>> [g["weight_decay"] for g in groups]
    [2e-05, 0.0]
    >>> opt = torch.optim.Adam(groups, lr=1e-3)
    >>> sum(len(g["params"]) for g in groups) == len(list(enc.parameters()))
    True
    """
    if not isinstance(module, nn.Module):
        raise ValueError(
            f"weight_decay_param_groups: module must be a torch.nn.Module, got {type(module)}"
        )
    if not isinstance(weight_decay, int | float) or not math.isfinite(weight_decay) or (
        weight_decay < 0
    ):
        raise ValueError(
            f"weight_decay_param_groups: weight_decay must be a finite number >= 0, "
            f"got {weight_decay!r}"
        )
    excluded = set()
    for m in module.modules():
        if isinstance(m, SqueezeExcitation):
            excluded.update(id(p) for p in m.parameters())
    kernels = set()
    for m in module.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear) and id(m.weight) not in excluded:
            kernels.add(id(m.weight))
    decay, rest = [], []
    for p in module.parameters():  # deduplicated, in registration order
        if not p.requires_grad:
            continue
        (decay if id(p) in kernels else rest).append(p)
    if not decay and not rest:
        raise ValueError("weight_decay_param_groups: module has no trainable parameters")
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": float(weight_decay)})
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups
