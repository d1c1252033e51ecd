"""Sub-centre masks in the sparse form the losses use.

An AASRL mask ``[batch, classes, subcenters]`` switches sub-centres off only in the few rows of a
sample's own class(es). The losses and the adaptive scale therefore work on the complete tensors
without a mask and redo the reduction for those rows alone: :class:`MaskedRows` lists them.

Authors
 * speechbrain-asd developers 2026
"""

from typing import NamedTuple

import torch


class MaskedRows(NamedTuple):
    """A sub-centre mask given by its rows that may switch something off.

    Every (sample, class) row not listed is all True. The AASRL functions return this form with
    ``sparse=True``, which saves building and scanning ``[batch, classes, subcenters]`` tensors.

    Attributes
    ----------
    batch_index : torch.Tensor
        ``[pairs]`` int64 sample of each row.
    class_index : torch.Tensor
        ``[pairs]`` int64 class of each row.
    rows : torch.Tensor
        ``[pairs, subcenters]`` bool mask of each row.
    """

    batch_index: torch.Tensor
    class_index: torch.Tensor
    rows: torch.Tensor

    def batch_rows(self, samples):
        """The rows of the samples ``samples.start .. samples.stop - 1``, renumbered from 0.

        Arguments
        ---------
        samples : slice
            A contiguous range of samples (step 1), e.g. one DDP rank's slice.

        Returns
        -------
        MaskedRows

        Example
        -------
        >>> rows = MaskedRows(torch.tensor([0, 2, 3]), torch.tensor([1, 1, 0]),
        ...                   torch.tensor([[True, False], [False, True], [True, True]]))
        >>> part = rows.batch_rows(slice(2, 4))
        >>> part.batch_index.tolist(), part.class_index.tolist()
        ([0, 1], [1, 0])
        """
        if samples.step not in (None, 1) or samples.start is None or samples.stop is None:
            raise ValueError(f"batch_rows: expected a slice start:stop, got {samples}")
        keep = (self.batch_index >= samples.start) & (self.batch_index < samples.stop)
        return MaskedRows(
            self.batch_index[keep] - samples.start, self.class_index[keep], self.rows[keep]
        )


def _check_rows(rows, shape):
    """Validates a :class:`MaskedRows` against ``[batch, classes, subcenters]``."""
    batch, n_classes, n_subcenters = shape
    pairs = rows.batch_index.numel()
    if (
        rows.rows.dtype != torch.bool
        or tuple(rows.rows.shape) != (pairs, n_subcenters)
        or rows.class_index.numel() != pairs
    ):
        raise ValueError(
            f"subcenter_mask: MaskedRows must hold [pairs] indices and [pairs, {n_subcenters}] "
            f"bool rows, got rows of {rows.rows.dtype} {tuple(rows.rows.shape)}"
        )
    if pairs:
        bounds = torch.stack([*torch.aminmax(rows.batch_index), *torch.aminmax(rows.class_index)])
        b_min, b_max, c_min, c_max = bounds.tolist()  # one synchronisation for four bounds
    if pairs and (b_min < 0 or b_max >= batch or c_min < 0 or c_max >= n_classes):
        raise ValueError(
            f"subcenter_mask: MaskedRows indices out of range for shape {tuple(shape)}"
        )
    return rows


