"""Tests of the official DCASE2023 metrics; expected values are computed by hand in comments."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from speechbrain_asd.evaluation.metrics import (
    EPSILON,
    aggregate_runs,
    format_mean_std,
    hmean_auc,
    hmean_pauc,
    jackknife_ci,
    official_score,
    section_scores,
    subgroup_auc,
)


def mcclish(partial_area, max_fpr=0.1):
    """sklearn's standardisation of a partial area (written out for the hand computations)."""
    min_area = 0.5 * max_fpr**2
    return 0.5 * (1 + (partial_area - min_area) / (max_fpr - min_area))


def test_official_domain_auc_uses_all_anomalies():
    # source: normals 0.2, 0.4; anomaly 0.5.  target: normal 0.3; anomalies 0.1, 0.9.
    y = [0, 0, 1, 0, 1, 1]
    s = [0.2, 0.4, 0.5, 0.3, 0.1, 0.9]
    d = ["source"] * 3 + ["target"] * 3
    m = section_scores(y, s, d)
    # AUC source: normals {0.2, 0.4} vs ALL anomalies {0.5, 0.1, 0.9}: 0.5 beats both (2),
    # 0.1 beats none (0), 0.9 beats both (2) -> 4 / 6. With only the source anomaly {0.5}
    # it would be 2 / 2 = 1.0, so this checks the official definition.
    assert m["auc_source"] == pytest.approx(4 / 6)
    # AUC target: normal {0.3} vs {0.5, 0.1, 0.9} -> 2 / 3 (own anomalies only: 1 / 2).
    assert m["auc_target"] == pytest.approx(2 / 3)
    # AUC all: normals {0.2, 0.4, 0.3}: 0.5 beats 3, 0.1 beats 0, 0.9 beats 3 -> 6 / 9.
    assert m["auc"] == pytest.approx(6 / 9)
    # pAUC: descending 0.9 A, 0.5 A, 0.4 N ... ROC (0, 1/3), (0, 2/3), (1/3, 2/3), ...
    # TPR is 2/3 on fpr in [0, 0.1] -> partial area 0.1 * 2/3.
    assert m["pauc"] == pytest.approx(mcclish(0.1 * 2 / 3))
    assert m["pauc"] == pytest.approx(0.8245614035)
    assert (m["n_normal_source"], m["n_anomaly_source"]) == (2, 1)
    assert (m["n_normal_target"], m["n_anomaly_target"]) == (1, 2)


def test_ties_count_half():
    # source normals 0.5, 0.2; source anomalies 0.5, 0.8; target normal 0.5.
    y = [0, 0, 1, 1, 0]
    s = [0.5, 0.2, 0.5, 0.8, 0.5]
    d = ["source"] * 4 + ["target"]
    m = section_scores(y, s, d)
    # source: (0.5 vs 0.5) tie 1/2, (0.5 vs 0.2) 1, (0.8 vs 0.5) 1, (0.8 vs 0.2) 1 -> 3.5 / 4
    assert m["auc_source"] == pytest.approx(0.875)
    # target: normal 0.5 vs anomalies 0.5 (tie, 1/2) and 0.8 (1) -> 1.5 / 2
    assert m["auc_target"] == pytest.approx(0.75)
    # pAUC: ROC (0, 1/2) at 0.8, then the tied group 0.5 (2 normals, 1 anomaly) goes
    # diagonally to (2/3, 1). At fpr 0.1: tpr = 0.5 + 0.5 * 0.1 / (2/3) = 0.575;
    # area = 0.1 * (0.5 + 0.575) / 2 = 0.05375.
    assert m["pauc"] == pytest.approx(mcclish(0.05375))


def test_unbalanced_like_real_grinder():
    # grinder eval: 107 / 27 source normal / anomaly, 36 / 30 target.
    # Scores: source normals 0.2, target normals 0.6, source anomalies 0.4, target anomalies 0.8.
    y = [0] * 107 + [1] * 27 + [0] * 36 + [1] * 30
    s = [0.2] * 107 + [0.4] * 27 + [0.6] * 36 + [0.8] * 30
    d = ["source"] * 134 + ["target"] * 66
    m = section_scores(y, s, d)
    # source normals (0.2) are below every anomaly -> 1.0
    assert m["auc_source"] == pytest.approx(1.0)
    # target normals (0.6) are above the 27 source anomalies, below the 30 target ones -> 30/57
    assert m["auc_target"] == pytest.approx(30 / 57)
    # all: 30 anomalies beat 143 normals, 27 beat 107 -> (30*143 + 27*107) / (57*143)
    assert m["auc"] == pytest.approx((30 * 143 + 27 * 107) / (57 * 143))
    # ROC starts (0, 30/57), stays at tpr 30/57 until fpr 36/143 > 0.1 -> area 0.1 * 30/57
    assert m["pauc"] == pytest.approx(mcclish(0.1 * 30 / 57))
    assert (m["n_normal_source"], m["n_anomaly_source"]) == (107, 27)
    assert (m["n_normal_target"], m["n_anomaly_target"]) == (36, 30)


