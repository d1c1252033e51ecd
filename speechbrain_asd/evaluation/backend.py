"""Back ends: turn clip embeddings into anomaly scores, one back end per section.

A back end is fitted on the (normal) training embeddings of one section and scores test
embeddings; higher = more anomalous. The interface (:class:`Backend`):

- ``fit(train_embeddings, train_domains) -> self`` with embeddings ``[N, D]`` (numpy or torch)
  and a sequence of "source" / "target" strings ``[N]``;
- ``score(test_embeddings) -> np.ndarray [N]``;
- ``state_dict() -> dict`` of plain numpy arrays / python values and ``load_state_dict(state)``,
  so that inference needs no training data.

:class:`KMeansBackend` is the SSLASD back end (k-means on the source domain, every target
training clip its own reference, minimum cosine distance). :class:`KNNBackend` and
:class:`MahalanobisBackend` are alternatives behind the same interface. :class:`SectionBackends`
holds one back end per section key plus a decision threshold per section and can be listed in a
SpeechBrain ``Checkpointer``'s recoverables.

All computations are deterministic and vectorised (matrix products, no loop over clips).

Authors
 * speechbrain-asd contributors
"""

import abc
import pathlib
import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.covariance import ledoit_wolf
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

__all__ = [
    "Backend",
    "KMeansBackend",
    "KNNBackend",
    "MahalanobisBackend",
    "SectionBackends",
]

DOMAINS = ("source", "target")


def _as_matrix(embeddings, name, dim=None):
    """Returns a float64 ``[N, D]`` numpy copy of numpy / torch embeddings, validated."""
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().cpu().double().numpy()
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a [N, D] matrix, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} have dimension {x.shape[1]}, the back end was fitted on {dim}")
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ValueError(f"{name} contain NaN/inf in {len(rows)} row(s), first row {rows[0]}")
    return x


def _l2_normalise(x):
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    # A zero embedding has no direction; keep it zero (cosine 0 to everything) instead of NaN.
    return x / np.maximum(norm, 1e-12)


def _domain_mask(domains, n, name="train_domains"):
    """``[N]`` bool, True for target-domain clips; None means all source."""
    if domains is None:
        return np.zeros(n, dtype=bool)
    if isinstance(domains, str):
        raise ValueError(
            f"{name} must be a sequence of 'source'/'target', got the string {domains!r}"
        )
    values = list(domains)
    if len(values) != n:
        raise ValueError(f"length mismatch: {n} embeddings but {len(values)} {name}")
    unknown = sorted({repr(v) for v in values if v not in DOMAINS})
    if unknown:
        raise ValueError(
            f"unknown {name} value(s) {', '.join(unknown[:5])}; expected 'source' or 'target'"
        )
    return np.array([v == "target" for v in values], dtype=bool)


