"""SSLASD's augmentations with their soft-label algebra: Mixup, StatEx and FeatEx.

Each module takes a batch and its soft labels and returns the augmented batch and new soft
labels, as the SSLASD reference (wilkinghoff/ssl4asd: ``mixup_layer.py``,
``statex_aug_layer_classwise.py``, ``openl3_idea_aug_layer_classwise.py``) does. The partner of
sample ``i`` is sample ``B - 1 - i`` (the batch reversed); with an odd batch the middle sample
is its own partner. Under DDP, ``B`` is the global batch of all ranks: partners and random
draws are those of a single process holding it (:mod:`speechbrain_asd.nnet.global_batch`).
In eval mode (``module.eval()``) the data pass unchanged and the labels only get the eval-mode
block layout.

Label contract (relied on by the AASRL loss): a multi-block label vector is a concatenation of
C-sized blocks, so column ``j`` belongs to base class ``j % C``, and each block's weight on a
base class came either from sample ``i`` or from its partner ``B - 1 - i``:

* Mixup: ``[B, C]`` -> ``[B, C]``.
* StatEx: ``y [B, C]`` -> ``targets3 [B, 3C]``: kept ``[y_i, 0, 0]``, exchanged
  ``[0, y_i / 2, y_partner / 2]``.
* FeatEx: ``targets3 [B, 3C]`` -> ``targets9 [B, 9C]``: kept ``[t3_i, 0, 0]``, exchanged
  ``[0, t3_i / 2, t3_partner / 2]`` (blocks of 3C, each made of three C-blocks).

Randomness: every draw uses ``torch.rand`` on the batch's device, from the global generator
(which the recipe seeds and checkpoints) or from the ``generator`` given to ``forward``.
Draw order per call: Mixup draws lambda then the decisions; StatEx and FeatEx draw the
decisions only.

Authors
 * speechbrain-asd developers 2026
"""

import torch

from speechbrain_asd.nnet.global_batch import partner_of, uniform_draws


def _check_prob(owner, prob):
    if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0.0 <= prob <= 1.0:
        raise ValueError(f"{owner}: prob must be a number in [0, 1], got {prob!r}")
    return float(prob)


def _check_targets(owner, name, targets, batch):
    if not isinstance(targets, torch.Tensor) or targets.dim() != 2:
        shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets)
        raise ValueError(f"{owner}: {name} must be soft labels [batch, classes], got {shape}")
    if not targets.is_floating_point():
        raise ValueError(
            f"{owner}: {name} must be floating-point soft labels, got dtype {targets.dtype}"
        )
    if targets.shape[0] != batch:
        raise ValueError(
            f"{owner}: {name} has {targets.shape[0]} rows but the batch has {batch} samples"
        )


def exchange_labels(targets, exchanged):
    """Block label algebra shared by StatEx and FeatEx.

    Arguments
    ---------
    targets : torch.Tensor
        Soft labels ``[batch, K]``.
    exchanged : torch.Tensor
        Bool ``[batch]``: which samples were exchanged with their partner ``B - 1 - i``.

    Returns
    -------
    torch.Tensor
        ``[batch, 3K]``: ``[y_i, 0, 0]`` where kept, ``[0, y_i / 2, y_partner / 2]`` where
        exchanged.

    Example
    -------
    >>> y = torch.eye(2)
    >>> exchange_labels(y, torch.tensor([True, False]))
    tensor([[0.0000, 0.0000, 0.5000, 0.0000, 0.0000, 0.5000],
            [0.0000, 1.0000, 0.0000, 0.0000, 0.0000, 0.0000]])
    """
    zeros = torch.zeros_like(targets)
    kept = torch.cat([targets, zeros, zeros], dim=1)
    swapped = torch.cat([zeros, 0.5 * targets, 0.5 * partner_of(targets)], dim=1)
    return torch.where(exchanged.unsqueeze(1), swapped, kept)


def eval_labels(targets):
    """The eval-mode layout ``[y, 0, 0]`` of StatEx and FeatEx (block 0 only).

    Arguments
    ---------
    targets : torch.Tensor
        Soft labels ``[batch, K]``.

    Returns
    -------
    torch.Tensor
        ``[batch, 3K]``.

    Example
    -------
    >>> eval_labels(torch.tensor([[0.25, 0.75]]))
    tensor([[0.2500, 0.7500, 0.0000, 0.0000, 0.0000, 0.0000]])
    """
    zeros = torch.zeros_like(targets)
    return torch.cat([targets, zeros, zeros], dim=1)


