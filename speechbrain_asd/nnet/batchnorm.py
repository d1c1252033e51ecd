"""Batch normalisation over the global batch of all DDP ranks, on any device.

PyTorch's ``SyncBatchNorm`` refuses CPU tensors, so a DDP run on CPUs would otherwise
normalise each rank's slice with its own statistics and differ from a single-process run.
:class:`GlobalBatchNorm` combines the ranks' per-channel means and variances (equal counts per
rank, see :mod:`speechbrain_asd.nnet.global_batch`) into the statistics of the whole batch,
differentiably, and updates the running statistics exactly as ``BatchNorm`` does on that
batch. Its state dict is that of ``torch.nn.BatchNorm{1,2,3}d``, so checkpoints move freely
between single-process and DDP runs.

Authors
 * speechbrain-asd developers 2026
"""

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from speechbrain_asd.nnet.global_batch import gather_batch, world


class GlobalBatchNorm(_BatchNorm):
    """``BatchNorm`` whose training statistics are those of the batch of all ranks.

    Input ``[batch, channels, *]`` (any number of trailing dims, as ``BatchNorm1d/2d/3d``);
    statistics per channel over the batch and trailing dims of every rank. The arithmetic runs
    in float32 and the output has the input's dtype. Without DDP (or in eval mode) it is
    ``torch.nn.functional.batch_norm``.

    Arguments
    ---------
    num_features : int
        Channels.
    eps : float
        Added to the variance.
    momentum : float or None
        Running-average momentum (PyTorch convention); None: cumulative average.
    affine : bool
        Learn a per-channel scale and shift.
    track_running_stats : bool
        Keep running statistics for eval mode.

    Example
    -------
    >>> norm = GlobalBatchNorm(3)
    >>> x = torch.randn(8, 3, 5)
    >>> torch.allclose(norm(x), torch.nn.BatchNorm1d(3)(x), atol=1e-6)
    True
    """

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm: expected [batch, channels, ...], got {x.dim()}-D")

    def forward(self, x):
        """Normalises ``x`` (see the class docstring)."""
        self._check_input_dim(x)
        _, world_size = world()
        if not self.training or world_size == 1:
            return super().forward(x)
        reduce_dims = [0, *range(2, x.dim())]
        xf = x.float()
        var, mean = torch.var_mean(xf, dim=reduce_dims, correction=0)
        stats = gather_batch(torch.stack([mean, var]).unsqueeze(0))  # [W, 2, C]
        means, variances = stats[:, 0], stats[:, 1]
        # equal counts per rank: the pooled variance is the mean within-rank variance plus the
        # variance of the rank means
        mean = means.mean(0)
        var = variances.mean(0) + (means - mean).square().mean(0)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), x.numel() // x.shape[1])
        shape = [1, -1] + [1] * (x.dim() - 2)
        out = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = torch.addcmul(self.bias.view(shape), out, self.weight.view(shape))
        return out.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean, var, n_local):
        self.num_batches_tracked.add_(1)
        if self.momentum is None:
            momentum = 1.0 / float(self.num_batches_tracked)
        else:
            momentum = self.momentum
        n = n_local * world()[1]
        unbiased = var * (n / max(n - 1, 1))
        self.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)


def convert_global_batchnorm(module):
    """Replaces every ``torch.nn.BatchNorm{1,2,3}d`` in ``module`` by :class:`GlobalBatchNorm`.

    The children are replaced in place (the top-level object stays the same, so references
    held elsewhere, such as a Checkpointer's, stay valid); parameters and buffers are moved
    over, not copied.

    Arguments
    ---------
    module : torch.nn.Module
        The model.

    Returns
    -------
    torch.nn.Module
        ``module`` (or a new GlobalBatchNorm when ``module`` itself is a BatchNorm).

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    >>> net = convert_global_batchnorm(net)
    >>> type(net[1]).__name__, list(net[1].state_dict())
    ('GlobalBatchNorm', ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'])
    """
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )
        if module.affine:
            converted.weight = module.weight
            converted.bias = module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        replaced = convert_global_batchnorm(child)
        if replaced is not child:
            module.add_module(name, replaced)
    return module
