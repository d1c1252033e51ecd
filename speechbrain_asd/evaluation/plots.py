"""Optional figures: ROC curves, score histograms and a t-SNE map of embeddings.

matplotlib is an optional extra (``pip install speechbrain-asd[plots]``); it is imported only
when a figure is drawn, and a clear ImportError says how to install it. Figures are drawn with
``matplotlib.figure.Figure`` (no pyplot state, no display needed) and never replace an existing
file unless ``overwrite=True``.

Authors
 * speechbrain-asd contributors
"""

import pathlib

import numpy as np
from sklearn.manifold import TSNE
from sklearn.metrics import roc_curve

__all__ = ["require_matplotlib", "plot_roc_curves", "plot_score_histograms", "plot_tsne"]


def require_matplotlib():
    """Imports matplotlib's Figure, or fails with a message that says how to install it.

    Arguments
    ---------
    None

    Returns
    -------
    type
        ``matplotlib.figure.Figure``.

    Example
    -------
    >>> try:
    ...     figure_class = require_matplotlib()
    ... except ImportError as error:
    ...     figure_class = "speechbrain-asd[plots]" in str(error)
    >>> bool(figure_class)
    True
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plotting needs matplotlib, which is not installed; install the optional extra "
            "with `pip install speechbrain-asd[plots]` (or `pip install matplotlib`)"
        ) from error
    return Figure


def _figure(n_panels, width=4.0, height=3.5):
    figure_class = require_matplotlib()
    columns = min(n_panels, 4)
    rows = -(-n_panels // columns)
    figure = figure_class(figsize=(width * columns, height * rows))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis in axes[n_panels:]:
        axis.set_visible(False)
    return figure, axes


def _save(figure, path, overwrite):
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def _by_machine(records):
    machines = {}
    for record in records:
        label = record["label"]
        label = {"normal": 0, "anomaly": 1}.get(label, label)
        machines.setdefault(str(record["machine"]), []).append(
            (int(label), float(record["score"]), record["domain"])
        )
    if not machines:
        raise ValueError("records is empty: nothing to plot")
    return machines


def plot_roc_curves(records, path, overwrite=False):
    """ROC curve per machine type, one line per domain (official AUC definition).

    Arguments
    ---------
    records : list of dict
        Per-clip records (machine, domain, label, score) as for ``evaluate_records``.
    path : str or pathlib.Path
        Image file to write (format from the suffix, e.g. ".png").
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> import tempfile
    >>> records = [{"machine": "fan", "domain": d, "label": lab, "score": s}
    ...            for d, lab, s in [("source", 0, 0.1), ("source", 1, 0.9),
    ...                              ("target", 0, 0.3), ("target", 1, 0.7)]]
    >>> try:
    ...     path = plot_roc_curves(records, tempfile.mkdtemp() + "/roc.png")
    ... except ImportError:  # matplotlib is optional
    ...     path = None
    >>> path is None or path.exists()
    True
    """
    machines = _by_machine(records)
    figure, axes = _figure(len(machines))
    for axis, (machine, rows) in zip(axes, sorted(machines.items())):
        labels = np.array([r[0] for r in rows])
        scores = np.array([r[1] for r in rows])
        domains = np.array([r[2] for r in rows], dtype=object)
        for domain in ("source", "target"):
            keep = (domains == domain) | (labels == 1)
            if (labels[keep] == 0).any() and (labels[keep] == 1).any():
                fpr, tpr, _ = roc_curve(labels[keep], scores[keep])
                axis.plot(fpr, tpr, label=domain)
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
        axis.axvline(0.1, color="grey", linewidth=0.5)
        axis.set(title=machine, xlabel="false positive rate", ylabel="true positive rate")
        axis.legend(loc="lower right")
    return _save(figure, path, overwrite)


def plot_score_histograms(records, path, bins=30, overwrite=False):
    """Histograms of anomaly scores, normal vs anomalous, per machine type and domain.

    Arguments
    ---------
    records : list of dict
        Per-clip records (machine, domain, label, score).
    path : str or pathlib.Path
        Image file to write.
    bins : int
        Histogram bins.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> import tempfile
    >>> records = [{"machine": "fan", "domain": "source", "label": i % 2, "score": i / 10}
    ...            for i in range(10)]
    >>> try:
    ...     path = plot_score_histograms(records, tempfile.mkdtemp() + "/hist.png")
    ... except ImportError:  # matplotlib is optional
    ...     path = None
    >>> path is None or path.exists()
    True
    """
    machines = _by_machine(records)
    panels = [(m, d) for m in sorted(machines) for d in ("source", "target")]
    figure, axes = _figure(len(panels))
    for axis, (machine, domain) in zip(axes, panels):
        rows = [r for r in machines[machine] if r[2] == domain]
        all_scores = [r[1] for r in machines[machine]]
        edges = np.histogram_bin_edges(all_scores, bins=bins)
        for label, name in ((0, "normal"), (1, "anomalous")):
            values = [r[1] for r in rows if r[0] == label]
            if values:
                axis.hist(values, bins=edges, alpha=0.6, label=f"{name} ({len(values)})")
        axis.set(title=f"{machine} {domain}", xlabel="anomaly score", ylabel="clips")
        if rows:
            axis.legend()
        else:
            axis.text(0.5, 0.5, "no clips", ha="center", transform=axis.transAxes)
    return _save(figure, path, overwrite)


def plot_tsne(embeddings, machines, labels, path, seed=0, overwrite=False):
    """2-D t-SNE of test embeddings, coloured by machine type, marker by label.

    Arguments
    ---------
    embeddings : np.ndarray or torch.Tensor
        ``[N, D]`` embeddings.
    machines : sequence of str
        ``[N]`` machine type per clip.
    labels : sequence
        ``[N]`` 0/"normal" or 1/"anomaly".
    path : str or pathlib.Path
        Image file to write.
    seed : int
        ``random_state`` of sklearn's TSNE.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> import tempfile
    >>> emb = np.random.default_rng(0).normal(size=(12, 4))
    >>> try:
    ...     path = plot_tsne(emb, ["fan"] * 12, [0, 1] * 6, tempfile.mkdtemp() + "/tsne.png")
    ... except ImportError:  # matplotlib is optional
    ...     path = None
    >>> path is None or path.exists()
    True
    """
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().cpu().numpy()
    x = np.asarray(embeddings, dtype=np.float64)
    machines = [str(m) for m in machines]
    labels = [{"normal": 0, "anomaly": 1}.get(v, v) for v in labels]
    if x.ndim != 2 or len(x) != len(machines) or len(x) != len(labels):
        raise ValueError(
            f"embeddings {x.shape}, machines ({len(machines)}) and labels ({len(labels)}) "
            "must describe the same N clips"
        )
    if len(x) < 3:
        raise ValueError(f"t-SNE needs at least 3 embeddings, got {len(x)}")
    figure, axes = _figure(1, width=6.0, height=5.0)
    perplexity = min(30.0, (len(x) - 1) / 3.0)
    points = TSNE(n_components=2, perplexity=perplexity, random_state=seed).fit_transform(x)
    axis = axes[0]
    machine_array = np.array(machines, dtype=object)
    label_array = np.array(labels)
    for machine in sorted(set(machines)):
        for label, marker in ((0, "o"), (1, "x")):
            mask = (machine_array == machine) & (label_array == label)
            if mask.any():
                name = f"{machine} {'anomalous' if label else 'normal'}"
                axis.scatter(points[mask, 0], points[mask, 1], marker=marker, s=10, label=name)
    axis.set(title="t-SNE of test embeddings")
    axis.legend(fontsize="small", markerscale=2)
    return _save(figure, path, overwrite)