class Mixup(torch.nn.Module):
    """Mixup of waveforms with the reversed batch (active in training mode only).

    Per sample, with probability ``prob``: ``lambda ~ U(0, 1)``,
    ``x_i <- lambda x_i + (1 - lambda) x_partner`` and the same for the labels; otherwise the
    sample is unchanged. Labels keep the shape ``[B, C]``.

    Arguments
    ---------
    prob : float
        Probability that a sample is mixed (0.5 in the reference).

    Example
    -------
    >>> mixup = Mixup(prob=1.0)
    >>> wavs, y = torch.tensor([[1.0, 1.0], [0.0, 0.0]]), torch.eye(2)
    >>> out, y_out = mixup(wavs, y, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(out[:, 0], y_out[:, 0])  # label weight of class 0 == share of sample 0
    True
    >>> torch.allclose(y_out.sum(1), torch.ones(2))
    True
    >>> _ = mixup.eval()
    >>> mixup(wavs, y)[0] is wavs
    True
    """

    def __init__(self, prob=0.5):
        super().__init__()
        self.prob = _check_prob("Mixup", prob)

    def forward(self, wavs, targets, generator=None):
        """Mixes each selected sample with its partner ``B - 1 - i``.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, time]`` (any ``[batch, ...]`` shape works).
        targets : torch.Tensor
            Soft labels ``[batch, C]``.
        generator : torch.Generator, optional
            Source of randomness on the batch's device; default the global generator.

        Returns
        -------
        tuple of torch.Tensor
            ``(wavs, targets)`` with the input shapes.
        """
        if not isinstance(wavs, torch.Tensor) or wavs.dim() < 1:
            raise ValueError("Mixup: wavs must be a tensor [batch, ...]")
        _check_targets("Mixup", "targets", targets, wavs.shape[0])
        if not self.training:
            return wavs, targets
        batch = wavs.shape[0]
        lam = uniform_draws(batch, wavs.device, generator)
        mixed = uniform_draws(batch, wavs.device, generator) < self.prob
        lam_x = lam.to(wavs.dtype).view(batch, *([1] * (wavs.dim() - 1)))
        lam_y = lam.to(targets.dtype).unsqueeze(1)
        # lerp(partner, self, lam) = lam * self + (1 - lam) * partner
        mixed_wavs = torch.lerp(partner_of(wavs), wavs, lam_x)
        mixed_targets = torch.lerp(partner_of(targets), targets, lam_y)
        out = torch.where(mixed.view_as(lam_x), mixed_wavs, wavs)
        y = torch.where(mixed.unsqueeze(1), mixed_targets, targets)
        return out, y

    def extra_repr(self):
        return f"prob={self.prob}"


class StatEx(torch.nn.Module):
    """Temporal statistics exchange on magnitude spectrograms (active in training mode only).

    Per sample, with probability ``prob``, every time frame is normalised by its own mean and
    standard deviation over frequency and re-scaled with the partner's per-frame standard
    deviation and mean (population std, ``1e-16`` added to the std, as in the reference):
    ``x'[t] = (x[t] - m_i[t]) / (s_i[t] + 1e-16) * s_p[t] + m_p[t]``. The reference also
    contains a frequency-wise variant that its random switch never selects; it is left out.

    The reference's ``prob`` is the probability to *keep* a sample; here it is the probability
    to *exchange* (the same at the reference's value 0.5).

    Labels ``y [B, C]`` become ``targets3 [B, 3C]``: kept ``[y_i, 0, 0]``, exchanged
    ``[0, y_i / 2, y_partner / 2]``; eval mode ``[y, 0, 0]``.

    Arguments
    ---------
    prob : float
        Probability that a sample is exchanged (0.5 in the reference).

    Example
    -------
    >>> statex = StatEx(prob=1.0)
    >>> spec = torch.rand(2, 5, 8)
    >>> out, y3 = statex(spec, torch.eye(2))
    >>> y3
    tensor([[0.0000, 0.0000, 0.5000, 0.0000, 0.0000, 0.5000],
            [0.0000, 0.0000, 0.0000, 0.5000, 0.5000, 0.0000]])
    >>> torch.allclose(out[0].mean(-1), spec[1].mean(-1), atol=1e-5)  # partner's frame means
    True
    """

    def __init__(self, prob=0.5):
        super().__init__()
        self.prob = _check_prob("StatEx", prob)

    def forward(self, spec, targets, generator=None):
        """Exchanges the per-frame statistics of the selected samples with their partners.

        Arguments
        ---------
        spec : torch.Tensor
            Magnitude spectrograms ``[batch, frames, bins]``.
        targets : torch.Tensor
            Soft labels ``[batch, C]`` (after Mixup).
        generator : torch.Generator, optional
            Source of randomness on the batch's device; default the global generator.

        Returns
        -------
        tuple of torch.Tensor
            ``(spec [batch, frames, bins], targets3 [batch, 3C])``.
        """
        if not isinstance(spec, torch.Tensor) or spec.dim() != 3:
            shape = tuple(spec.shape) if isinstance(spec, torch.Tensor) else type(spec)
            raise ValueError(f"StatEx: spec must be [batch, frames, bins], got {shape}")
        _check_targets("StatEx", "targets", targets, spec.shape[0])
        if not self.training:
            return spec, eval_labels(targets)
        batch = spec.shape[0]
        exchanged = uniform_draws(batch, spec.device, generator) < self.prob
        std, mean = torch.std_mean(spec, dim=2, keepdim=True, correction=0)
        partner_std, partner_mean = partner_of(torch.cat([std, mean], dim=2)).split(1, dim=2)
        keep = ~exchanged.view(batch, 1, 1)
        # kept samples get centre 0, scale 1, new mean 0, i.e. pass unchanged; centring before
        # scaling (not x * scale + shift) avoids cancellation when the own std is tiny
        centre = mean.masked_fill(keep, 0.0)
        scale = (partner_std / (std + 1e-16)).masked_fill(keep, 1.0)
        new_mean = partner_mean.masked_fill(keep, 0.0)
        out = torch.addcmul(new_mean, spec - centre, scale)
        return out, exchange_labels(targets, exchanged)

    def extra_repr(self):
        return f"prob={self.prob}"