class Backend(abc.ABC):
    """Interface of a back end fitted on the normal training embeddings of one section.

    Subclasses implement ``_fit``, ``_score``, ``_arrays`` (fitted arrays for the state dict) and
    ``_hparams`` (constructor arguments); validation, state dicts and errors are shared.

    Arguments
    ---------
    None (see the subclasses).

    Example
    -------
    >>> backend = KNNBackend(n_neighbors=1).fit(np.eye(3), ["source"] * 3)
    >>> isinstance(backend, Backend), backend.score(np.eye(3)).round(6).tolist()
    (True, [0.0, 0.0, 0.0])
    """

    def __init__(self):
        self.dim = None

    @property
    def fitted(self):
        """True once ``fit`` or ``load_state_dict`` of a fitted state was called."""
        return self.dim is not None

    def fit(self, train_embeddings, train_domains=None):
        """Fits the back end on the training embeddings of one section.

        Arguments
        ---------
        train_embeddings : np.ndarray or torch.Tensor
            ``[N, D]`` embeddings of normal training clips.
        train_domains : sequence of str, optional
            ``[N]`` "source" / "target"; None means all source.

        Returns
        -------
        Backend
            ``self``.
        """
        x = _as_matrix(train_embeddings, "train_embeddings")
        if len(x) == 0:
            raise ValueError("train_embeddings is empty: cannot fit a back end on no clips")
        is_target = _domain_mask(train_domains, len(x))
        self._fit(x, is_target)
        self.dim = x.shape[1]
        return self

    def score(self, test_embeddings):
        """Anomaly scores of test embeddings (higher = more anomalous).

        Arguments
        ---------
        test_embeddings : np.ndarray or torch.Tensor
            ``[N, D]`` embeddings.

        Returns
        -------
        np.ndarray
            ``[N]`` float64 scores.
        """
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        x = _as_matrix(test_embeddings, "test_embeddings", dim=self.dim)
        if len(x) == 0:
            return np.zeros(0)
        return self._score(x)

    def state_dict(self):
        """Everything needed to score, as plain numpy arrays and python values.

        Returns
        -------
        dict
            ``backend`` (class name), the constructor arguments, ``dim`` and fitted arrays.
        """
        state = {"backend": type(self).__name__, "dim": self.dim, **self._hparams()}
        if self.fitted:
            state.update({k: np.array(v, copy=True) for k, v in self._arrays().items()})
        return state

    def load_state_dict(self, state):
        """Restores a state produced by :meth:`state_dict` (hyper-parameters included).

        Arguments
        ---------
        state : dict
            As returned by ``state_dict``.

        Returns
        -------
        Backend
            ``self``.
        """
        if state.get("backend") != type(self).__name__:
            raise ValueError(
                f"state dict is for back end {state.get('backend')!r}, cannot load it into "
                f"{type(self).__name__}"
            )
        for key in self._hparams():
            if key not in state:
                raise ValueError(f"{type(self).__name__} state dict lacks {key!r}")
            setattr(self, key, _plain(state[key]))
        dim = state.get("dim")
        self.dim = None if dim is None else int(dim)
        if self.fitted:
            arrays = {}
            for key in self._array_names():
                if key not in state:
                    raise ValueError(f"{type(self).__name__} state dict lacks array {key!r}")
                arrays[key] = np.asarray(state[key], dtype=np.float64)
            self._set_arrays(arrays)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hparams().items())
        return f"{type(self).__name__}({args})"

    @abc.abstractmethod
    def _fit(self, x, is_target):
        """Fits on float64 ``[N, D]`` ``x`` with ``[N]`` bool ``is_target``."""

    @abc.abstractmethod
    def _score(self, x):
        """Scores float64 ``[N, D]`` ``x`` -> ``[N]``."""

    @abc.abstractmethod
    def _hparams(self):
        """Constructor arguments as a dict of python values."""

    @abc.abstractmethod
    def _array_names(self):
        """Names of the fitted arrays."""

    def _arrays(self):
        return {name: getattr(self, name) for name in self._array_names()}

    def _set_arrays(self, arrays):
        for name, value in arrays.items():
            setattr(self, name, value)


def _plain(value):
    """Python scalar from numpy / torch 0-d values, so hyper-parameters stay plain."""
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)) and np.ndim(value) == 0:
        return value.item()
    return value


class KMeansBackend(Backend):
    """The SSLASD back end: k-means on source clips, target clips as their own references.

    Embeddings are L2-normalised. ``sklearn.cluster.KMeans`` (``random_state=seed``,
    ``n_init=10``, fixed so results do not depend on the scikit-learn default) clusters the
    source-domain training embeddings; the centres are L2-normalised again. Every target-domain
    training embedding is a reference of its own. The score of a clip is its smallest cosine
    distance ``1 - cos`` to any reference, in [0, 2].

    With fewer source clips than ``n_clusters`` a warning names both numbers and every source
    clip becomes a centre; with no source clip at all, only the target references are used
    (with a warning).

    Arguments
    ---------
    n_clusters : int
        Number of k-means centres (16 in SSLASD).
    seed : int
        ``random_state`` of KMeans.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(40, 8)) + 5.0
    >>> backend = KMeansBackend(n_clusters=4).fit(train, ["source"] * 38 + ["target"] * 2)
    >>> near, far = backend.score(np.stack([train[0], -train[0]]))
    >>> bool(near < far)
    True
    """

    n_init = 10

    def __init__(self, n_clusters=16, seed=0):
        super().__init__()
        if int(n_clusters) < 1:
            raise ValueError(f"n_clusters must be >= 1, got {n_clusters!r}")
        self.n_clusters = int(n_clusters)
        self.seed = int(seed)
        self.references = None

    def _fit(self, x, is_target):
        x = _l2_normalise(x)
        source, target = x[~is_target], x[is_target]
        if len(source) == 0:
            warnings.warn(
                f"KMeansBackend: no source-domain training clips; scoring against the "
                f"{len(target)} target-domain references only",
                stacklevel=3,
            )
            centres = np.zeros((0, x.shape[1]))
        else:
            n_clusters = self.n_clusters
            if len(source) < n_clusters:
                warnings.warn(
                    f"KMeansBackend: {len(source)} source-domain training clips for "
                    f"n_clusters={n_clusters}; using {len(source)} clusters",
                    stacklevel=3,
                )
                n_clusters = len(source)
            kmeans = KMeans(n_clusters=n_clusters, n_init=self.n_init, random_state=self.seed)
            with warnings.catch_warnings():
                # Duplicate embeddings give fewer distinct clusters; harmless for min distance.
                warnings.filterwarnings("ignore", message="Number of distinct clusters")
                kmeans.fit(source)
            centres = _l2_normalise(kmeans.cluster_centers_)
        self.references = np.concatenate([centres, target], axis=0)

    def _score(self, x):
        cosine = _l2_normalise(x) @ self.references.T
        # Rounding can push 1 - cos a hair below 0 for a clip equal to a reference.
        return np.maximum(1.0 - cosine.max(axis=1), 0.0)

    def _hparams(self):
        return {"n_clusters": self.n_clusters, "seed": self.seed}

    def _array_names(self):
        return ("references",)


