"""Official DCASE2023 Task 2 metrics: per-section AUC / pAUC, the official score and its CI.

Every function here works on plain arrays (no model, no files) and validates its input the way
``sklearn.metrics`` does, with errors that name the section when one is given.

Definitions follow the official evaluator (nttcslab/dcase2023_task2_evaluator):

- ``auc_source`` / ``auc_target``: ROC AUC over the normal clips of THAT domain and ALL anomalous
  clips of the section (both domains).
- ``pauc``: ``sklearn.metrics.roc_auc_score(y_true, y_score, max_fpr=0.1)`` over all clips of the
  section (the McClish-standardised partial AUC).
- official score: harmonic mean of [auc_source of every section] + [auc_target of every section]
  + [pauc of every section], each value clipped below at ``sys.float_info.epsilon``
  (the evaluator's ``numpy.maximum(values, sys.float_info.epsilon)``).
- per-domain precision / recall / F1 of the 0/1 decisions use the clips of that domain only
  (its normals and its anomalies), with ``tp / max(tp + fp, eps)`` etc., as the evaluator does.

Authors
 * speechbrain-asd contributors
"""

import math
import sys
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.stats
from sklearn.metrics import roc_auc_score

EPSILON = sys.float_info.epsilon
DOMAINS = ("source", "target")

__all__ = [
    "EPSILON",
    "DOMAINS",
    "section_scores",
    "official_score",
    "hmean_auc",
    "hmean_pauc",
    "jackknife_ci",
    "subgroup_auc",
    "aggregate_runs",
    "format_mean_std",
]


def _where(section):
    return f"section {section!r}: " if section is not None else ""


def _to_numpy(values):
    if hasattr(values, "detach"):  # torch.Tensor without importing torch here
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _check_labels(y_true, name, section):
    y = _to_numpy(y_true)
    if y.ndim != 1:
        raise ValueError(f"{_where(section)}{name} must be 1-D, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"{_where(section)}{name} must hold 0 (normal) / 1 (anomalous) numbers, "
            f"got dtype {y.dtype}"
        )
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(
            f"{_where(section)}{name} must be 0 (normal) or 1 (anomalous); "
            f"found {np.unique(y[bad])[:5].tolist()} at index {int(np.flatnonzero(bad)[0])}"
        )
    return y.astype(np.int64)


def _check_scores(y_score, n, section, name="y_score"):
    s = _to_numpy(y_score)
    if s.ndim != 1:
        raise ValueError(f"{_where(section)}{name} must be 1-D, got shape {s.shape}")
    if s.dtype.kind not in "iuf":
        raise ValueError(f"{_where(section)}{name} must be numeric, got dtype {s.dtype}")
    if len(s) != n:
        raise ValueError(
            f"{_where(section)}length mismatch: y_true has {n} entries, {name} has {len(s)}"
        )
    s = s.astype(np.float64)
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"{_where(section)}{name} contains {int(bad.sum())} NaN/inf value(s), "
            f"first at index {int(np.flatnonzero(bad)[0])}"
        )
    return s


def _check_domains(domain, n, section):
    d = np.asarray(_to_numpy(domain), dtype=object)
    if d.ndim != 1 or len(d) != n:
        raise ValueError(
            f"{_where(section)}length mismatch: y_true has {n} entries, domain has "
            f"{d.shape[0] if d.ndim else 'a scalar'}"
        )
    is_source = np.array([v == "source" for v in d], dtype=bool)
    is_target = np.array([v == "target" for v in d], dtype=bool)
    unknown = ~(is_source | is_target)
    if unknown.any():
        values = sorted({repr(v) for v in d[unknown]})[:5]
        raise ValueError(
            f"{_where(section)}unknown domain label(s) {', '.join(values)}; "
            f"expected 'source' or 'target'"
        )
    return is_target


def _check_both_classes(y, section, what="section"):
    n_anomalous = int(y.sum())
    if n_anomalous == 0:
        raise ValueError(f"{_where(section)}the {what} has no anomalous clips (y_true == 1)")
    if n_anomalous == len(y):
        raise ValueError(f"{_where(section)}the {what} has no normal clips (y_true == 0)")


def _check_max_fpr(max_fpr):
    if not 0.0 < float(max_fpr) <= 1.0:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr!r}")


