"""Tests of ``python -m speechbrain_asd.evaluation`` on submission files written by the tests."""

import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import require_shared, shared_data_dir

from speechbrain_asd.evaluation.__main__ import main
from speechbrain_asd.evaluation.reports import evaluate_records, write_submission

REAL_GROUND_TRUTH = shared_data_dir() / "dcase2023-eval-ground-truth"
REPO = pathlib.Path(__file__).resolve().parents[1]


def dev_names(section="00"):
    names, labels, domains = [], [], []
    for domain in ("source", "target"):
        for label in ("normal", "anomaly"):
            for i in range(3):
                names.append(f"section_{section}_{domain}_test_{label}_{i:04d}_a_{i}.wav")
                labels.append(int(label == "anomaly"))
                domains.append(domain)
    return names, np.array(labels), domains


def write_dev_submission(folder, seed=0, decisions=True):
    rng = np.random.default_rng(seed)
    records = []
    for machine in ("fan", "valve"):
        names, labels, domains = dev_names()
        scores = rng.normal(size=len(names)) + labels
        decided = (scores > 0.5).astype(int) if decisions else None
        write_submission(folder, machine, 0, names, scores, decided)
        for name, label, domain, score in zip(names, labels, domains, scores):
            records.append(
                {"machine": machine, "section": 0, "file_name": name, "domain": domain,
                 "label": int(label), "score": float(score)}
            )
    return records


def test_cli_development_names(tmp_path, capsys):
    records = write_dev_submission(tmp_path / "scores")
    assert main([str(tmp_path / "scores")]) == 0
    out = capsys.readouterr().out
    assert "| fan | 00 |" in out and "| valve | 00 |" in out and "Official score (%)" in out
    expected = evaluate_records(records)["official_score"]
    assert main([str(tmp_path / "scores"), "--out", str(tmp_path / "res")]) == 0
    saved = json.loads((tmp_path / "res" / "results.json").read_text())
    assert saved["official_score"] == pytest.approx(expected)
    assert "f1_source" in saved["sections"]["fan_section_00"]
    # second run: earlier results are kept unless --overwrite
    capsys.readouterr()
    assert main([str(tmp_path / "scores"), "--out", str(tmp_path / "res")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([str(tmp_path / "scores"), "--out", str(tmp_path / "res"), "--overwrite"]) == 0


def make_ground_truth(folder, machine, names, labels, domains):
    for sub, values in (("ground_truth_data", labels), ("ground_truth_domain", domains)):
        path = folder / sub / f"ground_truth_{machine}_section_00_test.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n},{v}\n" for n, v in zip(names, values)))