class KNNBackend(Backend):
    """Mean cosine distance to the k nearest training embeddings (domains ignored).

    Arguments
    ---------
    n_neighbors : int
        k; capped (with a warning) at the number of training clips.

    Example
    -------
    >>> train = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> KNNBackend(n_neighbors=1).fit(train).score([[1.0, 0.0], [-1.0, 0.0]]).tolist()
    [0.0, 1.0]
    """

    def __init__(self, n_neighbors=1):
        super().__init__()
        if int(n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors!r}")
        self.n_neighbors = int(n_neighbors)
        self.references = None

    def _fit(self, x, is_target):
        if len(x) < self.n_neighbors:
            warnings.warn(
                f"KNNBackend: {len(x)} training clips for n_neighbors={self.n_neighbors}; "
                f"averaging over all {len(x)}",
                stacklevel=3,
            )
        self.references = _l2_normalise(x)

    def _score(self, x):
        distance = np.maximum(1.0 - _l2_normalise(x) @ self.references.T, 0.0)
        k = min(self.n_neighbors, distance.shape[1])
        if k == 1:
            return distance.min(axis=1)
        nearest = np.partition(distance, k - 1, axis=1)[:, :k]
        return nearest.mean(axis=1)

    def _hparams(self):
        return {"n_neighbors": self.n_neighbors}

    def _array_names(self):
        return ("references",)


class MahalanobisBackend(Backend):
    """Mahalanobis distance to each domain's Gaussian; score = minimum over domains.

    Per domain present in the training data: mean and Ledoit-Wolf shrunk covariance of the
    (L2-normalised, if ``normalize``) embeddings, plus ``ridge`` times the mean variance on the
    diagonal so that tiny domains (even a single clip) give an invertible matrix.

    Arguments
    ---------
    normalize : bool
        L2-normalise embeddings first (the embeddings are trained for cosine similarity).
    ridge : float
        Relative diagonal loading (fraction of the mean variance; an absolute 1e-6 when the
        domain has zero variance).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(50, 4))
    >>> backend = MahalanobisBackend(normalize=False).fit(train)
    >>> near, far = backend.score(np.array([[0.0, 0, 0, 0], [9.0, 9, 9, 9]]))
    >>> bool(near < far)
    True
    """

    def __init__(self, normalize=True, ridge=1e-3):
        super().__init__()
        if float(ridge) < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge!r}")
        self.normalize = bool(normalize)
        self.ridge = float(ridge)
        self.means = None
        self.precisions = None

    def _fit(self, x, is_target):
        if self.normalize:
            x = _l2_normalise(x)
        means, precisions = [], []
        for mask in (~is_target, is_target):
            if not mask.any():
                continue
            part = x[mask]
            mean = part.mean(axis=0)
            if len(part) > 1:
                covariance, _ = ledoit_wolf(part - mean, assume_centered=True)
            else:
                covariance = np.zeros((x.shape[1], x.shape[1]))
            scale = float(np.trace(covariance)) / x.shape[1]
            loading = self.ridge * scale if scale > 0 else 1e-6
            covariance = covariance + max(loading, 1e-12) * np.eye(x.shape[1])
            means.append(mean)
            precisions.append(np.linalg.inv(covariance))
        self.means = np.stack(means)
        self.precisions = np.stack(precisions)

    def _score(self, x):
        if self.normalize:
            x = _l2_normalise(x)
        diff = x[None, :, :] - self.means[:, None, :]  # [domains, N, D]
        # Batched matmul (BLAS) rather than a 3-operand einsum, which would loop in numpy.
        squared = np.sum(np.matmul(diff, self.precisions) * diff, axis=2)
        return np.sqrt(np.maximum(squared, 0.0)).min(axis=0)

    def _hparams(self):
        return {"normalize": self.normalize, "ridge": self.ridge}

    def _array_names(self):
        return ("means", "precisions")


