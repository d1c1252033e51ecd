"""Tests of submission files, evaluate_records and atomic, no-overwrite result files."""

import json
import math
import os

import pytest

from speechbrain_asd.evaluation import reports
from speechbrain_asd.evaluation.plots import plot_roc_curves, plot_score_histograms, plot_tsne
from speechbrain_asd.evaluation.reports import (
    atomic_write_text,
    evaluate_records,
    format_results_table,
    parse_test_file_name,
    read_submission_file,
    write_results,
    write_submission,
)

DEV_NAMES = [
    "section_00_source_test_normal_0000_m-n_X.wav",
    "section_00_source_test_anomaly_0000_m-n_X.wav",
    "section_00_target_test_normal_0000_m-n_Y.wav",
    "section_00_target_test_anomaly_0000_m-n_Y.wav",
]


def make_records(groups=False, decisions=False):
    """Two machines; fan reuses the hand-computed case of test_metrics (AUC 4/6, 2/3)."""
    records = []
    fan = [  # (domain, label, score)
        ("source", "normal", 0.2),
        ("source", "normal", 0.4),
        ("source", "anomaly", 0.5),
        ("target", "normal", 0.3),
        ("target", "anomaly", 0.1),
        ("target", "anomaly", 0.9),
    ]
    valve = [
        ("source", 0, 0.1),
        ("source", 1, 0.9),
        ("target", 0, 0.2),
        ("target", 1, 0.8),
    ]
    for machine, rows in (("fan", fan), ("valve", valve)):
        for i, (domain, label, score) in enumerate(rows):
            record = {
                "machine": machine,
                "section": "00",
                "file_name": f"clip_{i}.wav",
                "domain": domain,
                "label": label,
                "score": score,
            }
            if groups:
                record["group"] = "A" if i % 2 == 0 else "B"
            if decisions:
                record["decision"] = int(score > 0.45)
            records.append(record)
    return records


def test_parse_test_file_name():
    info = parse_test_file_name("dev_data/raw/fan/test/" + DEV_NAMES[1])
    assert info == {
        "section": "00",
        "index": "0000",
        "anonymised": False,
        "domain": "source",
        "split": "test",
        "label": 1,
        "attributes": "m-n_X",
    }
    assert parse_test_file_name("section_01_target_test_normal_0012.wav")["attributes"] == ""
    assert parse_test_file_name("section_00_0199.wav")["label"] is None
    with pytest.raises(ValueError, match="not a DCASE2023 clip name"):
        parse_test_file_name("fan_0001.wav")


def test_write_submission_official_format(tmp_path):
    paths = write_submission(tmp_path, "ToyCar", 0, DEV_NAMES, [0.5, 2.0, 1e-3, 3], [0, 1, 0, 1])
    assert [p.name for p in paths] == [
        "anomaly_score_ToyCar_section_00_test.csv",
        "decision_result_ToyCar_section_00_test.csv",
    ]
    lines = paths[0].read_text().splitlines()
    assert lines[0] == f"{DEV_NAMES[0]},0.5" and lines[2] == f"{DEV_NAMES[2]},0.001"
    assert paths[1].read_text().splitlines()[1] == f"{DEV_NAMES[1]},1"
    names, scores = read_submission_file(paths[0])
    assert names == DEV_NAMES and scores.tolist() == [0.5, 2.0, 1e-3, 3.0]
    # anonymised evaluation names and a "section_00" section spelling work alike
    only_scores = write_submission(tmp_path / "eval", "grinder", "section_00",
                                   ["section_00_0000.wav"], [0.1])
    assert [p.name for p in only_scores] == ["anomaly_score_grinder_section_00_test.csv"]


