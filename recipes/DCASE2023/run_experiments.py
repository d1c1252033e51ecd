#!/usr/bin/env python3
"""Runs hparams files for several seeds and writes the mean ± std table of the paper.

Each (hparams file, seed) run is ``train.py <hparams> --seed=<seed>`` with its own output folder
``<out>/<name>/<seed>``; finished runs (a results.json there) are not run again, so an
interrupted sweep continues where it stopped. The summary aggregates the runs with
:func:`speechbrain_asd.evaluation.metrics.aggregate_runs`:

    python recipes/DCASE2023/run_experiments.py --out results/sweep --seeds 1 2 3 \\
        --hparams aasrl sslasd sslasd_optimal -- --data_folder=/path/to/data --device=cuda:0

Everything after ``--`` is passed to every run.

Authors
 * speechbrain-asd developers 2026
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from speechbrain_asd.evaluation.metrics import aggregate_runs, format_mean_std
from speechbrain_asd.evaluation.reports import atomic_write_text

RECIPE_DIR = Path(__file__).resolve().parent
METRICS = (("hmean_auc", "AUC (%)"), ("hmean_pauc", "pAUC (%)"), ("official_score", "official (%)"))
SECTION_METRICS = ("auc_source", "auc_target", "pauc")


def run_one(name, seed, out, extra):
    """Trains and evaluates one configuration unless its results exist; returns its record."""
    folder = out / name / str(seed)
    results_file = folder / "results.json"
    timing_file = folder / "wall_time_seconds.txt"
    if not results_file.exists():
        command = [
            sys.executable, str(RECIPE_DIR / "train.py"), f"hparams/{name}.yaml",
            f"--seed={seed}", f"--output_folder={folder}", *extra,
        ]
        print("running:", " ".join(command), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=RECIPE_DIR.parents[1])
        timing_file.write_text(f"{time.perf_counter() - start:.1f}\n")
    results = json.loads(results_file.read_text())
    wall = float(timing_file.read_text()) if timing_file.exists() else float("nan")
    return results, wall


def summarise(records):
    """Mean ± std per configuration of the metrics, the per-group AUCs and the wall time."""
    summary = {}
    for name, runs in records.items():
        flat = []
        for results, wall in runs:
            row = {key: results[key] for key, _ in METRICS}
            for section, scores in results["sections"].items():
                for key in SECTION_METRICS:
                    row[f"{key}[{section}]"] = scores[key]
            for section, groups in (results.get("groups") or {}).items():
                for group, auc in groups.items():
                    row[f"auc[{section}][{group}]"] = auc
            row["wall_time_s"] = wall
            flat.append(row)
        summary[name] = {key: list(value) for key, value in aggregate_runs(flat).items()}
        summary[name]["runs"] = len(runs)
        summary[name]["wall_times_s"] = [round(wall, 1) for _, wall in runs]
    return summary


def markdown(summary):
    """The summary as Markdown tables (metrics, then the per-group breakdown)."""
    lines = ["| method | runs | " + " | ".join(label for _, label in METRICS)
             + " | wall time / run (s) |", "|---|---|" + "---|" * (len(METRICS) + 1)]
    for name, stats in summary.items():
        cells = [format_mean_std(*stats[key]) for key, _ in METRICS]
        wall = stats["wall_time_s"]
        each = ", ".join(f"{w:.0f}" for w in stats["wall_times_s"])
        lines.append(f"| {name} | {stats['runs']} | " + " | ".join(cells)
                     + f" | {wall[0]:.0f} ± {wall[1]:.0f} ({each}) |")
    sections = sorted({k.split("[", 1)[1].rstrip("]") for stats in summary.values()
                       for k in stats if k.startswith("pauc[")})
    if sections:
        lines += ["", "Per section (AUC source / AUC target / pAUC, %):", "",
                  "| section | " + " | ".join(summary) + " |", "|---|" + "---|" * len(summary)]
        for section in sections:
            cells = [" / ".join(format_mean_std(*summary[n][f"{key}[{section}]"])
                                for key in SECTION_METRICS) for n in summary]
            lines.append(f"| {section} | " + " | ".join(cells) + " |")
    group_keys = sorted({k for stats in summary.values() for k in stats if k.startswith("auc[")})
    if group_keys:
        lines += ["", "AUC (%) by hidden operating condition (normal and anomalous clips of that "
                  "condition):", "", "| section, condition | "
                  + " | ".join(summary) + " |", "|---|" + "---|" * len(summary)]
        for key in group_keys:
            label = key[4:].replace("][", ", ").rstrip("]")
            cells = [format_mean_std(*summary[n][key]) if key in summary[n] else "-"
                     for n in summary]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Command line entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hparams", nargs="+", default=["aasrl", "sslasd", "sslasd_optimal"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--overwrite", action="store_true", help="replace summary files")
    args = parser.parse_args(argv)
    records = {name: [run_one(name, seed, args.out, extra) for seed in args.seeds]
               for name in args.hparams}
    summary = summarise(records)
    table = markdown(summary)
    atomic_write_text(args.out / "summary.md", table, overwrite=args.overwrite)
    atomic_write_text(args.out / "summary.json", json.dumps(summary, indent=2) + "\n",
                      overwrite=args.overwrite)
    print(table)


if __name__ == "__main__":
    main()
