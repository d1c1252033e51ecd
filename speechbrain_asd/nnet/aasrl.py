"""Adaptive Across-Subcenter Representation Learning (AASRL, Interspeech 2025), section 3.2.

AASRL trains with the optimal sub-centre representation for T steps, measures with the frozen
model F_T how well every training sample is represented (the angle to its nearest own-class
sub-centre, eq. 11), gives each sample k sub-centres (eq. 12-13), the k most similar ones
(eq. 14), and from then on trains with the joint representation restricted to them.

This module holds the sub-centre arithmetic (:func:`subcenter_count`, :func:`select_subcenters`,
:func:`across_subcenter_mask`) and the phase switch (:class:`AASRLPhaseSwitch`), a stateful object
a Brain drives and a Checkpointer saves. The losses are in :mod:`speechbrain_asd.nnet.losses`.

Authors
 * speechbrain-asd developers 2026
"""

import math
import numbers

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

from speechbrain_asd.nnet.global_batch import gather_batch, local_slice
from speechbrain_asd.nnet.masking import MaskedRows

RESELECTION = ("frozen", "online")


def _check_n_subcenters(n_subcenters):
    if not isinstance(n_subcenters, int) or isinstance(n_subcenters, bool) or n_subcenters < 1:
        raise ValueError(f"n_subcenters must be an int >= 1, got {n_subcenters!r}")


def _check_tau(tau):
    if not isinstance(tau, numbers.Real) or isinstance(tau, bool) or not tau > 0:
        raise ValueError(f"tau must be a number > 0, got {tau!r}")


def subcenter_count(theta, n_subcenters, tau):
    """Number of sub-centres k per sample from its representation angle (eq. 12-13).

    ``alpha = 1 - cos(theta)`` for ``theta <= pi/2`` and 1 beyond;
    ``k = 1 + floor((S - 1) * alpha ** tau)``. The product is computed in float64 and nudged
    by 1e-9 before the floor so that values that are integers in exact arithmetic (theta = 60
    degrees, tau = 1, S = 3 gives exactly 1) are not floored down by rounding.

    Arguments
    ---------
    theta : torch.Tensor
        ``[batch]`` angles in radians in [0, pi] between each sample and its nearest sub-centre
        of its own class.
    n_subcenters : int
        S, the number of sub-centres of the class.
    tau : float
        Temperature > 0; larger values expand more slowly.

    Returns
    -------
    torch.Tensor
        ``[batch]`` int64 counts in [1, S].

    Example
    -------
    >>> theta = torch.tensor([0.0, math.pi / 3, math.pi / 2, 2.0])
    >>> subcenter_count(theta, n_subcenters=16, tau=0.5)  # alpha = 0, 0.5, 1, 1
    tensor([ 1, 11, 16, 16])
    """
    _check_n_subcenters(n_subcenters)
    _check_tau(tau)
    theta = torch.as_tensor(theta)
    if not torch.isfinite(theta).all() or (theta < 0).any() or (theta > math.pi + 1e-6).any():
        raise ValueError("theta must hold finite angles in radians within [0, pi]")
    theta = theta.double()
    alpha = torch.where(theta <= math.pi / 2, 1.0 - torch.cos(theta), torch.ones_like(theta))
    alpha = alpha.clamp(0.0, 1.0)
    k = 1 + torch.floor((n_subcenters - 1) * alpha.pow(tau) + 1e-9)
    return k.long().clamp(1, n_subcenters)