def test_write_submission_refuses_to_overwrite(tmp_path):
    write_submission(tmp_path, "fan", 0, DEV_NAMES[:2], [0.1, 0.2], [0, 1])
    with pytest.raises(FileExistsError, match="anomaly_score_fan_section_00_test.csv.*overwrite"):
        write_submission(tmp_path, "fan", 0, DEV_NAMES[:2], [0.7, 0.8], [1, 1])
    assert read_submission_file(tmp_path / "anomaly_score_fan_section_00_test.csv")[1][0] == 0.1
    write_submission(tmp_path, "fan", 0, DEV_NAMES[:2], [0.7, 0.8], [1, 1], overwrite=True)
    assert read_submission_file(tmp_path / "anomaly_score_fan_section_00_test.csv")[1][0] == 0.7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scores": [0.1]}, "2 file names but 1 scores"),
        ({"scores": [0.1, math.nan]}, "score of .* is nan"),
        ({"decisions": [0, 2]}, "decisions must be 0 or 1"),
        ({"decisions": [0]}, "2 file names but 1 decisions"),
        ({"file_names": ["a.wav", "a.wav"]}, "duplicated file name"),
        ({"file_names": ["a,b.wav", "c.wav"]}, "cannot be written"),
        ({"machine": "fan/x"}, "machine must be"),
        ({"section": "ab"}, "section must be"),
    ],
)
def test_write_submission_bad_input(tmp_path, kwargs, message):
    arguments = {
        "out_dir": tmp_path,
        "machine": "fan",
        "section": 0,
        "file_names": DEV_NAMES[:2],
        "scores": [0.1, 0.2],
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        write_submission(**arguments)
    assert list(tmp_path.iterdir()) == []


def test_read_submission_file_bad_rows(tmp_path):
    path = tmp_path / "scores.csv"
    for text, message in [
        ("a.wav,0.1,3\n", "line 1: expected 2 fields"),
        ("a.wav,0.1\na.wav,0.2\n", "line 2: 'a.wav' already listed on line 1"),
        ("a.wav,high\n", "not a number"),
        ("a.wav,nan\n", "value of 'a.wav' is nan"),
        ("", "has no rows"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_submission_file(path)
    path.write_text("a.wav,0.5\n")
    with pytest.raises(ValueError, match="must be 0 or 1"):
        read_submission_file(path, decision=True)


def test_evaluate_records_values_and_structure():
    results = evaluate_records(make_records())
    fan = results["sections"]["fan_section_00"]
    assert fan["auc_source"] == pytest.approx(4 / 6) and fan["auc_target"] == pytest.approx(2 / 3)
    valve = results["sections"]["valve_section_00"]
    assert valve["auc_source"] == valve["auc_target"] == valve["pauc"] == 1.0
    # fan pAUC is 0.8245614 (test_metrics); official score: hmean of the 6 values
    values = [4 / 6, 2 / 3, 0.8245614035, 1.0, 1.0, 1.0]
    assert results["official_score"] == pytest.approx(6 / sum(1 / v for v in values))
    assert results["hmean_auc"] == pytest.approx(4 / (1.5 + 1.5 + 1 + 1))
    assert results["n_clips"] == 10 and results["max_fpr"] == 0.1
    assert results["jackknife"]["n_clips"] == 10
    assert results["official_score_ci95"] == results["jackknife"]["half_width"]
    assert "groups" not in results
    # a dict of lists gives the same results
    records = make_records()
    as_columns = {key: [r[key] for r in records] for key in records[0]}
    assert evaluate_records(as_columns)["official_score"] == results["official_score"]


def test_evaluate_records_groups_and_decisions():
    with pytest.warns(UserWarning, match="section .valve_section_00.: group"):
        results = evaluate_records(make_records(groups=True, decisions=True))
    assert set(results["groups"]["fan_section_00"]) == {"A", "B"}
    assert "f1_source" in results["sections"]["valve_section_00"]
    assert "F1 source (%)" in format_results_table(results)


def test_evaluate_records_bad_input():
    records = make_records()
    with pytest.raises(ValueError, match="record 0 lacks key"):
        evaluate_records([{"machine": "fan"}])
    duplicate = records + [dict(records[0])]
    with pytest.raises(ValueError, match="'fan_section_00': file 'clip_0.wav' appears twice"):
        evaluate_records(duplicate)
    bad_label = [dict(r) for r in records]
    bad_label[1]["label"] = "broken"
    with pytest.raises(ValueError, match="record 1 \\(fan_section_00\\): label"):
        evaluate_records(bad_label)
    no_anomaly = [r for r in records if not (r["machine"] == "valve" and r["label"] == 1)]
    with pytest.raises(ValueError, match="'valve_section_00'.*no anomalous clips"):
        evaluate_records(no_anomaly)
    partial = [dict(r) for r in records]
    partial[0]["decision"] = 1
    with pytest.raises(ValueError, match="have no decision"):
        evaluate_records(partial)
    with pytest.raises(ValueError, match="empty"):
        evaluate_records([])


def test_write_results_files_and_no_overwrite(tmp_path):
    results = evaluate_records(make_records(decisions=True))
    paths = write_results(tmp_path / "out", results)
    assert sorted(p.name for p in paths.values()) == ["results.csv", "results.json", "results.md"]
    saved = json.loads(paths["json"].read_text())
    assert saved["official_score"] == pytest.approx(results["official_score"])
    csv_lines = paths["csv"].read_text().splitlines()
    assert csv_lines[0].startswith("machine,section,auc_source,auc_target,pauc")
    assert csv_lines[1].startswith("fan,00,")
    assert csv_lines[-1].startswith("harmonic mean,,")
    assert paths["md"].read_text().startswith("| machine | section |")
    before = {p: p.read_text() for p in paths.values()}
    other = evaluate_records(make_records())
    with pytest.raises(FileExistsError, match="results.csv already exists.*overwrite"):
        write_results(tmp_path / "out", other)
    # nothing was touched, and no temporary file is left behind
    assert {p: p.read_text() for p in paths.values()} == before
    assert sorted(os.listdir(tmp_path / "out")) == ["results.csv", "results.json", "results.md"]
    write_results(tmp_path / "out", other, basename="run2")
    write_results(tmp_path / "out", other, overwrite=True)
    assert json.loads(paths["json"].read_text())["official_score"] == other["official_score"]
    with pytest.raises(ValueError, match="basename"):
        write_results(tmp_path, other, basename="a/b")


def test_json_has_no_nan(tmp_path):
    with pytest.warns(UserWarning):
        results = evaluate_records(make_records(groups=True))
    assert any(math.isnan(v) for g in results["groups"].values() for v in g.values())
    text = write_results(tmp_path, results)["json"].read_text()
    assert "NaN" not in text and json.loads(text)["groups"]


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "r.csv", "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(reports.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new\n", overwrite=True)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["r.csv"]


def test_atomic_write_without_overwrite_never_replaces(tmp_path):
    path = atomic_write_text(tmp_path / "r.md", "first")
    with pytest.raises(FileExistsError, match="r.md already exists"):
        atomic_write_text(path, "second")
    assert path.read_text() == "first"


def test_plots_need_matplotlib(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    records = make_records()
    with pytest.raises(ImportError, match="pip install speechbrain-asd\\[plots\\]"):
        plot_roc_curves(records, tmp_path / "roc.png")
    with pytest.raises(ImportError, match="matplotlib"):
        plot_score_histograms(records, tmp_path / "hist.png")
    with pytest.raises(ImportError, match="matplotlib"):
        plot_tsne([[0.0, 1.0]] * 3, ["fan"] * 3, [0, 1, 0], tmp_path / "tsne.png")
    assert list(tmp_path.iterdir()) == []
