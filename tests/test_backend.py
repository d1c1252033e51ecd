"""Tests of the back ends: ranking, tiny sections, thresholds, state dicts and checkpoints."""

import functools
import warnings

import numpy as np
import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_asd.evaluation.backend import (
    Backend,
    KMeansBackend,
    KNNBackend,
    MahalanobisBackend,
    SectionBackends,
)

FACTORIES = [
    functools.partial(KMeansBackend, n_clusters=4),
    functools.partial(KNNBackend, n_neighbors=3),
    MahalanobisBackend,
]
IDS = ["kmeans", "knn", "mahalanobis"]


def clustered(rng, n, centre, spread=0.05):
    """``[n, D]`` points around a direction ``centre``."""
    return centre[None, :] + spread * rng.normal(size=(n, len(centre)))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    dim = 16
    source_centre = rng.normal(size=dim)
    target_centre = rng.normal(size=dim)
    train = np.concatenate([clustered(rng, 60, source_centre), clustered(rng, 6, target_centre)])
    domains = ["source"] * 60 + ["target"] * 6
    near = np.concatenate([clustered(rng, 10, source_centre), clustered(rng, 10, target_centre)])
    far = clustered(rng, 20, rng.normal(size=dim), spread=0.5)
    return train, domains, near, far


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_far_clips_rank_above_near_clips(factory, data):
    train, domains, near, far = data
    backend = factory().fit(train, domains)
    assert isinstance(backend, Backend)
    near_scores, far_scores = backend.score(near), backend.score(far)
    assert near_scores.shape == (20,) and far_scores.dtype == np.float64
    # every far clip is more anomalous than every near clip (AUC 1)
    assert far_scores.min() > near_scores.max()


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_torch_input_and_state_round_trip(factory, data):
    train, domains, near, far = data
    backend = factory().fit(torch.from_numpy(train).float(), domains)
    test = np.concatenate([near, far])
    state = backend.state_dict()
    for value in state.values():
        assert isinstance(value, (np.ndarray, int, float, bool, str))
    restored = factory().load_state_dict(state)
    np.testing.assert_array_equal(restored.score(test), backend.score(test))
    # the hyper-parameters come from the state, not from the factory
    if isinstance(backend, KMeansBackend):
        other = KMeansBackend(n_clusters=9).load_state_dict(state)
        assert other.n_clusters == 4


