"""Adaptive scale of (sub-centre) AdaCos: the logit scale ``s`` set from each training batch.

AdaCos (Zhang et al., CVPR 2019) replaces the hand-tuned scale of cosine-softmax losses by a value
computed, without gradient, from the current batch. Sub-cluster AdaCos (Wilkinghoff, IJCNN 2021)
extends it to ``S`` sub-centres per class; SSLASD (Wilkinghoff, ICASSP 2024) uses that head.

Authors
 * speechbrain-asd developers 2026
"""

import math

import torch

from speechbrain_asd.nnet.global_batch import gather_uneven
from speechbrain_asd.nnet.masking import MaskedRows, masked_rows, reduce_subcenters

VARIANTS = ("sslasd", "adacos")


def initial_scale(n_classes, n_subcenters):
    """The AdaCos initial scale ``sqrt(2) * ln(C * S - 1)``.

    Arguments
    ---------
    n_classes : int
        Number of classes C.
    n_subcenters : int
        Number of sub-centres S per class.

    Returns
    -------
    float
        The initial scale.

    Example
    -------
    >>> round(initial_scale(10, 16), 4)  # sqrt(2) * ln(159)
    7.1685
    """
    if n_classes * n_subcenters < 2:
        raise ValueError(
            "AdaCos needs at least two logits: n_classes * n_subcenters must be >= 2, got "
            f"n_classes={n_classes}, n_subcenters={n_subcenters}"
        )
    return math.sqrt(2.0) * math.log(n_classes * n_subcenters - 1)