def _decision_metrics(y, decisions):
    tp = int(np.sum((decisions == 1) & (y == 1)))
    fp = int(np.sum((decisions == 1) & (y == 0)))
    fn = int(np.sum((decisions == 0) & (y == 1)))
    precision = tp / max(tp + fp, EPSILON)
    recall = tp / max(tp + fn, EPSILON)
    f1 = 2.0 * precision * recall / max(precision + recall, EPSILON)
    return precision, recall, f1


def section_scores(y_true, y_score, domain, max_fpr=0.1, decisions=None, section=None):
    """Computes the official DCASE2023 metrics of one section (one machine type in 2023).

    Arguments
    ---------
    y_true : array-like
        ``[N]`` ground truth, 1 = anomalous, 0 = normal (bool accepted).
    y_score : array-like
        ``[N]`` anomaly scores, higher = more anomalous; must be finite.
    domain : sequence of str
        ``[N]`` "source" or "target" per clip.
    max_fpr : float
        Upper false-positive-rate bound of the pAUC (0.1 in DCASE).
    decisions : array-like, optional
        ``[N]`` 0/1 decisions (1 = anomalous); adds per-domain precision / recall / F1.
    section : str, optional
        Name used in error messages, e.g. "fan_section_00".

    Returns
    -------
    dict
        ``auc`` (all clips), ``auc_source``, ``auc_target``, ``pauc``, the clip counts
        ``n_normal_source``, ``n_anomaly_source``, ``n_normal_target``, ``n_anomaly_target``,
        and with ``decisions`` also ``precision_source``, ``recall_source``, ``f1_source``,
        ``precision_target``, ``recall_target``, ``f1_target``. Metrics are fractions in [0, 1].

    Example
    -------
    >>> m = section_scores(
    ...     [0, 0, 1, 0, 0, 1], [0.1, 0.4, 0.9, 0.3, 0.6, 0.5],
    ...     ["source"] * 3 + ["target"] * 3)
    >>> round(m["auc_source"], 4), round(m["auc_target"], 4), round(m["auc"], 4)
    (1.0, 0.75, 0.875)
    """
    y = _check_labels(y_true, "y_true", section)
    s = _check_scores(y_score, len(y), section)
    is_target = _check_domains(domain, len(y), section)
    _check_max_fpr(max_fpr)
    _check_both_classes(y, section)
    result = {}
    for name, in_domain in (("source", ~is_target), ("target", is_target)):
        result[f"n_normal_{name}"] = int(np.sum(in_domain & (y == 0)))
        result[f"n_anomaly_{name}"] = int(np.sum(in_domain & (y == 1)))
        if result[f"n_normal_{name}"] == 0:
            raise ValueError(
                f"{_where(section)}no normal clips in the {name} domain, so its AUC is undefined"
            )
    result["auc"] = float(roc_auc_score(y, s))
    for name, in_domain in (("source", ~is_target), ("target", is_target)):
        # Official definition: this domain's normals against ALL anomalies of the section.
        keep = in_domain | (y == 1)
        result[f"auc_{name}"] = float(roc_auc_score(y[keep], s[keep]))
    result["pauc"] = float(roc_auc_score(y, s, max_fpr=max_fpr))
    if decisions is not None:
        dec = _check_labels(decisions, "decisions", section)
        if len(dec) != len(y):
            raise ValueError(
                f"{_where(section)}length mismatch: y_true has {len(y)} entries, "
                f"decisions has {len(dec)}"
            )
        for name, in_domain in (("source", ~is_target), ("target", is_target)):
            p, r, f = _decision_metrics(y[in_domain], dec[in_domain])
            result[f"precision_{name}"] = p
            result[f"recall_{name}"] = r
            result[f"f1_{name}"] = f
    return result


def _section_list(per_section):
    if isinstance(per_section, Mapping):
        items = list(per_section.items())
    elif isinstance(per_section, Sequence) and not isinstance(per_section, str):
        items = list(enumerate(per_section))
    else:
        raise ValueError(
            "per_section must be a dict section -> metrics dict or a list of metrics dicts, "
            f"got {type(per_section).__name__}"
        )
    if not items:
        raise ValueError("per_section is empty: no section to average")
    return items