def masked_rows(mask, shape):
    """Validates a sub-centre mask and returns its rows that switch something off.

    Arguments
    ---------
    mask : torch.Tensor or MaskedRows
        ``[batch, classes, subcenters]`` bool; True where the sub-centre takes part (or an
        already sparse mask, which is only validated).
    shape : tuple
        The expected shape (that of the cosines).

    Returns
    -------
    MaskedRows
        The rows with at least one False.

    Example
    -------
    >>> mask = torch.ones(2, 3, 4, dtype=torch.bool)
    >>> mask[1, 2, 0] = False
    >>> rows = masked_rows(mask, (2, 3, 4))
    >>> rows.batch_index.tolist(), rows.class_index.tolist(), rows.rows.tolist()
    ([1], [2], [[False, True, True, True]])
    """
    if isinstance(mask, MaskedRows):
        rows = _check_rows(mask, shape)
        batch_index, class_index = rows.batch_index, rows.class_index
        rows = rows.rows
    elif not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(
            f"subcenter_mask: expected a bool tensor of shape {tuple(shape)} "
            f"[batch, classes, subcenters], got {getattr(mask, 'dtype', type(mask).__name__)}"
        )
    elif tuple(mask.shape) != tuple(shape):
        raise ValueError(
            f"subcenter_mask: expected a bool tensor of shape {tuple(shape)} "
            f"[batch, classes, subcenters], got shape {tuple(mask.shape)}"
        )
    else:
        batch_index, class_index = (~mask).any(dim=2).nonzero(as_tuple=True)
        rows = mask[batch_index, class_index]
    empty = ~rows.any(dim=1)
    if empty.any():
        first = int(empty.nonzero()[0])
        raise ValueError(
            f"subcenter_mask leaves class {int(class_index[first])} without any sub-centre for "
            f"sample {int(batch_index[first])}: every class needs at least one participating "
            "sub-centre"
        )
    return MaskedRows(batch_index, class_index, rows)


def reduce_subcenters(values, reduce, rows=None):
    """Reduces ``values`` over the sub-centre axis, leaving out the masked sub-centres.

    Arguments
    ---------
    values : torch.Tensor
        ``[batch, classes, subcenters]``.
    reduce : callable
        ``torch.logsumexp`` or ``torch.amax`` (called with ``dim=``); masked entries are
        replaced by -inf, which both ignore.
    rows : MaskedRows, optional
        The masked rows; None: nothing is masked.

    Returns
    -------
    torch.Tensor
        ``[batch, classes]``.

    Example
    -------
    >>> values = torch.tensor([[[1.0, 5.0]]])
    >>> rows = masked_rows(torch.tensor([[[True, False]]]), (1, 1, 2))
    >>> reduce_subcenters(values, torch.amax, rows)
    tensor([[1.]])
    """
    if rows is not None and rows.batch_index.numel() and reduce is torch.logsumexp:
        return _MaskedLogSumExp.apply(values, rows.batch_index, rows.class_index, rows.rows)
    reduced = reduce(values, dim=2)
    if rows is None or rows.batch_index.numel() == 0:
        return reduced
    selected = values[rows.batch_index, rows.class_index].masked_fill(~rows.rows, float("-inf"))
    return reduced.index_put((rows.batch_index, rows.class_index), reduce(selected, dim=1))


class _MaskedLogSumExp(torch.autograd.Function):
    """Log-sum-exp over sub-centres with some rows masked, with a hand-written backward.

    Autograd of "reduce everything, then redo the masked rows" would scatter the masked rows'
    gradient into a fresh full-size tensor and add it; here the backward is the plain softmax
    of every row (one full-size pass, as for the unmasked loss) with the masked entries zeroed.
    """

    @staticmethod
    def forward(ctx, values, batch_index, class_index, rows):
        reduced = torch.logsumexp(values, dim=2)
        selected = values[batch_index, class_index].masked_fill(~rows, float("-inf"))
        reduced[batch_index, class_index] = torch.logsumexp(selected, dim=1)
        ctx.save_for_backward(values, reduced, batch_index, class_index, rows)
        return reduced

    @staticmethod
    def backward(ctx, grad):
        values, reduced, batch_index, class_index, rows = ctx.saved_tensors
        weights = torch.exp(values - reduced.unsqueeze(2))  # softmax of each row
        weights[batch_index, class_index] = weights[batch_index, class_index].masked_fill(
            ~rows, 0.0
        )
        return weights.mul_(grad.unsqueeze(2)), None, None, None