class AdaptiveScale(torch.nn.Module):
    """Holds the AdaCos scale ``s`` as a buffer and updates it from training batches.

    The scale starts at ``sqrt(2) * ln(C * S - 1)``. :meth:`update` computes the new value from
    the batch's cosines with the current scale, without gradient, and the caller then scales
    that same batch with it (as the SSLASD reference does). Two formulas, chosen by ``variant``:

    * ``"sslasd"`` (default), the SSLASD reference's sub-cluster AdaCos:
      ``B_avg = mean_b sum_{c,m} exp(s cos_bcm - M)`` over ALL logits (target ones included),
      ``M = max s cos``; ``theta_med`` = batch median of ``sum_c y_bc sum_m theta_bcm``, the
      (soft-)label weighted angles summed over the class's sub-centres; then
      ``s = (M + ln B_avg) / cos(min(pi/4, theta_med))``. Summing S angles pushes
      ``theta_med`` past pi/4 almost always, so in practice ``s = sqrt(2) ln(mean_b sum exp)``.
      It is the default because the AASRL paper's SSLASD numbers were produced with it; the
      baselines and AASRL must share it to be comparable.
    * ``"adacos"``, the AdaCos paper's formula extended to sub-centres:
      ``B_avg = mean_b sum_{c != y_b} sum_m exp(s cos_bcm)`` (non-target logits only, soft labels
      weight each class by ``1 - y_bc``); ``theta_med`` = batch median of the angle to the target
      class, the angle to a class being the one to its nearest (participating) sub-centre;
      ``s = ln(B_avg) / cos(min(pi/4, theta_med))``.

    Sub-centres switched off by a ``subcenter_mask`` take no part in either statistic. Under DDP
    the per-sample statistics are gathered from all ranks, so every rank computes the same ``s``:
    the one a single process would compute on the global batch. The computation runs in float32.

    Arguments
    ---------
    n_classes : int
        Number of classes C.
    n_subcenters : int
        Number of sub-centres S per class.
    variant : str
        ``"sslasd"`` or ``"adacos"``, see above.
    max_angle : float
        The clip of ``theta_med`` in radians (pi/4 in both formulas).

    Example
    -------
    >>> scale = AdaptiveScale(n_classes=4, n_subcenters=2)
    >>> round(float(scale.scale), 4)  # sqrt(2) * ln(7)
    2.7519
    >>> cos = torch.rand(8, 4, 2) * 2 - 1
    >>> targets = torch.nn.functional.one_hot(torch.arange(8) % 4, 4).float()
    >>> new = scale.update(cos, targets)
    >>> bool(new > 0) and float(scale.scale) == float(new)
    True
    """

    def __init__(self, n_classes, n_subcenters, variant="sslasd", max_angle=math.pi / 4):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"AdaptiveScale: variant must be one of {VARIANTS}, got {variant!r}")
        if not 0 < max_angle < math.pi / 2:
            raise ValueError(f"AdaptiveScale: max_angle must be in (0, pi/2), got {max_angle}")
        self.n_classes = n_classes
        self.n_subcenters = n_subcenters
        self.variant = variant
        self.max_angle = max_angle
        self.register_buffer(
            "scale", torch.tensor(initial_scale(n_classes, n_subcenters), dtype=torch.float32)
        )

    @torch.no_grad()
    def update(self, cosines, targets, subcenter_mask=None):
        """Sets ``s`` from one batch and returns it.

        Arguments
        ---------
        cosines : torch.Tensor
            ``[batch, classes, subcenters]`` cosines of the batch.
        targets : torch.Tensor
            ``[batch, classes]`` (soft) labels, rows summing to 1.
        subcenter_mask : torch.Tensor or MaskedRows, optional
            ``[batch, classes, subcenters]`` bool, True where the sub-centre takes part, or its
            :class:`~speechbrain_asd.nnet.masking.MaskedRows` (trusted as already validated).

        Returns
        -------
        torch.Tensor
            The new scale (0-dim float32), also stored in the ``scale`` buffer.
        """
        with torch.autocast(device_type=cosines.device.type, enabled=False):
            cos = cosines.float().clamp(-1.0, 1.0)
            y = targets.float()
            logits = self.scale.to(cos.device) * cos
            rows = subcenter_mask
            if rows is not None and not isinstance(rows, MaskedRows):
                rows = masked_rows(rows, cos.shape)
            class_lse = reduce_subcenters(logits, torch.logsumexp, rows)
            # Angles are needed only for the classes that carry target weight; rows of the
            # mask are corrected afterwards (masked rows that carry no weight add nothing).
            rows_b, rows_c = (y > 0).nonzero(as_tuple=True)
            weights = y[rows_b, rows_c]
            row_angles = self._row_angles(cos[rows_b, rows_c])
            if self.variant == "sslasd":
                # M + ln(B_avg) == ln(mean_b sum exp(s cos)): computed as a log-sum-exp.
                per_sample = torch.logsumexp(class_lse, dim=1)
            else:
                per_sample = torch.logsumexp(class_lse + torch.log1p(-y.clamp(max=1.0)), dim=1)
            if rows is not None and rows.batch_index.numel():
                masked_cos = cos[rows.batch_index, rows.class_index]
                correction = self._row_angles(masked_cos, rows.rows) - self._row_angles(masked_cos)
                rows_b = torch.cat([rows_b, rows.batch_index])
                weights = torch.cat([weights, y[rows.batch_index, rows.class_index]])
                row_angles = torch.cat([row_angles, correction])
            angle = torch.zeros(y.shape[0], device=y.device).index_add_(
                0, rows_b, weights * row_angles
            )
            # under DDP the statistics are those of every rank's samples (one collective)
            per_sample, angle = gather_uneven(torch.stack([per_sample, angle], dim=1)).unbind(1)
            log_b_avg = torch.logsumexp(per_sample, dim=0) - math.log(per_sample.numel())
            theta_med = angle.median().clamp(max=self.max_angle)
            new_scale = log_b_avg / torch.cos(theta_med)
            # A degenerate batch (e.g. every non-target logit masked) keeps the previous scale
            # rather than poisoning training with inf, nan or a non-positive scale.
            if torch.isfinite(new_scale) and new_scale > 0:
                self.scale.fill_(new_scale.to(self.scale.device))
        return self.scale.clone()

    def _row_angles(self, cos, participating=None):
        """Angle statistic of rows ``[pairs, subcenters]`` of cosines, in radians.

        ``sslasd``: the sum of the angles to the (participating) sub-centres; ``adacos``: the
        angle to the nearest participating sub-centre.
        """
        if self.variant == "sslasd":
            theta = torch.acos(cos)
            if participating is not None:
                theta = theta.masked_fill(~participating, 0.0)
            return theta.sum(dim=1)
        if participating is not None:
            cos = cos.masked_fill(~participating, -1.0)
        return torch.acos(cos.amax(dim=1))

    def extra_repr(self):
        return f"variant={self.variant!r}, scale={float(self.scale):.4f}"
