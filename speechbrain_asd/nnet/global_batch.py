"""One training batch split over DDP ranks, seen as the single batch it stands for.

SSLASD pairs every sample with a partner of the same batch (sample ``i`` with ``B - 1 - i``,
see :mod:`speechbrain_asd.lobes.augment`) and normalises with batch statistics. Under DDP each
rank holds a contiguous slice of ``b = B / W`` samples of the global batch (rank ``r`` holds
positions ``r * b .. (r + 1) * b - 1``, as :class:`~speechbrain_asd.dataio.sampler.
GlobalBatchSampler` deals them out), so these operations need the other ranks' samples. The
functions here give every rank what a single process holding the whole batch would compute,
differentiably: :func:`gather_batch` (all-gather whose backward sums the gradients of all ranks
and keeps this rank's slice), :func:`partner_of` and :func:`uniform_draws`. Without an
initialised process group, or with one rank, they are the plain single-process operations.

Why the gradients come out right: rank ``r``'s loss is the mean over its ``b`` samples and DDP
averages the ranks' gradients, so the update is that of the global mean, provided every
cross-rank path returns its gradient to the rank that owns the sample: the backward of
:func:`gather_batch` does exactly that with one ``all_reduce``.

Authors
 * speechbrain-asd developers 2026
"""

import torch
import torch.distributed as dist


def world():
    """``(rank, world_size)`` of the default process group; ``(0, 1)`` without one.

    Returns
    -------
    tuple of int

    Example
    -------
    >>> world()
    (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_gather(local):
    _, world_size = world()
    local = local.contiguous()
    parts = [torch.empty_like(local) for _ in range(world_size)]
    dist.all_gather(parts, local)
    return torch.cat(parts)


class _GatherBatch(torch.autograd.Function):
    """All-gather along dim 0; the backward sums every rank's gradient and keeps this slice."""

    @staticmethod
    def forward(ctx, local):
        rank, _ = world()
        ctx.rows = (rank * local.shape[0], (rank + 1) * local.shape[0])
        return _all_gather(local)

    @staticmethod
    def backward(ctx, grad):
        # Every rank's loss may depend on this rank's samples: the sum over ranks of their
        # gradients is the gradient of the sum of the losses (DDP then divides by W).
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start, stop = ctx.rows
        return grad[start:stop]


def _check_batch(name, tensor):
    if not isinstance(tensor, torch.Tensor) or tensor.dim() < 1:
        raise ValueError(f"{name}: expected a tensor [batch, ...], got {type(tensor).__name__}")


def gather_batch(local):
    """The global batch ``[W * b, ...]`` from every rank's ``[b, ...]`` slice, in rank order.

    Differentiable: gradients that reach another rank's copy of this rank's samples come back
    in the backward pass. Every rank must call it with the same ``b`` and in the same order
    (:func:`check_equal_slices` verifies the first once per batch).

    Arguments
    ---------
    local : torch.Tensor
        ``[b, ...]`` this rank's slice.

    Returns
    -------
    torch.Tensor
        ``[W * b, ...]``; ``local`` itself without DDP.

    Example
    -------
    >>> x = torch.arange(3.0)
    >>> gather_batch(x) is x  # one process: the batch is already global
    True
    """
    _check_batch("gather_batch", local)
    _, world_size = world()
    if world_size == 1:
        return local
    if local.requires_grad:
        return _GatherBatch.apply(local)
    return _all_gather(local)


def gather_uneven(local):
    """All ranks' rows ``[sum of n_r, ...]`` in rank order, when ranks may hold different
    numbers ``n_r`` of rows (no gradient; for statistics such as the AdaCos scale's).

    Arguments
    ---------
    local : torch.Tensor
        ``[n_r, ...]`` this rank's rows.

    Returns
    -------
    torch.Tensor
        ``local`` itself without DDP.

    Example
    -------
    >>> x = torch.zeros(2, 3)
    >>> gather_uneven(x) is x
    True
    """
    _check_batch("gather_uneven", local)
    _, world_size = world()
    if world_size == 1:
        return local
    local = local.detach()
    size = torch.tensor([local.shape[0]], device=local.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    sizes = [int(n.item()) for n in sizes]
    # all_gather needs equal shapes: pad to the largest and cut the padding off again
    padded = local.new_zeros((max(sizes), *local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


def check_equal_slices(n_local, device="cpu"):
    """Raises unless every rank holds ``n_local`` samples (one small collective).

    Arguments
    ---------
    n_local : int
        ``b``, this rank's number of samples.
    device : torch.device or str
        A device the process group's backend can use (the batch's).

    Returns
    -------
    int
        The global batch size ``W * b``.

    Example
    -------
    >>> check_equal_slices(5)
    5
    """
    _, world_size = world()
    if world_size == 1:
        return n_local
    mine = torch.tensor([n_local], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(mine) for _ in range(world_size)]
    dist.all_gather(sizes, mine)
    sizes = [int(size.item()) for size in sizes]
    if len(set(sizes)) != 1:
        raise RuntimeError(
            f"the ranks hold batches of {sizes} samples: every rank must hold batch_size / "
            "world_size samples of the global batch (use dataio.sampler.GlobalBatchSampler)"
        )
    return n_local * world_size


def local_slice(n_local):
    """The rows of this rank's samples in the global batch.

    Arguments
    ---------
    n_local : int
        ``b``, the samples per rank.

    Returns
    -------
    slice

    Example
    -------
    >>> local_slice(4)
    slice(0, 4, None)
    """
    rank, _ = world()
    return slice(rank * n_local, (rank + 1) * n_local)


def partner_of(local):
    """Each sample's partner ``B - 1 - i`` in the global batch (the reversed batch).

    Arguments
    ---------
    local : torch.Tensor
        ``[b, ...]`` this rank's slice.

    Returns
    -------
    torch.Tensor
        ``[b, ...]``: row ``m`` holds the partner of this rank's sample ``m``; without DDP,
        ``local.flip(0)``.

    Example
    -------
    >>> partner_of(torch.tensor([1, 2, 3]))
    tensor([3, 2, 1])
    """
    _check_batch("partner_of", local)
    _, world_size = world()
    if world_size == 1:
        return local.flip(0)
    return gather_batch(local).flip(0)[local_slice(local.shape[0])]


def uniform_draws(n_local, device, generator=None):
    """``U(0, 1)`` draws of this rank's samples: those of a single process with the global batch.

    Every rank draws the whole batch's ``W * b`` numbers from its copy of the (identically
    seeded) generator and keeps its slice, so the generators stay in step and the draws do not
    depend on the number of ranks.

    Arguments
    ---------
    n_local : int
        ``b``, the samples per rank.
    device : torch.device or str
        Where to draw.
    generator : torch.Generator, optional
        Source of randomness; default the global generator.

    Returns
    -------
    torch.Tensor
        ``[b]`` float32.

    Example
    -------
    >>> a = uniform_draws(3, "cpu", torch.Generator().manual_seed(0))
    >>> torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(0)))
    True
    """
    _, world_size = world()
    draws = torch.rand(n_local * world_size, device=device, generator=generator)
    return draws[local_slice(n_local)]