def _collect(per_section, keys):
    values = []
    for key in keys:
        for name, metrics in _section_list(per_section):
            if key not in metrics:
                raise ValueError(f"section {name!r}: metrics dict has no {key!r}")
            value = float(metrics[key])
            if not math.isfinite(value):
                raise ValueError(f"section {name!r}: {key} is {value}")
            values.append(value)
    return np.asarray(values)


def _hmean_clipped(values):
    # The evaluator clips at machine epsilon so that a zero AUC gives a tiny mean, not an error.
    return float(scipy.stats.hmean(np.maximum(values, EPSILON)))


def official_score(per_section):
    """Computes the DCASE2023 Task 2 official score.

    Harmonic mean over [auc_source of every section] + [auc_target of every section] +
    [pauc of every section], each value clipped below at ``EPSILON`` (``sys.float_info.epsilon``,
    as in the official evaluator): 21 values for the 7 machine types of a DCASE2023 set.

    Arguments
    ---------
    per_section : dict or list
        Section key -> dict with ``auc_source``, ``auc_target`` and ``pauc`` (as returned by
        :func:`section_scores`), or a list of such dicts.

    Returns
    -------
    float
        The official score, a fraction in [0, 1].

    Example
    -------
    >>> official_score({"fan": {"auc_source": 0.8, "auc_target": 0.6, "pauc": 0.5}})
    0.6
    """
    return _hmean_clipped(_collect(per_section, ("auc_source", "auc_target", "pauc")))


def hmean_auc(per_section):
    """Harmonic mean of all ``auc_source`` and ``auc_target`` values (the paper's "AUC").

    Arguments
    ---------
    per_section : dict or list
        As for :func:`official_score`.

    Returns
    -------
    float
        Harmonic mean (values clipped below at ``EPSILON``), a fraction in [0, 1].

    Example
    -------
    >>> hmean_auc([{"auc_source": 0.5, "auc_target": 1.0, "pauc": 0.1}])
    0.666...
    """
    return _hmean_clipped(_collect(per_section, ("auc_source", "auc_target")))


def hmean_pauc(per_section):
    """Harmonic mean of the ``pauc`` values of all sections (the paper's "pAUC").

    Arguments
    ---------
    per_section : dict or list
        As for :func:`official_score`.

    Returns
    -------
    float
        Harmonic mean (values clipped below at ``EPSILON``), a fraction in [0, 1].

    Example
    -------
    >>> hmean_pauc([{"pauc": 0.5}, {"pauc": 1.0}])
    0.666...
    """
    return _hmean_clipped(_collect(per_section, ("pauc",)))


def _clipped_roc_area(fpr, tpr, max_fpr):
    """Area under piecewise-linear ROC rows ``[R, K]`` from fpr 0 up to ``max_fpr``."""
    x0, x1 = fpr[:, :-1], fpr[:, 1:]
    t0, t1 = tpr[:, :-1], tpr[:, 1:]
    width = x1 - x0
    full = x1 <= max_fpr
    crossing = (x0 < max_fpr) & (x1 > max_fpr)
    safe_width = np.where(width > 0, width, 1.0)
    t_at_max = t0 + (t1 - t0) * (max_fpr - x0) / safe_width
    area = np.where(full, width * (t0 + t1) / 2.0, 0.0)
    area += np.where(crossing, (max_fpr - x0) * (t0 + t_at_max) / 2.0, 0.0)
    return area.sum(axis=1)


