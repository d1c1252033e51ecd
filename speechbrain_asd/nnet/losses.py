"""Sub-centre AdaCos losses: joint (SCAdaCos), optimal (sub-center ArcFace style) and AASRL.

All three share one formula: a per-class score from the class's participating sub-centres, a
softmax over classes and the cross-entropy with (soft) labels. They differ in how the class score
is formed and which sub-centres take part:

* ``representation="joint"`` (SCAdaCos, paper eq. 3): score_c = log sum_m exp(s cos_cm), so that
  softmax(score)_c = P_c = sum_m p_c^m (eq. 4-5).
* ``representation="optimal"`` (the paper's SCAdaCos*): score_c = s max_m cos_cm.
* AASRL (paper section 3.2) is the joint representation with a per-sample ``subcenter_mask``
  from :mod:`speechbrain_asd.nnet.aasrl`: the own class keeps its k selected sub-centres.

Authors
 * speechbrain-asd developers 2026
"""

import numbers

import torch

from speechbrain_asd.nnet.adacos import VARIANTS, AdaptiveScale
from speechbrain_asd.nnet.masking import MaskedRows, masked_rows, reduce_subcenters

REPRESENTATIONS = ("joint", "optimal")


def as_soft_targets(targets, n_classes, batch_size=None, atol=1e-3):
    """Validates class indices or soft labels and returns soft labels.

    Arguments
    ---------
    targets : torch.Tensor
        Class indices ``[batch]`` (integer dtype) or soft labels ``[batch, n_classes]``
        (non-negative, rows summing to 1, e.g. after mixup).
    n_classes : int
        Number of classes C.
    batch_size : int, optional
        Expected batch size.
    atol : float
        Tolerance of the row-sum check.

    Returns
    -------
    torch.Tensor
        ``[batch, n_classes]`` float32 soft labels.

    Example
    -------
    >>> as_soft_targets(torch.tensor([2, 0]), 3)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if targets.dim() == 1 and not targets.is_floating_point():
        if batch_size is not None and targets.shape[0] != batch_size:
            raise ValueError(
                f"targets: expected {batch_size} class indices, got shape {tuple(targets.shape)}"
            )
        if targets.numel() and (targets.min() < 0 or targets.max() >= n_classes):
            raise ValueError(
                f"targets: class indices must be in [0, {n_classes - 1}], got values from "
                f"{int(targets.min())} to {int(targets.max())}"
            )
        return torch.nn.functional.one_hot(targets.long(), n_classes).float()
    if targets.dim() != 2 or targets.shape[1] != n_classes or not targets.is_floating_point():
        raise ValueError(
            f"targets: expected integer class indices [batch] or float soft labels "
            f"[batch, {n_classes}], got dtype {targets.dtype} and shape {tuple(targets.shape)}"
        )
    if batch_size is not None and targets.shape[0] != batch_size:
        raise ValueError(
            f"targets: expected {batch_size} rows of soft labels, got {targets.shape[0]}"
        )
    soft = targets.float()
    if not torch.isfinite(soft).all() or (soft < 0).any():
        raise ValueError("targets: soft labels must be finite and non-negative")
    sums = soft.sum(dim=1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=atol):
        worst = int((sums - 1).abs().argmax())
        raise ValueError(
            f"targets: soft labels must sum to 1 per sample; row {worst} sums to "
            f"{float(sums[worst]):.6f}"
        )
    return soft


class SubcenterAdaCosLoss(torch.nn.Module):
    """Cross-entropy over sub-centre class scores with a fixed or adaptive (AdaCos) scale.

    Arguments
    ---------
    n_classes : int
        Number of classes C.
    n_subcenters : int
        Number of sub-centres S per class.
    representation : str
        ``"joint"`` (SCAdaCos, eq. 3; with a mask, AASRL) or ``"optimal"`` (SCAdaCos*). Can be
        overridden per call, so one loss (and one adaptive scale) serves both AASRL phases.
    scale : None, float or AdaptiveScale
        None: an adaptive scale of its own (updated from every batch in training mode);
        a float: a fixed scale; an :class:`AdaptiveScale`: shared with other losses.
    scale_variant : str
        Formula of the adaptive scale (``"sslasd"`` or ``"adacos"``, see AdaptiveScale).
    unselected : str
        How sub-centres switched off by ``subcenter_mask`` are treated: ``"exclude"`` (default,
        AASRL as in the paper: out of numerator and denominator) or ``"negative"`` (ablation:
        out of the own class's numerator but kept in the denominator as negatives).

    Example
    -------
    >>> loss = SubcenterAdaCosLoss(n_classes=3, n_subcenters=2, scale=10.0)
    >>> cos = torch.tensor([[[0.9, 0.1], [0.0, 0.2], [-0.5, 0.3]]])
    >>> # joint: scores 9.000335, 2.126928, 3.000335 -> -log softmax_0 = 0.003508
    >>> round(float(loss(cos, torch.tensor([0]))), 4)
    0.0035
    >>> # optimal: scores 9, 2, 3 -> log(1 + e^-7 + e^-6) = 0.003385
    >>> round(float(loss(cos, torch.tensor([0]), representation="optimal")), 4)
    0.0034
    """

    def __init__(
        self,
        n_classes,
        n_subcenters,
        representation="joint",
        scale=None,
        scale_variant="sslasd",
        unselected="exclude",
    ):
        super().__init__()
        if representation not in REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {REPRESENTATIONS}, got {representation!r}"
            )
        if scale_variant not in VARIANTS:
            raise ValueError(f"scale_variant must be one of {VARIANTS}, got {scale_variant!r}")
        if unselected not in ("exclude", "negative"):
            raise ValueError(f"unselected must be 'exclude' or 'negative', got {unselected!r}")
        for name, value in (("n_classes", n_classes), ("n_subcenters", n_subcenters)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.n_classes = n_classes
        self.n_subcenters = n_subcenters
        self.representation = representation
        self.unselected = unselected
        if scale is None:
            self.scale = AdaptiveScale(n_classes, n_subcenters, variant=scale_variant)
        elif isinstance(scale, AdaptiveScale):
            if (scale.n_classes, scale.n_subcenters) != (n_classes, n_subcenters):
                raise ValueError(
                    "scale: the shared AdaptiveScale was built for "
                    f"{scale.n_classes} classes x {scale.n_subcenters} sub-centres, not "
                    f"{n_classes} x {n_subcenters}"
                )
            self.scale = scale
        elif isinstance(scale, numbers.Real) and not isinstance(scale, bool) and scale > 0:
            self.scale = None
            self.register_buffer("fixed_scale", torch.tensor(float(scale)))
        else:
            raise ValueError(f"scale must be None, a positive float or an AdaptiveScale: {scale!r}")

    @property
    def adaptive(self):
        """True when the scale is AdaCos-adaptive."""
        return self.scale is not None

    def current_scale(self):
        """The scale that the next evaluation-mode call would use (0-dim tensor)."""
        return self.scale.scale if self.adaptive else self.fixed_scale

    def forward(self, cosines, targets, subcenter_mask=None, representation=None):
        """Computes the mean loss over the batch.

        Arguments
        ---------
        cosines : torch.Tensor
            ``[batch, classes, subcenters]`` cosines (any float dtype; computed in float32).
        targets : torch.Tensor
            Class indices ``[batch]`` or soft labels ``[batch, classes]``.
        subcenter_mask : torch.Tensor or MaskedRows, optional
            ``[batch, classes, subcenters]`` bool; True where the sub-centre takes part in the
            class's representation for that sample. None: all take part. The sparse
            :class:`~speechbrain_asd.nnet.masking.MaskedRows` form is accepted too.
        representation : str, optional
            Overrides the constructor's representation for this call.

        Returns
        -------
        torch.Tensor
            The mean loss (0-dim float32).
        """
        representation = representation or self.representation
        if representation not in REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {REPRESENTATIONS}, got {representation!r}"
            )
        expected = (self.n_classes, self.n_subcenters)
        if cosines.dim() != 3 or tuple(cosines.shape[1:]) != expected:
            raise ValueError(
                f"cosines: expected [batch, {self.n_classes}, {self.n_subcenters}] "
                f"[batch, classes, subcenters], got shape {tuple(cosines.shape)}"
            )
        soft = as_soft_targets(targets, self.n_classes, batch_size=cosines.shape[0])
        rows = None if subcenter_mask is None else masked_rows(subcenter_mask, cosines.shape)
        with torch.autocast(device_type=cosines.device.type, enabled=False):
            cos = cosines.float()
            soft = soft.to(cos.device)
            if self.adaptive and self.training:
                s = self.scale.update(cos.detach(), soft, rows)
            else:
                s = self.current_scale()
            logits = s.to(cos.device) * cos
            scores = class_scores(logits, representation, rows)
            if rows is not None and self.unselected == "negative":
                denominator = class_scores(logits, representation, None)
            else:
                denominator = scores
            log_prob = scores - torch.logsumexp(denominator, dim=1, keepdim=True)
            # 0 * log p must stay 0 where a class carries no target weight.
            weighted = torch.where(soft > 0, soft * log_prob, torch.zeros_like(log_prob))
            return -weighted.sum(dim=1).mean()


def class_scores(logits, representation, subcenter_mask=None):
    """Class scores from scaled sub-centre logits.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, classes, subcenters]`` scaled cosines ``s * cos``.
    representation : str
        ``"joint"``: log-sum-exp over the class's sub-centres; ``"optimal"``: their maximum.
    subcenter_mask : torch.Tensor or MaskedRows, optional
        ``[batch, classes, subcenters]`` bool (False sub-centres are left out), or its
        :class:`~speechbrain_asd.nnet.masking.MaskedRows` (trusted as already validated).

    Returns
    -------
    torch.Tensor
        ``[batch, classes]`` class scores.

    Example
    -------
    >>> logits = torch.log(torch.tensor([[[1.0, 3.0]]]))
    >>> class_scores(logits, "joint").exp()
    tensor([[4.]])
    >>> class_scores(logits, "optimal").exp()
    tensor([[3.]])
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"representation must be one of {REPRESENTATIONS}, got {representation!r}"
        )
    if subcenter_mask is not None and not isinstance(subcenter_mask, MaskedRows):
        subcenter_mask = masked_rows(subcenter_mask, logits.shape)
    reduce = torch.logsumexp if representation == "joint" else torch.amax
    return reduce_subcenters(logits, reduce, subcenter_mask)
