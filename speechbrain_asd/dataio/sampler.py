"""Training batches that are the same for one process and for any number of DDP ranks.

SSLASD's augmentations pair samples inside a batch and its BatchNorm uses batch statistics, so
a DDP run equals a single-process run only if the ranks together hold exactly the batches the
single process would hold. :class:`GlobalBatchSampler` cuts one seeded permutation per epoch
into global batches of ``batch_size`` and gives rank ``r`` of ``W`` the contiguous slice
``r * b .. (r + 1) * b - 1`` (``b = batch_size / W``) of each, the layout
:mod:`speechbrain_asd.nnet.global_batch` expects.

Every batch is full: the last one of an epoch is completed with the first clips of the same
epoch's permutation (as ``DistributedSampler`` pads), so all ranks always hold ``b`` samples,
no BatchNorm ever sees a batch of one, and each clip is seen at least once per epoch.

Authors
 * speechbrain-asd developers 2026
"""

import math

import torch
from torch.utils.data import Sampler


class GlobalBatchSampler(Sampler):
    """Batch sampler of global batches, sliced per DDP rank; reproducible per (seed, epoch).

    Arguments
    ---------
    n_samples : int
        Size of the data set.
    batch_size : int
        The global batch size ``B`` (all ranks together).
    seed : int
        Seed of the permutations (epoch ``e`` uses ``seed + e``).
    rank : int
        This process's rank.
    world_size : int
        Number of DDP processes; must divide ``batch_size``.
    shuffle : bool
        Permute the data every epoch (False: data-set order).

    Example
    -------
    >>> full = GlobalBatchSampler(10, batch_size=4, seed=0)
    >>> batches = list(full)
    >>> len(batches), [len(b) for b in batches]
    (3, [4, 4, 4])
    >>> sorted(set(i for b in batches for i in b)) == list(range(10))  # every clip
    True
    >>> halves = [list(GlobalBatchSampler(10, 4, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    >>> [h0 + h1 for h0, h1 in zip(*halves)] == batches  # the ranks hold the same batches
    True
    """

    def __init__(self, n_samples, batch_size, seed=0, rank=0, world_size=1, shuffle=True):
        for name, value in (("n_samples", n_samples), ("batch_size", batch_size),
                            ("world_size", world_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GlobalBatchSampler: {name} must be a positive int, got "
                                 f"{value!r}")
        if batch_size % world_size:
            raise ValueError(
                f"batch_size {batch_size} is the global batch of all {world_size} processes "
                "and must be a multiple of their number"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"GlobalBatchSampler: rank {rank} outside 0..{world_size - 1}")
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch):
        """Selects the permutation of ``epoch`` (SpeechBrain calls it every epoch)."""
        self.epoch = int(epoch)

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n_samples, generator=generator)
        else:
            order = torch.arange(self.n_samples)
        total = len(self) * self.batch_size
        order = order.repeat(math.ceil(total / self.n_samples))[:total]
        per_rank = self.batch_size // self.world_size
        start = self.rank * per_rank
        for batch in order.view(len(self), self.batch_size):
            yield batch[start:start + per_rank].tolist()