def _ranks(cosines):
    """Rank of every sub-centre by decreasing cosine (0 = most similar), ties by index."""
    order = torch.argsort(cosines, dim=-1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    positions = torch.arange(cosines.shape[-1], device=cosines.device).expand_as(order)
    return ranks.scatter_(-1, order, positions)


def select_subcenters(target_cosines, tau, k=None):
    """The k most similar sub-centres of each sample's own class (eq. 14).

    Arguments
    ---------
    target_cosines : torch.Tensor
        ``[batch, subcenters]`` cosines between each sample and the sub-centres of its class.
    tau : float
        Temperature of :func:`subcenter_count`.
    k : torch.Tensor, optional
        ``[batch]`` counts to use instead of computing them from these cosines.

    Returns
    -------
    tuple
        ``(mask, k)``: ``[batch, subcenters]`` bool (True = selected; ties go to the lower
        index) and the ``[batch]`` int64 counts.

    Example
    -------
    >>> cos = torch.tensor([[0.2, 1.0, 0.5], [0.0, 0.5, -0.5]])
    >>> mask, k = select_subcenters(cos, tau=1.0)  # theta = 0 and 60 degrees
    >>> k
    tensor([1, 2])
    >>> mask
    tensor([[False,  True, False],
            [ True,  True, False]])
    """
    if target_cosines.dim() != 2 or target_cosines.shape[1] < 1:
        raise ValueError(
            "target_cosines: expected [batch, subcenters], got shape "
            f"{tuple(target_cosines.shape)}"
        )
    cos = target_cosines.detach().float()
    if k is None:
        theta = torch.acos(cos.amax(dim=1).clamp(-1.0, 1.0))
        k = subcenter_count(theta, cos.shape[1], tau).to(cos.device)
    mask = _ranks(cos) < k.unsqueeze(1)
    return mask, k


def across_subcenter_mask(
    labels,
    n_classes,
    n_subcenters,
    selection=None,
    targets=None,
    partner=None,
    k=None,
    cosines=None,
    n_base_classes=None,
    sparse=False,
):
    """The AASRL sub-centre mask of a batch for the loss.

    Every sample's own class uses the sample's selected sub-centres, every other class all of
    its sub-centres. With soft labels over a head whose ``n_classes`` columns are blocks of
    ``n_base_classes`` (C) columns (mixup: 1 block; StatEx's 3C and FeatEx's 9C labels: 3 and
    9 blocks; column j has base class ``j % C``), every column that carries target weight uses
    the selection of the sample its weight came from: the sample itself when the column's base
    class is its own label, else its ``partner``; when both share the base class the union of
    their selections is used. Columns without target weight use all sub-centres.

    Two ways to give the selections: ``selection`` (frozen masks measured at T), or ``k`` with
    ``cosines`` (the "online" variant: the top-k of the current cosines, k fixed at T).

    Arguments
    ---------
    labels : torch.Tensor
        ``[batch]`` int64 base class of each sample, in [0, C).
    n_classes : int
        Number of columns of the head.
    n_subcenters : int
        S.
    selection : torch.Tensor, optional
        ``[batch, subcenters]`` bool: each sample's selected sub-centres of its own class.
    targets : torch.Tensor, optional
        ``[batch, n_classes]`` soft labels; None: hard labels (only the own class is masked).
    partner : torch.Tensor, optional
        ``[batch]`` int64 index of each sample's augmentation partner (e.g. the reversed batch);
        None when the soft labels mix nothing.
    k : torch.Tensor, optional
        ``[batch]`` sub-centre counts (online variant).
    cosines : torch.Tensor, optional
        ``[batch, n_classes, subcenters]`` current cosines (online variant).
    n_base_classes : int, optional
        C; defaults to ``n_classes``. ``n_classes`` must be a multiple of it.
    sparse : bool
        Return the rows of the own classes alone as a
        :class:`~speechbrain_asd.nnet.masking.MaskedRows` (what the losses use internally).

    Returns
    -------
    torch.Tensor or MaskedRows
        ``[batch, n_classes, subcenters]`` bool mask (or its sparse form).

    Example
    -------
    >>> selection = torch.tensor([[True, False], [False, True]])
    >>> mask = across_subcenter_mask(torch.tensor([0, 1]), 2, 2, selection)
    >>> mask[0].tolist(), mask[1].tolist()
    ([[True, False], [True, True]], [[True, True], [False, True]])
    """
    _check_n_subcenters(n_subcenters)
    n_base_classes = n_classes if n_base_classes is None else n_base_classes
    if n_base_classes < 1 or n_classes % n_base_classes:
        raise ValueError(
            f"n_classes ({n_classes}) must be a multiple of n_base_classes ({n_base_classes})"
        )
    if (selection is None) == (k is None):
        raise ValueError("give either selection (frozen) or k with cosines (online), not both")
    batch = labels.shape[0]
    if labels.dim() != 1 or labels.is_floating_point():
        raise ValueError(
            f"labels: expected int64 [batch], got {labels.dtype} {tuple(labels.shape)}"
        )
    if batch:
        low, high = torch.stack(torch.aminmax(labels)).tolist()
        if low < 0 or high >= n_base_classes:
            raise ValueError(f"labels: base classes must be in [0, {n_base_classes - 1}]")
    if k is not None and (
        cosines is None or tuple(cosines.shape) != (batch, n_classes, n_subcenters)
    ):
        raise ValueError(
            "the online variant needs the current cosines of shape "
            f"{(batch, n_classes, n_subcenters)}"
        )
    if targets is not None and tuple(targets.shape) != (batch, n_classes):
        raise ValueError(
            f"targets: expected shape {(batch, n_classes)}, got {tuple(targets.shape)}"
        )
    device = labels.device
    base = torch.arange(n_classes, device=device) % n_base_classes
    own = base.unsqueeze(0) == labels.unsqueeze(1)
    from_partner = torch.zeros_like(own)
    if targets is not None:
        carries = targets > 0
        own = own & carries
        if partner is not None:
            from_partner = carries & (base.unsqueeze(0) == labels[partner].unsqueeze(1))
    if selection is not None and (
        tuple(selection.shape) != (batch, n_subcenters) or selection.dtype != torch.bool
    ):
        raise ValueError(
            f"selection: expected a bool tensor of shape {(batch, n_subcenters)}, got "
            f"{selection.dtype} {tuple(selection.shape)}"
        )
    # Only the few (sample, class) rows that carry a sample's own class change: build those
    # rows alone ([pairs, subcenters]) instead of full [batch, classes, subcenters] tensors.
    rows_b, rows_c = (own | from_partner).nonzero(as_tuple=True)
    partner_b = partner[rows_b] if partner is not None else rows_b
    if selection is not None:
        own_rows = selection[rows_b]
        partner_rows = selection[partner_b]
    else:
        ranks = _ranks(cosines.detach()[rows_b, rows_c])
        k = k.to(device)
        own_rows = ranks < k[rows_b].unsqueeze(1)
        partner_rows = ranks < k[partner_b].unsqueeze(1)
    is_own = own[rows_b, rows_c].unsqueeze(1)
    is_partner = from_partner[rows_b, rows_c].unsqueeze(1)
    rows = (own_rows & is_own) | (partner_rows & is_partner)
    if sparse:
        return MaskedRows(rows_b, rows_c, rows)
    mask = torch.ones(batch, n_classes, n_subcenters, dtype=torch.bool, device=device)
    mask[rows_b, rows_c] = rows
    return mask


@register_checkpoint_hooks
class AASRLPhaseSwitch:
    """The two phases of AASRL as a small stateful object a Brain drives.

    Steps 1..T train with the optimal representation (:attr:`representation` is
    ``"optimal"``). At step T the caller runs the frozen model F_T over the training set (eval
    mode, no augmentation) and hands :meth:`measure` the cosines between every sample and the
    sub-centres of its own class, with the sample IDs. From then on :attr:`representation` is
    ``"joint"`` and :meth:`mask` returns the per-sample sub-centre masks.

    The selection is either kept as measured at T (``reselection="frozen"``, the paper's reading
    of eq. 11-14, default) or re-chosen at every step as the top-k of the current cosines with k
    still from F_T (``reselection="online"``). The "unselected sub-centres as negatives"
    ablation is an option of the loss (``SubcenterAdaCosLoss(unselected="negative")``), since
    it changes the denominator, not the mask.

    The state (k and selection per sample, the step of the measurement) is saved and restored
    by SpeechBrain's Checkpointer when the object is listed among its recoverables.

    Arguments
    ---------
    n_subcenters : int
        S, sub-centres per class.
    tau : float
        Temperature of eq. 13 (the paper uses 0.5).
    switch_step : int
        T, the optimiser step after which the representation switches (the paper uses 1200).
    reselection : str
        ``"frozen"`` or ``"online"``, see above.

    Example
    -------
    >>> switch = AASRLPhaseSwitch(n_subcenters=4, tau=1.0, switch_step=2)
    >>> switch.representation, switch.needs_measurement(step=1), switch.needs_measurement(2)
    ('optimal', False, True)
    >>> cos = torch.tensor([[1.0, 0.5, 0.0, -1.0], [0.5, 0.0, 0.0, 0.0]])
    >>> switch.measure(torch.tensor([10, 3]), cos, step=2)  # integer sample IDs
    >>> switch.representation, switch.k_histogram().tolist()  # k = 1 and 2
    ('joint', [1, 1, 0, 0])
    >>> mask = switch.mask(torch.tensor([3, 10]), labels=torch.tensor([1, 0]), n_classes=2)
    >>> mask[0, 1].tolist(), mask[0, 0].tolist()
    ([True, True, False, False], [True, True, True, True])
    """

    def __init__(self, n_subcenters=16, tau=0.5, switch_step=1200, reselection="frozen"):
        _check_n_subcenters(n_subcenters)
        _check_tau(tau)
        if not isinstance(switch_step, int) or isinstance(switch_step, bool) or switch_step < 1:
            raise ValueError(f"switch_step must be an int >= 1, got {switch_step!r}")
        if reselection not in RESELECTION:
            raise ValueError(f"reselection must be one of {RESELECTION}, got {reselection!r}")
        self.n_subcenters = n_subcenters
        self.tau = tau
        self.switch_step = switch_step
        self.reselection = reselection
        self._reset()

    def _reset(self):
        self.k = None  # [max_id + 1] int64, 0 where the ID was not measured
        self.selection = None  # [max_id + 1, S] bool
        self.string_ids = None  # ID -> row, when measured with string IDs
        self.measured_at = None

    @property
    def measured(self):
        """True once :meth:`measure` has run (phase 2)."""
        return self.k is not None

    @property
    def representation(self):
        """``"optimal"`` before the measurement, ``"joint"`` (with masks) after."""
        return "joint" if self.measured else "optimal"

    def needs_measurement(self, step):
        """True when ``step`` (optimiser steps done) has reached T and nothing is measured."""
        return not self.measured and step >= self.switch_step

    def _rows(self, sample_ids, create=False):
        if isinstance(sample_ids, torch.Tensor):
            if sample_ids.is_floating_point() or sample_ids.dim() != 1:
                raise ValueError("sample_ids: expected an int64 tensor [batch] or a list of str")
            if self.string_ids is not None:
                raise ValueError("sample_ids: this switch was measured with string IDs")
            return sample_ids.long().cpu()
        ids = list(sample_ids)
        if create:
            self.string_ids = {sid: row for row, sid in enumerate(ids)}
        elif self.string_ids is None:
            raise ValueError("sample_ids: this switch was measured with integer IDs")
        missing = [sid for sid in ids if sid not in self.string_ids]
        if missing:
            raise KeyError(f"AASRL: no measurement for sample IDs {missing[:5]}")
        return torch.tensor([self.string_ids[sid] for sid in ids], dtype=torch.long)

    def measure(self, sample_ids, target_cosines, step=None):
        """Stores k and the selected sub-centres of every training sample (eq. 11-14).

        Arguments
        ---------
        sample_ids : torch.Tensor or list of str
            ``[N]`` unique integer sample IDs (e.g. row numbers of the training manifest), or
            string IDs (a dictionary lookup per sample in :meth:`mask`).
        target_cosines : torch.Tensor
            ``[N, subcenters]`` cosines of F_T between each sample and its class's sub-centres.
        step : int, optional
            The optimiser step of the measurement (for the logs and checkpoints).
        """
        if target_cosines.dim() != 2 or target_cosines.shape[1] != self.n_subcenters:
            raise ValueError(
                f"target_cosines: expected [N, {self.n_subcenters}], got shape "
                f"{tuple(target_cosines.shape)}"
            )
        self._reset()
        rows = self._rows(sample_ids, create=True)
        if rows.numel() != target_cosines.shape[0]:
            raise ValueError(
                f"measure: {rows.numel()} sample IDs for {target_cosines.shape[0]} rows of cosines"
            )
        if rows.numel() == 0:
            raise ValueError("measure: no training samples were measured")
        if rows.unique().numel() != rows.numel():
            raise ValueError("measure: sample IDs must be unique")
        selection, k = select_subcenters(target_cosines.detach().float().cpu(), self.tau)
        size = int(rows.max()) + 1
        self.k = torch.zeros(size, dtype=torch.long)
        self.k[rows] = k
        self.selection = torch.zeros(size, self.n_subcenters, dtype=torch.bool)
        self.selection[rows] = selection
        self.measured_at = step

    def lookup(self, sample_ids):
        """k ``[batch]`` and selection ``[batch, subcenters]`` of the given samples."""
        if not self.measured:
            raise RuntimeError("AASRL: nothing measured yet (the switch step was not reached)")
        rows = self._rows(sample_ids)
        if rows.numel():
            low, high = torch.stack(torch.aminmax(rows)).tolist()
            if low < 0:
                raise ValueError("sample_ids: integer IDs must be >= 0")
            if high >= self.k.numel():
                raise KeyError("AASRL: some sample IDs were not part of the measurement at T")
        k = self.k[rows]
        if (k == 0).any():
            raise KeyError("AASRL: some sample IDs were not part of the measurement at T")
        return k, self.selection[rows]

    def mask(
        self,
        sample_ids,
        labels,
        n_classes,
        targets=None,
        partner=None,
        cosines=None,
        n_base_classes=None,
        sparse=False,
    ):
        """The sub-centre mask of a batch, or None before the switch.

        Arguments
        ---------
        sample_ids : torch.Tensor or list of str
            ``[batch]`` IDs of the samples, as given to :meth:`measure`.
        labels : torch.Tensor
            ``[batch]`` int64 own (base) class of every sample.
        n_classes : int
            Number of columns of the head the mask is for.
        targets : torch.Tensor, optional
            ``[batch, n_classes]`` soft labels (see :func:`across_subcenter_mask`).
        partner : torch.Tensor, optional
            ``[batch]`` augmentation partner of every sample.
        cosines : torch.Tensor, optional
            ``[batch, n_classes, subcenters]`` current cosines (needed when online).
        n_base_classes : int, optional
            C when the head's columns are blocks of C base classes.
        sparse : bool
            Return the :class:`~speechbrain_asd.nnet.masking.MaskedRows` form (cheaper; the
            losses accept both).

        Returns
        -------
        torch.Tensor, MaskedRows or None
            ``[batch, n_classes, subcenters]`` bool mask on the device of ``labels``.
        """
        if not self.measured:
            return None
        k, selection = self.lookup(sample_ids)
        device = labels.device
        if self.reselection == "frozen":
            return across_subcenter_mask(
                labels, n_classes, self.n_subcenters, selection=selection.to(device),
                targets=targets, partner=partner, n_base_classes=n_base_classes, sparse=sparse,
            )
        if cosines is None:
            raise ValueError("AASRL: reselection='online' needs the current cosines")
        return across_subcenter_mask(
            labels, n_classes, self.n_subcenters, k=k.to(device), cosines=cosines,
            targets=targets, partner=partner, n_base_classes=n_base_classes, sparse=sparse,
        )

    def reversed_batch_mask(
        self, sample_ids, labels, n_classes, targets, cosines=None, n_base_classes=None
    ):
        """The sparse mask of an SSLASD batch, whose augmentation partners are the reversed batch.

        Sample ``i`` of the batch was paired with ``B - 1 - i`` by Mixup, StatEx and FeatEx
        (:mod:`speechbrain_asd.lobes.augment`). Under DDP the batch is this rank's slice of the
        global batch (:mod:`speechbrain_asd.nnet.global_batch`): the IDs, labels and soft
        labels of all ranks are gathered, the mask of the global batch is built with its
        partners, and this rank's rows are returned; without DDP it is :meth:`mask` with
        ``partner`` the reversed batch.

        Arguments
        ---------
        sample_ids : torch.Tensor
            ``[batch]`` int64 IDs of the samples, as given to :meth:`measure`.
        labels : torch.Tensor
            ``[batch]`` int64 own (base) class of every sample.
        n_classes : int
            Number of columns of the head.
        targets : torch.Tensor
            ``[batch, n_classes]`` soft labels.
        cosines : torch.Tensor, optional
            ``[batch, n_classes, subcenters]`` current cosines (needed when online).
        n_base_classes : int, optional
            C when the head's columns are blocks of C base classes.

        Returns
        -------
        MaskedRows or None
            None before the switch.

        Example
        -------
        >>> switch = AASRLPhaseSwitch(n_subcenters=2, tau=1.0, switch_step=1)
        >>> switch.measure(torch.tensor([0, 1]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]), step=1)
        >>> targets = torch.tensor([[0.5, 0.5], [0.5, 0.5]])  # mixed with each other
        >>> rows = switch.reversed_batch_mask(torch.tensor([0, 1]), torch.tensor([0, 1]), 2,
        ...                                   targets)
        >>> rows.rows.tolist()  # both samples' selections on both classes
        [[True, False], [False, True], [True, False], [False, True]]
        """
        if not self.measured:
            return None
        if not isinstance(sample_ids, torch.Tensor):
            raise ValueError("reversed_batch_mask: sample_ids must be an int64 tensor [batch]")
        n_local = labels.shape[0]
        device = labels.device
        ids, all_labels, all_targets = (
            gather_batch(t) for t in (sample_ids.to(device), labels, targets.detach())
        )
        all_cosines = None if cosines is None else gather_batch(cosines.detach())
        partner = torch.arange(all_labels.shape[0] - 1, -1, -1, device=device)
        rows = self.mask(
            ids, all_labels, n_classes, targets=all_targets, partner=partner,
            cosines=all_cosines, n_base_classes=n_base_classes, sparse=True,
        )
        if all_labels.shape[0] == n_local:
            return rows
        return rows.batch_rows(local_slice(n_local))

    def k_histogram(self):
        """Counts of k = 1..S over the measured samples, ``[subcenters]`` int64."""
        if not self.measured:
            return torch.zeros(self.n_subcenters, dtype=torch.long)
        measured = self.k[self.k > 0]
        return torch.bincount(measured - 1, minlength=self.n_subcenters)

    def state_dict(self):
        """The state as plain tensors and values."""
        return {
            "k": self.k,
            "selection": self.selection,
            "string_ids": self.string_ids,
            "measured_at": self.measured_at,
        }

    def load_state_dict(self, state):
        """Restores :meth:`state_dict`'s output (of a switch with the same S)."""
        if state["selection"] is not None and state["selection"].shape[1] != self.n_subcenters:
            raise ValueError(
                f"AASRL state measured with {state['selection'].shape[1]} sub-centres cannot be "
                f"loaded into a switch with n_subcenters={self.n_subcenters}"
            )
        self.k = state["k"]
        self.selection = state["selection"]
        self.string_ids = state["string_ids"]
        self.measured_at = state["measured_at"]

    @mark_as_saver
    def _save(self, path):
        torch.save(self.state_dict(), path)

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        del end_of_epoch  # the state is the same at any point of an epoch
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))