def test_kmeans_scores_are_min_cosine_distance():
    train = np.array([[1.0, 0.0], [0.0, 2.0]])
    backend = KMeansBackend(n_clusters=1).fit(train, ["source", "target"])
    # references: the source centre (1, 0) and the target clip (0, 1) after normalisation
    scores = backend.score([[3.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(scores, [0.0, 1 - np.sqrt(0.5), 1.0], atol=1e-12)
    assert len(backend.references) == 2


def test_kmeans_is_deterministic(data):
    train, domains, near, far = data
    a = KMeansBackend(n_clusters=8, seed=3).fit(train, domains).score(far)
    b = KMeansBackend(n_clusters=8, seed=3).fit(train, domains).score(far)
    np.testing.assert_array_equal(a, b)


def test_kmeans_tiny_sections_warn_and_work():
    rng = np.random.default_rng(1)
    with pytest.warns(UserWarning, match="3 source-domain training clips for n_clusters=16"):
        backend = KMeansBackend().fit(rng.normal(size=(5, 4)), ["source"] * 3 + ["target"] * 2)
    assert len(backend.references) == 5
    with pytest.warns(UserWarning, match="no source-domain training clips"):
        backend = KMeansBackend().fit(rng.normal(size=(2, 4)), ["target"] * 2)
    assert backend.score(rng.normal(size=(3, 4))).shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # one clip, duplicated embeddings: no crash, no stray sklearn warning
        KMeansBackend(n_clusters=1).fit(np.ones((1, 4)), ["source"])
        KMeansBackend(n_clusters=2).fit(np.ones((4, 4)), ["source"] * 4)


def test_knn_and_mahalanobis_tiny_domains():
    rng = np.random.default_rng(2)
    with pytest.warns(UserWarning, match="2 training clips for n_neighbors=5"):
        KNNBackend(n_neighbors=5).fit(rng.normal(size=(2, 4)))
    # a single target clip in 8 dimensions: shrinkage + ridge keep it invertible
    backend = MahalanobisBackend().fit(rng.normal(size=(11, 8)), ["source"] * 10 + ["target"])
    assert np.isfinite(backend.score(rng.normal(size=(5, 8)))).all()


def test_backend_bad_input():
    with pytest.raises(ValueError, match="\\[N, D\\]"):
        KMeansBackend().fit(np.zeros(4))
    with pytest.raises(ValueError, match="length mismatch"):
        KMeansBackend().fit(np.zeros((4, 2)), ["source"] * 3)
    with pytest.raises(ValueError, match="unknown train_domains value.*'src'"):
        KMeansBackend().fit(np.zeros((2, 2)), ["source", "src"])
    with pytest.raises(ValueError, match="NaN/inf"):
        KNNBackend().fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="empty"):
        KNNBackend().fit(np.zeros((0, 3)))
    with pytest.raises(RuntimeError, match="not fitted"):
        KNNBackend().score(np.zeros((1, 2)))
    backend = KNNBackend().fit(np.eye(3))
    with pytest.raises(ValueError, match="dimension 2, the back end was fitted on 3"):
        backend.score(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="state dict is for back end 'KNNBackend'"):
        KMeansBackend().load_state_dict(backend.state_dict())


def section_data(rng):
    keys = ["fan_section_00", "valve_section_00"]
    centres = {k: rng.normal(size=8) for k in keys}
    emb, domains, sections = [], [], []
    for key in keys:
        emb.append(clustered(rng, 40, centres[key]))
        domains += ["source"] * 36 + ["target"] * 4
        sections += [key] * 40
    return np.concatenate(emb), domains, sections, centres


def test_section_backends_threshold_percentile():
    rng = np.random.default_rng(4)
    emb, domains, sections, _ = section_data(rng)
    # 3 neighbours: a training clip is its own nearest one, so its score is not ~0
    backends = SectionBackends(functools.partial(KNNBackend, n_neighbors=3),
                               threshold_percentile=75.0)
    backends.fit(emb, domains, sections)
    for key in backends.sections:
        mask = np.array(sections) == key
        train_scores = backends.backends[key].score(emb[mask])
        assert train_scores.std() > 0
        assert backends.thresholds[key] == pytest.approx(np.percentile(train_scores, 75.0))
        # a quarter of the training clips lies above the 75th percentile
        decided = backends.decide(backends.score(emb[mask], [key] * mask.sum()),
                                  [key] * mask.sum())
        assert decided.mean() == pytest.approx(0.25, abs=0.05)
    key = "fan_section_00"
    threshold = backends.thresholds[key]
    assert backends.decide([threshold, threshold + 1e-9], [key, key]).tolist() == [0, 1]


def test_section_backends_ninety_percent_of_training_clips_below_threshold():
    rng = np.random.default_rng(5)
    emb, domains, sections, _ = section_data(rng)
    backends = SectionBackends(MahalanobisBackend).fit(emb, domains, sections)
    scores = backends.score(emb, sections)
    decided = backends.decide(scores, sections)
    # 90th percentile of 40 distinct training scores -> 4 of 40 clips are above it
    for key in backends.sections:
        mask = np.array(sections) == key
        assert int(decided[mask].sum()) == 4


def test_section_backends_scores_each_section_with_its_own_backend():
    rng = np.random.default_rng(6)
    emb, domains, sections, centres = section_data(rng)
    backends = SectionBackends(functools.partial(KMeansBackend, n_clusters=4))
    backends.fit(emb, domains, sections)
    fan_like = clustered(rng, 5, centres["fan_section_00"])
    as_fan = backends.score(fan_like, ["fan_section_00"] * 5)
    as_valve = backends.score(fan_like, ["valve_section_00"] * 5)
    assert as_fan.max() < as_valve.min()
    with pytest.raises(ValueError, match="unknown section.*'pump_section_00'"):
        backends.score(fan_like, ["pump_section_00"] * 5)
    with pytest.raises(ValueError, match="unknown section.*'pump_section_00'"):
        backends.decide([0.1], ["pump_section_00"])
    with pytest.raises(ValueError, match="length mismatch"):
        backends.score(fan_like, ["fan_section_00"] * 4)


def test_section_backends_tiny_section_warning_names_section():
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(5, 4))
    with pytest.warns(UserWarning, match="section 'tiny_section_00'.*3 source-domain"):
        SectionBackends().fit(emb, ["source"] * 3 + ["target"] * 2, ["tiny_section_00"] * 5)


def test_section_backends_save_load(tmp_path):
    rng = np.random.default_rng(8)
    emb, domains, sections, _ = section_data(rng)
    factory = functools.partial(KMeansBackend, n_clusters=4)
    backends = SectionBackends(factory, threshold_percentile=80.0).fit(emb, domains, sections)
    test = rng.normal(size=(30, 8))
    test_sections = ["fan_section_00"] * 15 + ["valve_section_00"] * 15
    path = backends.save(tmp_path / "backends.pt")
    restored = SectionBackends.load(path, factory)
    np.testing.assert_array_equal(
        restored.score(test, test_sections), backends.score(test, test_sections)
    )
    assert restored.thresholds == backends.thresholds
    assert restored.threshold_percentile == 80.0
    with pytest.raises(ValueError, match="section 'fan_section_00'.*KMeansBackend"):
        SectionBackends.load(path, KNNBackend)


def test_section_backends_in_checkpointer(tmp_path):
    rng = np.random.default_rng(9)
    emb, domains, sections, _ = section_data(rng)
    fitted = SectionBackends(KNNBackend).fit(emb, domains, sections)
    unfitted = SectionBackends(KNNBackend)
    checkpointer = Checkpointer(tmp_path, {"backends": fitted, "empty": unfitted})
    checkpointer.save_checkpoint()
    fresh, fresh_empty = SectionBackends(KNNBackend), SectionBackends(KNNBackend)
    recovered = Checkpointer(tmp_path, {"backends": fresh, "empty": fresh_empty})
    recovered.recover_if_possible()
    assert fresh.sections == fitted.sections
    np.testing.assert_array_equal(fresh.score(emb, sections), fitted.score(emb, sections))
    assert fresh_empty.sections == []


def test_section_backends_bad_arguments():
    with pytest.raises(ValueError, match="threshold_percentile"):
        SectionBackends(KNNBackend, threshold_percentile=101)
    with pytest.raises(ValueError, match="factory"):
        SectionBackends(backend=3)
    with pytest.raises(ValueError, match="not a Backend"):
        SectionBackends(dict).fit(np.zeros((2, 2)), ["source"] * 2, ["a", "a"])
    with pytest.raises(ValueError, match="not a SectionBackends state dict"):
        SectionBackends().load_state_dict({"sections": {}})