def test_cli_anonymised_names_with_ground_truth(tmp_path, capsys):
    dev, labels, domains = dev_names()
    anonymised = [f"section_00_{i:04d}.wav" for i in range(len(dev))]
    domain_ids = [int(d == "target") for d in domains]
    make_ground_truth(tmp_path / "gt", "grinder", anonymised, labels, domain_ids)
    scores = np.linspace(0.0, 1.0, len(dev))[::-1] + labels
    write_submission(tmp_path / "scores", "grinder", 0, anonymised, scores)
    assert main([str(tmp_path / "scores"), "--ground-truth", str(tmp_path / "gt")]) == 0
    assert "| grinder | 00 |" in capsys.readouterr().out
    # same numbers as the development names of the same clips
    write_submission(tmp_path / "dev", "grinder", 0, dev, scores)
    assert main([str(tmp_path / "dev"), "--out", str(tmp_path / "a")]) == 0
    assert main([str(tmp_path / "scores"), "--ground-truth", str(tmp_path / "gt"),
                 "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["official_score"] == pytest.approx(b["official_score"])


def test_cli_errors_name_machine_and_file(tmp_path, capsys):
    dev, labels, domains = dev_names()
    anonymised = [f"section_00_{i:04d}.wav" for i in range(len(dev))]
    scores = np.arange(len(dev), dtype=float)
    write_submission(tmp_path / "anon", "grinder", 0, anonymised, scores)
    # anonymised names without ground truth
    assert main([str(tmp_path / "anon")]) == 2
    err = capsys.readouterr().err
    assert "'grinder'" in err and "section_00_0000.wav" in err and "--ground-truth" in err
    # ground truth lacking one file that has a score row
    domain_ids = [int(d == "target") for d in domains]
    make_ground_truth(tmp_path / "gt", "grinder", anonymised[:-1], labels[:-1], domain_ids[:-1])
    assert main([str(tmp_path / "anon"), "--ground-truth", str(tmp_path / "gt")]) == 2
    err = capsys.readouterr().err
    assert "'grinder'" in err and f"no ground truth for file {anonymised[-1]!r}" in err
    # a ground-truth file without a score row
    write_submission(tmp_path / "short", "grinder", 0, anonymised[:-2], scores[:-2])
    make_ground_truth(tmp_path / "gt2", "grinder", anonymised, labels, domain_ids)
    assert main([str(tmp_path / "short"), "--ground-truth", str(tmp_path / "gt2")]) == 2
    err = capsys.readouterr().err
    assert "'grinder'" in err and f"no score row for ground-truth file {anonymised[-2]!r}" in err
    # decision file missing a row
    folder = tmp_path / "dec"
    write_submission(folder, "fan", 0, dev, scores)
    (folder / "decision_result_fan_section_00_test.csv").write_text(f"{dev[0]},1\n")
    assert main([str(folder)]) == 2
    assert f"no decision row for file {dev[1]!r}" in capsys.readouterr().err
    # empty folder and missing folder
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no anomaly_score_" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def read_real(sub, machine):
    path = REAL_GROUND_TRUTH / sub / f"ground_truth_{machine}_section_00_test.csv"
    with open(path, newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def test_cli_real_evaluation_ground_truth(tmp_path):
    require_shared(REAL_GROUND_TRUTH)
    machines = sorted(
        p.name.split("_")[2] for p in (REAL_GROUND_TRUTH / "ground_truth_data").glob("*.csv")
    )
    assert len(machines) == 7
    rng = np.random.default_rng(2023)
    records = []
    for machine in machines:
        labels = {n: int(v) for n, v in read_real("ground_truth_data", machine)}
        domains = {n: int(v) for n, v in read_real("ground_truth_domain", machine)}
        names = sorted(labels)
        scores = rng.normal(size=len(names)) + 0.5 * np.array([labels[n] for n in names])
        if machine == "grinder":
            # the evaluator also accepts the original (de-anonymised) names
            original = {a: f"{o}.wav" for a, o in read_real("ground_truth_attributes", machine)}
            submitted = [original[n] for n in names]
        else:
            submitted = names
        write_submission(tmp_path / "scores", machine, 0, submitted, scores)
        for name, score in zip(names, scores):
            records.append(
                {"machine": machine, "section": "00", "file_name": name,
                 "domain": "target" if domains[name] else "source",
                 "label": labels[name], "score": float(score)}
            )
    # through the real module entry point, as a user runs it
    completed = subprocess.run(
        [sys.executable, "-m", "speechbrain_asd.evaluation", str(tmp_path / "scores"),
         "--ground-truth", str(REAL_GROUND_TRUTH), "--out", str(tmp_path / "res")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "| grinder | 00 |" in completed.stdout
    saved = json.loads((tmp_path / "res" / "results.json").read_text())
    expected = evaluate_records(records)
    assert saved["official_score"] == pytest.approx(expected["official_score"])
    assert saved["hmean_auc"] == pytest.approx(expected["hmean_auc"])
    grinder = saved["sections"]["grinder_section_00"]
    assert (grinder["n_normal_source"], grinder["n_anomaly_source"]) == (107, 27)
    assert (grinder["n_normal_target"], grinder["n_anomaly_target"]) == (36, 30)
    assert saved["n_clips"] == 1400


def test_cli_plots_without_matplotlib_writes_nothing(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    write_dev_submission(tmp_path / "scores")
    assert main([str(tmp_path / "scores"), "--plots"]) == 2
    assert "--plots needs --out" in capsys.readouterr().err
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main([str(tmp_path / "scores"), "--out", str(tmp_path / "res"), "--plots"]) == 2
    assert "speechbrain-asd[plots]" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()