class FeatEx(torch.nn.Module):
    """Feature exchange between the two branch embeddings (active in training mode only).

    Per sample, with probability ``prob``, the sample becomes
    ``(emb_spectrum_i, emb_stft_partner)``; otherwise it keeps ``(emb_spectrum_i, emb_stft_i)``.
    (The reference exchanges its "mel" (STFT) embedding and keeps the FFT one.) Output
    embedding ``[emb_spectrum, emb_stft]``, as :class:`SSLASDEncoder` concatenates them.

    Labels ``targets3 [B, 3C]`` become ``targets9 [B, 9C]``: kept ``[t3_i, 0, 0]``, exchanged
    ``[0, t3_i / 2, t3_partner / 2]`` with blocks of 3C; eval mode ``[t3, 0, 0]``. As for
    StatEx, ``prob`` is the probability to exchange (the reference's is to keep; both 0.5).

    Arguments
    ---------
    prob : float
        Probability that a sample's STFT embedding is exchanged (0.5 in the reference).

    Example
    -------
    >>> featex = FeatEx(prob=1.0)
    >>> e1, e2 = torch.tensor([[1.0], [2.0]]), torch.tensor([[10.0], [20.0]])
    >>> emb, y9 = featex(e1, e2, torch.eye(2).repeat(1, 3) / 3)
    >>> emb
    tensor([[ 1., 20.],
            [ 2., 10.]])
    >>> y9.shape
    torch.Size([2, 18])
    """

    def __init__(self, prob=0.5):
        super().__init__()
        self.prob = _check_prob("FeatEx", prob)

    def forward(self, emb_spectrum, emb_stft, targets3, generator=None):
        """Exchanges the STFT-branch embedding of the selected samples with their partners'.

        Arguments
        ---------
        emb_spectrum : torch.Tensor
            Spectrum-branch embeddings ``[batch, E1]``.
        emb_stft : torch.Tensor
            STFT-branch embeddings ``[batch, E2]``.
        targets3 : torch.Tensor
            StatEx labels ``[batch, 3C]``.
        generator : torch.Generator, optional
            Source of randomness on the batch's device; default the global generator.

        Returns
        -------
        tuple of torch.Tensor
            ``(emb [batch, E1 + E2], targets9 [batch, 3 * targets3.shape[1]])``.
        """
        for name, emb in (("emb_spectrum", emb_spectrum), ("emb_stft", emb_stft)):
            if not isinstance(emb, torch.Tensor) or emb.dim() != 2:
                shape = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(emb)
                raise ValueError(f"FeatEx: {name} must be [batch, dim], got {shape}")
        batch = emb_spectrum.shape[0]
        if emb_stft.shape[0] != batch:
            raise ValueError(
                f"FeatEx: emb_spectrum has {batch} rows but emb_stft has {emb_stft.shape[0]}"
            )
        _check_targets("FeatEx", "targets3", targets3, batch)
        if not self.training:
            return torch.cat([emb_spectrum, emb_stft], dim=1), eval_labels(targets3)
        exchanged = uniform_draws(batch, emb_stft.device, generator) < self.prob
        stft_part = torch.where(exchanged.unsqueeze(1), partner_of(emb_stft), emb_stft)
        emb = torch.cat([emb_spectrum, stft_part], dim=1)
        return emb, exchange_labels(targets3, exchanged)

    def extra_repr(self):
        return f"prob={self.prob}"