def _leave_one_out_auc(y, s, max_fpr, chunk=256):
    """``[N]`` (partial) AUCs with clip i left out, exactly as sklearn would compute them.

    Instead of N calls of roc_auc_score, the ROC vertices (one per group of tied scores) are
    built once; leaving clip i out only subtracts 1 from the TP or FP count of every vertex at
    or after its score group, so all N curves are evaluated as matrices.
    """
    n = len(y)
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    starts = np.r_[True, s_sorted[1:] != s_sorted[:-1]]
    group_sorted = np.cumsum(starts) - 1
    n_groups = int(group_sorted[-1]) + 1
    pos = np.bincount(group_sorted, weights=y[order], minlength=n_groups)
    neg = np.bincount(group_sorted, weights=1 - y[order], minlength=n_groups)
    tps = np.r_[0.0, np.cumsum(pos)]
    fps = np.r_[0.0, np.cumsum(neg)]
    group = np.empty(n, dtype=np.int64)
    group[order] = group_sorted
    vertex = np.arange(n_groups + 1)[None, :]
    out = np.empty(n)
    for start in range(0, n, chunk):
        yi = y[start : start + chunk, None].astype(np.float64)
        after = vertex > group[start : start + chunk, None]
        tpr = (tps[None, :] - yi * after) / (tps[-1] - yi)
        fpr = (fps[None, :] - (1.0 - yi) * after) / (fps[-1] - (1.0 - yi))
        out[start : start + chunk] = _clipped_roc_area(fpr, tpr, max_fpr)
    if max_fpr < 1.0:
        # sklearn's McClish standardisation of the partial area.
        min_area = 0.5 * max_fpr**2
        out = 0.5 * (1.0 + (out - min_area) / (max_fpr - min_area))
    return out


def _jackknife(theta_hat, theta_loo, confidence, formula):
    n = len(theta_loo)
    theta_mean = float(np.mean(theta_loo))
    pseudo = n * theta_hat - (n - 1) * theta_loo
    squares = float(np.sum((theta_loo - theta_mean) ** 2))
    if formula == "evaluator":
        sigma = math.sqrt(squares / (n * (n - 1)))
    else:
        sigma = math.sqrt((n - 1) / n * squares)
    t_crit = abs(float(scipy.stats.t.ppf((1.0 - confidence) / 2.0, n - 1)))
    return float(np.mean(pseudo)), t_crit * sigma


def jackknife_ci(y_true, y_score, max_fpr=0.1, confidence=0.95, formula="evaluator"):
    """Jackknife confidence interval of the official score, as the official evaluator reports it.

    The evaluator pools the clips of ALL sections (all machine types), runs a leave-one-clip-out
    jackknife of the pooled AUC and of the pooled pAUC, and reports as "official score ci95" the
    mean of the two half-widths (Mesaros et al., IEEE/ACM TASLP 27(6), 2019, section IV):

    - theta_i: the statistic without clip i (i = 1..N); theta_bar their mean;
    - estimate: mean of the pseudo-values N * theta - (N - 1) * theta_i;
    - half-width: t_{N-1, (1+confidence)/2} * sigma, where the evaluator uses
      ``sigma = sqrt(sum((theta_i - theta_bar)^2) / (N (N - 1)))`` (``formula="evaluator"``).
      The textbook jackknife standard error is ``sqrt((N - 1) / N * sum(...))``, larger by a
      factor N - 1 (``formula="standard"``).

    Arguments
    ---------
    y_true : array-like
        ``[N]`` 0 normal / 1 anomalous of all test clips of all sections.
    y_score : array-like
        ``[N]`` anomaly scores (finite).
    max_fpr : float
        pAUC bound (0.1).
    confidence : float
        Confidence level in (0, 1), 0.95 in the evaluator.
    formula : str
        "evaluator" (default, reproduces the reported numbers) or "standard".

    Returns
    -------
    dict
        ``auc`` / ``pauc`` (pooled statistics), ``auc_jack`` / ``pauc_jack`` (jackknife
        estimates), ``auc_half_width`` / ``pauc_half_width`` and ``half_width`` (their mean: the
        evaluator's "official score ci95"), ``n_clips``, ``confidence``, ``formula``.

    Example
    -------
    >>> ci = jackknife_ci([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.6, 0.8, 0.9])
    >>> round(ci["auc"], 4), ci["n_clips"]
    (0.8889, 6)
    """
    y = _check_labels(y_true, "y_true", None)
    s = _check_scores(y_score, len(y), None)
    _check_max_fpr(max_fpr)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if formula not in ("evaluator", "standard"):
        raise ValueError(f"formula must be 'evaluator' or 'standard', got {formula!r}")
    n_anomalous = int(y.sum())
    if min(n_anomalous, len(y) - n_anomalous) < 2:
        raise ValueError(
            "jackknife_ci needs at least 2 normal and 2 anomalous clips (leaving one out must "
            f"keep both classes); got {len(y) - n_anomalous} normal, {n_anomalous} anomalous"
        )
    result = {"n_clips": len(y), "confidence": confidence, "formula": formula}
    for name, bound in (("auc", 1.0), ("pauc", float(max_fpr))):
        theta = float(roc_auc_score(y, s, max_fpr=None if bound == 1.0 else bound))
        loo = _leave_one_out_auc(y, s, bound)
        estimate, half_width = _jackknife(theta, loo, confidence, formula)
        result[name] = theta
        result[f"{name}_jack"] = estimate
        result[f"{name}_half_width"] = half_width
    result["half_width"] = 0.5 * (result["auc_half_width"] + result["pauc_half_width"])
    return result


