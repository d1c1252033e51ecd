"""The SSLASD training system: encoder, self-supervised augmentations and sub-centre heads.

One module holds the whole augmented forward pass, so that DistributedDataParallel (which only
hooks ``forward``) sees every trainable parameter used in one call. Under DDP the batch given
to ``forward`` is this rank's slice of the global batch; the augmentations pair samples across
ranks (:mod:`speechbrain_asd.nnet.global_batch`). Its ``forward`` reads like
the reference's graph::

    waveform --Mixup--> spectrum branch ---------------------------\\
                 \\----> STFT --StatEx--> STFT branch --concat--> main head (C classes)
                                                 \\--FeatEx--> FeatEx head (9C classes)

Authors
 * speechbrain-asd developers 2026
"""

import torch

from speechbrain_asd.lobes.augment import FeatEx, Mixup, StatEx
from speechbrain_asd.nnet.global_batch import check_equal_slices


class SSLASDSystem(torch.nn.Module):
    """SSLASD encoder + augmentations + heads.

    Arguments
    ---------
    encoder : speechbrain_asd.lobes.sslasd.SSLASDEncoder
        The two-branch encoder.
    heads : speechbrain_asd.lobes.heads.SSLASDHeads
        The sub-centre heads.
    mixup : Mixup, optional
        Waveform mixup (default ``Mixup(0.5)``).
    statex : StatEx, optional
        Statistics exchange on the magnitude STFT (default ``StatEx(0.5)``).
    featex : FeatEx, optional
        Feature exchange between the branch embeddings (default ``FeatEx(0.5)``).

    Example
    -------
    >>> from speechbrain_asd.lobes.sslasd import SSLASDEncoder
    >>> from speechbrain_asd.lobes.heads import SSLASDHeads
    >>> encoder = SSLASDEncoder(clip_seconds=1.0, spectrum_channels=8, resnet_channels=(4,),
    ...     blocks_per_stage=1, n_fft=256, hop_length=128, embedding_dim=8)
    >>> system = SSLASDSystem(encoder, SSLASDHeads(8, n_classes=3, n_subcenters=2))
    >>> out = system(torch.randn(4, 16000), torch.eye(3)[[0, 1, 2, 0]])
    >>> out["cosines"]["featex"].shape, out["targets"]["featex"].shape
    (torch.Size([4, 27, 2]), torch.Size([4, 27]))
    >>> system.embed(torch.randn(2, 16000)).shape
    torch.Size([2, 8])
    """

    def __init__(self, encoder, heads, mixup=None, statex=None, featex=None):
        super().__init__()
        self.encoder = encoder
        self.heads = heads
        self.mixup = mixup if mixup is not None else Mixup(0.5)
        self.statex = statex if statex is not None else StatEx(0.5)
        self.featex = featex if featex is not None else FeatEx(0.5)

    def forward(self, wavs, targets, generator=None):
        """The augmented forward pass of training (identity augmentations in eval mode).

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` fixed-length clips (under DDP: this rank's slice; every rank
            holds the same number).
        targets : torch.Tensor
            ``[batch, C]`` one-hot (or soft) labels.
        generator : torch.Generator, optional
            Source of the augmentations' random draws (seeded alike on every rank).

        Returns
        -------
        dict
            ``cosines``: head name -> ``[batch, classes, subcenters]``; ``targets``: head
            name -> the soft labels that go with it (see :mod:`speechbrain_asd.lobes.heads`);
            ``embedding``: ``[batch, embedding_dim]`` (un-exchanged).
        """
        if self.training:
            check_equal_slices(wavs.shape[0], wavs.device)  # DDP: partners on other ranks
        wavs, targets_mixup = self.mixup(wavs, targets, generator=generator)
        emb_spectrum = self.encoder.spectrum_embedding(wavs)
        spec, targets3 = self.statex(self.encoder.stft(wavs), targets_mixup, generator=generator)
        emb_stft = self.encoder.stft_embedding(spec)
        embedding = torch.cat([emb_spectrum, emb_stft], dim=1)
        emb_featex, targets9 = self.featex(emb_spectrum, emb_stft, targets3, generator=generator)
        cosines = self.heads(embedding, emb_featex)
        labels = {"targets_mixup": targets_mixup, "targets3": targets3, "targets9": targets9}
        return {
            "cosines": cosines,
            "targets": {name: labels[self.heads.TARGETS[name]] for name in cosines},
            "embedding": embedding,
        }

    def embed(self, wavs):
        """Embeddings for the back end, ``[batch, embedding_dim]`` (no augmentation)."""
        return self.encoder(wavs)

    @torch.no_grad()
    def own_class_cosines(self, wavs, labels):
        """Cosines between each clip and the sub-centres of its own class, per head.

        This is the measurement of F_T at the AASRL switch (eq. 11): without augmentation,
        FeatEx keeps every sample (block 0 of the 9C labels), so the own class of the FeatEx
        head is the base class itself.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` clips.
        labels : torch.Tensor
            ``[batch]`` int64 base classes.

        Returns
        -------
        dict
            Head name -> ``[batch, subcenters]`` cosines.
        """
        embedding = self.encoder(wavs)
        cosines = self.heads(embedding, embedding)
        rows = torch.arange(labels.shape[0], device=labels.device)
        return {name: cos[rows, labels].float() for name, cos in cosines.items()}