def _numpy_to_torch(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {k: _numpy_to_torch(v) for k, v in value.items()}
    return value


def _torch_to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _torch_to_numpy(v) for k, v in value.items()}
    return value


@register_checkpoint_hooks
class SectionBackends:
    """One back end and one decision threshold per section key (e.g. "fan_section_00").

    Arguments
    ---------
    backend : callable
        Zero-argument factory of a :class:`Backend`: a class or a ``functools.partial``
        (in YAML: ``!name:speechbrain_asd.evaluation.backend.KMeansBackend {n_clusters: 16}``).
    threshold_percentile : float
        Each section's decision threshold is this percentile (numpy's linear interpolation) of
        the scores of its own training embeddings (90 in SSLASD); a clip is decided anomalous
        (1) when its score is strictly above the threshold.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> emb = rng.normal(size=(60, 8))
    >>> sections = ["fan_section_00"] * 30 + ["valve_section_00"] * 30
    >>> domains = (["source"] * 28 + ["target"] * 2) * 2
    >>> backends = SectionBackends(KNNBackend).fit(emb, domains, sections)
    >>> backends.sections
    ['fan_section_00', 'valve_section_00']
    >>> scores = backends.score(-emb[:2], sections[:2])  # far from every training clip
    >>> backends.decide(scores, sections[:2]).tolist()
    [1, 1]
    """

    def __init__(self, backend=None, threshold_percentile=90.0):
        if backend is None:
            backend = KMeansBackend
        if not callable(backend):
            raise ValueError(f"backend must be a zero-argument factory, got {backend!r}")
        if not 0.0 <= float(threshold_percentile) <= 100.0:
            raise ValueError(
                f"threshold_percentile must be in [0, 100], got {threshold_percentile!r}"
            )
        self.backend = backend
        self.threshold_percentile = float(threshold_percentile)
        self.backends = {}
        self.thresholds = {}

    @property
    def sections(self):
        """Sorted list of the fitted section keys."""
        return sorted(self.backends)

    def _new_backend(self):
        backend = self.backend()
        if not isinstance(backend, Backend):
            raise ValueError(f"backend factory returned {type(backend).__name__}, not a Backend")
        return backend

    @staticmethod
    def _section_index(sections, n, name="sections"):
        if isinstance(sections, str):
            raise ValueError(f"{name} must be a sequence with one key per clip, got a string")
        keys = np.asarray([str(s) for s in sections], dtype=object)
        if len(keys) != n:
            raise ValueError(f"length mismatch: {n} clips but {len(keys)} {name}")
        return keys

    def fit(self, embeddings, domains, sections):
        """Fits one back end per section and sets each section's threshold.

        Arguments
        ---------
        embeddings : np.ndarray or torch.Tensor
            ``[N, D]`` training embeddings (all sections).
        domains : sequence of str
            ``[N]`` "source" / "target".
        sections : sequence of str
            ``[N]`` section key per clip.

        Returns
        -------
        SectionBackends
            ``self`` (previous sections are replaced).
        """
        x = _as_matrix(embeddings, "embeddings")
        keys = self._section_index(sections, len(x))
        domain_list = list(domains) if not isinstance(domains, str) else domains
        _domain_mask(domain_list, len(x), "domains")
        domain_array = np.asarray(domain_list, dtype=object)
        backends, thresholds = {}, {}
        for key in sorted(set(keys.tolist())):
            mask = keys == key
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                backend = self._new_backend().fit(x[mask], domain_array[mask].tolist())
            for warning in caught:
                warnings.warn(f"section {key!r}: {warning.message}", warning.category, stacklevel=2)
            train_scores = backend.score(x[mask])
            backends[key] = backend
            thresholds[key] = float(np.percentile(train_scores, self.threshold_percentile))
        self.backends, self.thresholds = backends, thresholds
        return self

    def score(self, embeddings, sections):
        """Anomaly scores, each clip scored by its own section's back end.

        Arguments
        ---------
        embeddings : np.ndarray or torch.Tensor
            ``[N, D]`` test embeddings.
        sections : sequence of str
            ``[N]`` section key per clip.

        Returns
        -------
        np.ndarray
            ``[N]`` float64 scores.
        """
        x = _as_matrix(embeddings, "embeddings")
        keys = self._section_index(sections, len(x))
        self._check_known(keys)
        scores = np.empty(len(x))
        for key in set(keys.tolist()):
            mask = keys == key
            scores[mask] = self.backends[key].score(x[mask])
        return scores

    def decide(self, scores, sections):
        """0/1 decisions: 1 (anomalous) when the score is above the section's threshold.

        Arguments
        ---------
        scores : array-like
            ``[N]`` anomaly scores.
        sections : sequence of str
            ``[N]`` section key per clip.

        Returns
        -------
        np.ndarray
            ``[N]`` int64 of 0/1.
        """
        s = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores)
        s = s.astype(np.float64)
        if s.ndim != 1:
            raise ValueError(f"scores must be 1-D, got shape {s.shape}")
        keys = self._section_index(sections, len(s))
        self._check_known(keys)
        thresholds = np.array([self.thresholds[k] for k in keys], dtype=np.float64)
        return (s > thresholds).astype(np.int64)

    def _check_known(self, keys):
        unknown = sorted(set(keys.tolist()) - set(self.backends))
        if unknown:
            known = ", ".join(self.sections) or "none: call fit() or load a state first"
            raise ValueError(f"unknown section(s) {', '.join(map(repr, unknown))}; fitted: {known}")

    def state_dict(self):
        """Thresholds and back-end states, plain numpy arrays and python values.

        Returns
        -------
        dict
            ``threshold_percentile`` and ``sections``: key -> {``threshold``, ``backend``}.
        """
        return {
            "threshold_percentile": self.threshold_percentile,
            "sections": {
                key: {"threshold": self.thresholds[key], "backend": self.backends[key].state_dict()}
                for key in self.sections
            },
        }

    def load_state_dict(self, state):
        """Restores :meth:`state_dict` output; back ends come from the factory.

        Arguments
        ---------
        state : dict
            As returned by ``state_dict``.

        Returns
        -------
        SectionBackends
            ``self``.
        """
        if "sections" not in state or "threshold_percentile" not in state:
            raise ValueError(
                "not a SectionBackends state dict: needs 'sections' and 'threshold_percentile'"
            )
        backends, thresholds = {}, {}
        for key, entry in state["sections"].items():
            try:
                backends[key] = self._new_backend().load_state_dict(entry["backend"])
            except ValueError as error:
                raise ValueError(f"section {key!r}: {error}") from error
            thresholds[key] = float(entry["threshold"])
        self.threshold_percentile = float(_plain(state["threshold_percentile"]))
        self.backends, self.thresholds = backends, thresholds
        return self

    def save(self, path):
        """Writes the state dict with ``torch.save`` (arrays as tensors; no pickled objects).

        Arguments
        ---------
        path : str or pathlib.Path
            Destination file (overwritten: it is a checkpoint, not a result file).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = pathlib.Path(path)
        torch.save(_numpy_to_torch(self.state_dict()), path)
        return path

    @classmethod
    def load(cls, path, backend=None):
        """Builds a SectionBackends from a file written by :meth:`save`.

        Arguments
        ---------
        path : str or pathlib.Path
            File written by ``save``.
        backend : callable
            Back-end factory of the saved back ends (default :class:`KMeansBackend`); the
            back ends' hyper-parameters and the threshold percentile come from the file.

        Returns
        -------
        SectionBackends
            The restored instance.
        """
        instance = cls(backend)
        instance._recover(path, False)
        return instance

    @mark_as_saver
    def _save(self, path):
        self.save(path)

    @mark_as_loader
    def _recover(self, path, end_of_epoch):
        del end_of_epoch  # the state does not change within an epoch
        state = torch.load(pathlib.Path(path), map_location="cpu", weights_only=True)
        self.load_state_dict(_torch_to_numpy(state))

    def __repr__(self):
        return (
            f"SectionBackends(backend={self.backend!r}, "
            f"threshold_percentile={self.threshold_percentile}, sections={self.sections})"
        )