def subgroup_auc(y_true, y_score, groups):
    """AUC per group (hidden operating condition, majority / minority, ...).

    Each group's AUC uses the normal and the anomalous clips of that group only. A group without
    normals or without anomalies gets NaN and a warning (breakdowns are optional, so no error).

    Arguments
    ---------
    y_true : array-like
        ``[N]`` 0 normal / 1 anomalous.
    y_score : array-like
        ``[N]`` anomaly scores (finite).
    groups : sequence
        ``[N]`` hashable group label per clip.

    Returns
    -------
    dict
        group -> AUC (fraction in [0, 1] or NaN), in sorted order of ``str(group)``.

    Example
    -------
    >>> subgroup_auc([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2], ["a", "a", "b", "b"])
    {'a': 1.0, 'b': 0.0}
    """
    y = _check_labels(y_true, "y_true", None)
    s = _check_scores(y_score, len(y), None)
    g = np.asarray(list(groups), dtype=object)
    if len(g) != len(y):
        raise ValueError(f"length mismatch: y_true has {len(y)} entries, groups has {len(g)}")
    result = {}
    for group in sorted(set(g.tolist()), key=str):
        mask = np.array([v == group for v in g], dtype=bool)
        n_anomalous = int(y[mask].sum())
        if n_anomalous == 0 or n_anomalous == int(mask.sum()):
            warnings.warn(
                f"group {group!r} has {int(mask.sum()) - n_anomalous} normal and {n_anomalous} "
                "anomalous clips: its AUC is undefined, reported as NaN",
                stacklevel=2,
            )
            result[group] = float("nan")
        else:
            result[group] = float(roc_auc_score(y[mask], s[mask]))
    return result


def aggregate_runs(runs):
    """Mean and sample standard deviation of metrics over runs (e.g. 5 seeds).

    Arguments
    ---------
    runs : list of dict
        One dict metric name -> number per run; all runs must have the same names.

    Returns
    -------
    dict
        name -> (mean, std) with the sample standard deviation (``ddof=1``, as reported
        "mean ± std over 5 runs"); std is NaN for a single run.

    Example
    -------
    >>> mean, std = aggregate_runs([{"auc": 0.7}, {"auc": 0.8}, {"auc": 0.9}])["auc"]
    >>> round(mean, 6), round(std, 6)
    (0.8, 0.1)
    """
    if isinstance(runs, Mapping) or not isinstance(runs, Sequence) or not runs:
        raise ValueError("runs must be a non-empty list of dicts (one per run)")
    names = list(runs[0].keys())
    for index, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise ValueError(f"run {index} is a {type(run).__name__}, expected a dict")
        if set(run.keys()) != set(names):
            missing = sorted(set(names) ^ set(run.keys()), key=str)
            raise ValueError(f"run {index} does not have the same metric names as run 0: {missing}")
    result = {}
    for name in names:
        values = []
        for index, run in enumerate(runs):
            value = run[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"run {index}: metric {name!r} is not a number: {value!r}")
            values.append(float(value))
        values = np.asarray(values)
        std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        result[name] = (float(np.mean(values)), std)
    return result


def format_mean_std(mean, std, percent=True, digits=2):
    """Formats "mean ± std" as in the paper's tables.

    Arguments
    ---------
    mean : float
        Mean (a fraction when ``percent`` is True).
    std : float
        Standard deviation (same unit as mean).
    percent : bool
        Multiply both by 100.
    digits : int
        Digits after the decimal point.

    Returns
    -------
    str
        e.g. "73.91 ± 0.59".

    Example
    -------
    >>> format_mean_std(0.73912, 0.00588)
    '73.91 ± 0.59'
    """
    scale = 100.0 if percent else 1.0
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