def test_decision_metrics_per_domain_clips():
    y = [0, 0, 1, 0, 1, 1]
    s = [0.2, 0.4, 0.5, 0.3, 0.1, 0.9]
    d = ["source"] * 3 + ["target"] * 3
    m = section_scores(y, s, d, decisions=[0, 1, 1, 0, 0, 1])
    # source clips: tp 1 (0.5), fp 1 (0.4), fn 0 -> P 1/2, R 1, F1 2 * 0.5 / 1.5
    assert m["precision_source"] == pytest.approx(0.5)
    assert m["recall_source"] == pytest.approx(1.0)
    assert m["f1_source"] == pytest.approx(2 / 3)
    # target clips: tp 1 (0.9), fp 0, fn 1 (0.1) -> P 1, R 1/2, F1 2/3
    assert m["precision_target"] == pytest.approx(1.0)
    assert m["recall_target"] == pytest.approx(0.5)
    assert m["f1_target"] == pytest.approx(2 / 3)
    # nothing decided anomalous: precision 0 / eps = 0, not a division error
    m = section_scores(y, s, d, decisions=[0] * 6)
    assert m["precision_source"] == 0.0 and m["f1_target"] == 0.0


def test_official_score_and_harmonic_means():
    per_section = {
        "a_section_00": {"auc_source": 0.8, "auc_target": 0.6, "pauc": 0.5},
        "b_section_00": {"auc_source": 1.0, "auc_target": 0.4, "pauc": 0.5},
    }
    # 6 / (1/0.8 + 1/0.6 + 1/0.5 + 1/1.0 + 1/0.4 + 1/0.5) = 6 / 10.41666...
    assert official_score(per_section) == pytest.approx(6 / (1.25 + 5 / 3 + 2 + 1 + 2.5 + 2))
    assert official_score(list(per_section.values())) == official_score(per_section)
    # AUCs only: 4 / (1.25 + 5/3 + 1 + 2.5)
    assert hmean_auc(per_section) == pytest.approx(4 / (1.25 + 5 / 3 + 1 + 2.5))
    assert hmean_pauc(per_section) == pytest.approx(0.5)


def test_official_score_clips_zero_at_epsilon():
    per_section = [{"auc_source": 0.8, "auc_target": 0.0, "pauc": 0.5}]
    score = official_score(per_section)
    # 0 is replaced by the evaluator's sys.float_info.epsilon: 3 / (1.25 + 1/eps + 2)
    assert score > 0
    assert score == pytest.approx(3 / (1.25 + 1 / EPSILON + 2))
    assert EPSILON == np.finfo(float).eps


def test_official_score_bad_input():
    with pytest.raises(ValueError, match="no 'pauc'"):
        official_score({"fan_section_00": {"auc_source": 0.8, "auc_target": 0.6}})
    with pytest.raises(ValueError, match="fan_section_00.*nan"):
        official_score({"fan_section_00": {"auc_source": math.nan, "auc_target": 1, "pauc": 1}})
    with pytest.raises(ValueError, match="empty"):
        official_score({})


def test_jackknife_by_hand():
    # y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8]: AUC = 3/4.
    # Leave-one-out AUCs: without 0.1 -> 1/2, without 0.4 -> 1, without 0.35 -> 1,
    # without 0.8 -> 1/2. Mean 0.75, sum of squared deviations 4 * 0.25^2 = 0.25.
    # Pseudo-values 4 * 0.75 - 3 * theta_i = 1.5, 0, 0, 1.5 -> estimate 0.75.
    # Evaluator: sigma = sqrt(0.25 / (4 * 3)); t(0.975, 3) = 3.182446305
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    ci = jackknife_ci(y, s)
    assert ci["auc"] == pytest.approx(0.75)
    assert ci["auc_jack"] == pytest.approx(0.75)
    assert ci["auc_half_width"] == pytest.approx(3.182446305 * math.sqrt(0.25 / 12))
    assert ci["half_width"] == pytest.approx(0.5 * (ci["auc_half_width"] + ci["pauc_half_width"]))
    # Textbook jackknife: sigma = sqrt(3/4 * 0.25)
    standard = jackknife_ci(y, s, formula="standard")
    assert standard["auc_half_width"] == pytest.approx(3.182446305 * math.sqrt(0.75 * 0.25))


def test_jackknife_matches_leave_one_out_with_sklearn():
    # The vectorised leave-one-out must equal N separate sklearn calls, ties included.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 40)
    y[:4] = [0, 1, 0, 1]
    s = np.round(rng.normal(size=40), 1)
    for max_fpr in (0.1, 0.3):
        ci = jackknife_ci(y, s, max_fpr=max_fpr)
        for name, bound in (("auc", None), ("pauc", max_fpr)):
            loo = np.array(
                [roc_auc_score(np.delete(y, i), np.delete(s, i), max_fpr=bound) for i in range(40)]
            )
            theta = roc_auc_score(y, s, max_fpr=bound)
            expected_jack = np.mean(40 * theta - 39 * loo)
            expected_half = 2.022690901 * math.sqrt(np.sum((loo - loo.mean()) ** 2) / (40 * 39))
            assert ci[f"{name}_jack"] == pytest.approx(expected_jack)
            assert ci[f"{name}_half_width"] == pytest.approx(expected_half)


def test_jackknife_bad_input():
    with pytest.raises(ValueError, match="at least 2 normal and 2 anomalous"):
        jackknife_ci([0, 0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="formula"):
        jackknife_ci([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], formula="bootstrap")


def test_subgroup_auc_with_undefined_group():
    y = [0, 1, 0, 1, 0, 0]
    s = [0.1, 0.9, 0.8, 0.2, 0.3, 0.4]
    groups = ["major", "major", "minor", "minor", "only_normal", "only_normal"]
    with pytest.warns(UserWarning, match="only_normal"):
        result = subgroup_auc(y, s, groups)
    assert result["major"] == 1.0 and result["minor"] == 0.0
    assert math.isnan(result["only_normal"])


def test_aggregate_runs_and_format():
    runs = [{"auc": 0.7, "pauc": 0.5}, {"auc": 0.8, "pauc": 0.5}, {"auc": 0.9, "pauc": 0.5}]
    result = aggregate_runs(runs)
    # mean 0.8; sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    assert result["auc"] == pytest.approx((0.8, 0.1))
    assert result["pauc"] == pytest.approx((0.5, 0.0))
    assert format_mean_std(*result["auc"]) == "80.00 ± 10.00"
    assert format_mean_std(0.7391, 0.0059) == "73.91 ± 0.59"
    assert format_mean_std(0.5, 0.25, percent=False, digits=1) == "0.5 ± 0.2"
    assert math.isnan(aggregate_runs([{"auc": 0.7}])["auc"][1])
    with pytest.raises(ValueError, match="run 1"):
        aggregate_runs([{"auc": 0.7}, {"pauc": 0.7}])
    with pytest.raises(ValueError, match="not a number"):
        aggregate_runs([{"auc": "high"}])
    with pytest.raises(ValueError, match="non-empty"):
        aggregate_runs([])


GOOD = ([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["source", "source", "target", "target"])


@pytest.mark.parametrize(
    "y, s, d, message",
    [
        ([0, 1, 0], GOOD[1], GOOD[2], "length mismatch"),
        (GOOD[0], [0.1, 0.9, 0.2], GOOD[2], "length mismatch"),
        (GOOD[0], GOOD[1], ["source"] * 3, "length mismatch"),
        (GOOD[0], [0.1, math.nan, 0.2, 0.8], GOOD[2], "NaN/inf"),
        (GOOD[0], [0.1, math.inf, 0.2, 0.8], GOOD[2], "NaN/inf"),
        ([0, 0, 0, 0], GOOD[1], GOOD[2], "no anomalous clips"),
        ([1, 1, 1, 1], GOOD[1], GOOD[2], "no normal clips"),
        (GOOD[0], GOOD[1], ["source", "source", "target", "tgt"], "unknown domain.*'tgt'"),
        ([0, 2, 0, 1], GOOD[1], GOOD[2], "0 \\(normal\\) or 1"),
        (["normal", "anomaly", "normal", "anomaly"], GOOD[1], GOOD[2], "0 \\(normal\\) / 1"),
        ([0, 1, 1, 1], GOOD[1], GOOD[2], "no normal clips in the target domain"),
    ],
)
def test_section_scores_bad_input_names_section(y, s, d, message):
    with pytest.raises(ValueError, match="section 'fan_section_00'.*" + message):
        section_scores(y, s, d, section="fan_section_00")


def test_section_scores_bad_decisions_and_max_fpr():
    with pytest.raises(ValueError, match="decisions.*0 \\(normal\\) or 1"):
        section_scores(*GOOD, decisions=[0, 1, 2, 0])
    with pytest.raises(ValueError, match="decisions has 3"):
        section_scores(*GOOD, decisions=[0, 1, 0])
    with pytest.raises(ValueError, match="max_fpr"):
        section_scores(*GOOD, max_fpr=0.0)
