"""Times ``prepare_dcase2023`` on a DCASE2023-sized tree of tiny WAV files.

The tree has the full DCASE2023 Task 2 shape (7 dev machines with 990 + 10 training and
200 test clips and an attributes_00.csv, 7 eval machines with 1000 training and 200 anonymised
test clips: 14,000 training clips) but every clip is 10 ms long, so what is timed is the
directory walk, the name parsing, the WAV header reads, the attribute cross-check and the
manifest writing - the preparation never reads samples, so real 10 s clips cost the same
apart from the file system's cache.

Usage::

    python benchmarks/bench_prepare.py [--train-per-machine 1000] [--test-per-machine 200]
                                       [--folder /tmp/x --keep]

Prints a table: phase, files, seconds, files per second.
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from speechbrain_asd.dataio.dcase import prepare_dcase2023  # noqa: E402

DEV = {
    "ToyCar": ("car", "spd", "mic"),
    "ToyTrain": ("car", "spd", "mic"),
    "bearing": ("vel", "loc"),
    "fan": ("m-n",),
    "gearbox": ("volt", "wt"),
    "slider": ("vel", "ac"),
    "valve": ("pat",),
}
EVAL = ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")


def tiny_wav_bytes(frames=160, sample_rate=16000):
    """A valid 16-bit mono WAV file as bytes."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(frames), sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def build_tree(root, n_train, n_test):
    """Writes the fake tree; returns the number of clips."""
    data = tiny_wav_bytes()
    count = 0
    for part, machines in (("dev_data", DEV), ("eval_data", {m: ("a", "b") for m in EVAL})):
        for machine, keys in machines.items():
            mdir = os.path.join(root, part, "raw", machine)
            os.makedirs(os.path.join(mdir, "train"))
            os.makedirs(os.path.join(mdir, "test"))
            rows = ["file_name," + ",".join(f"d{i + 1}p,d{i + 1}v" for i in range(len(keys)))]
            n_target = 10 if n_train > 20 else 1
            names = []
            for i in range(n_train):
                domain = "target" if i >= n_train - n_target else "source"
                index = i - (n_train - n_target) if domain == "target" else i
                values = [f"{k}_{(i % 3) + 1}" for k in keys]
                attr = "_".join(values)
                names.append(("train", f"section_00_{domain}_train_normal_{index:04d}_{attr}"))
                pairs = ",".join(v.replace("_", ",") for v in values)
                rows.append(f"{machine}/train/{names[-1][1]}.wav,{pairs}")
            for i in range(n_test):
                if part == "eval_data":
                    names.append(("test", f"section_00_{i:04d}"))
                    continue
                domain = ("source", "target")[i % 2]
                label = ("normal", "anomaly")[(i // 2) % 2]
                attr = "_".join(f"{k}_{(i % 3) + 1}" for k in keys)
                names.append(("test", f"section_00_{domain}_test_{label}_{i // 4:04d}_{attr}"))
            for split, stem in names:
                with open(os.path.join(mdir, split, stem + ".wav"), "wb") as f:
                    f.write(data)
            count += len(names)
            with open(os.path.join(mdir, "attributes_00.csv"), "w") as f:
                f.write("\n".join(rows) + "\n")
    return count


def main(argv=None):
    """Builds the tree, times three preparations and prints the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-per-machine", type=int, default=1000)
    p.add_argument("--test-per-machine", type=int, default=200)
    p.add_argument("--folder", default=None, help="where to build (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the tree afterwards")
    args = p.parse_args(argv)
    folder = args.folder or tempfile.mkdtemp(prefix="bench_prepare_")
    data, save = os.path.join(folder, "data"), os.path.join(folder, "save")
    if os.path.exists(data):
        sys.exit(f"{data} exists already; choose another --folder")
    results = []
    try:
        t = time.perf_counter()
        n = build_tree(data, args.train_per_machine, args.test_per_machine)
        results.append(("build fake tree", n, time.perf_counter() - t))
        t = time.perf_counter()
        s = prepare_dcase2023(data, save)
        results.append(("prepare (headers, csv check, write)", n, time.perf_counter() - t))
        t = time.perf_counter()
        prepare_dcase2023(data, save)
        results.append(("prepare again (up to date: skip)", n, time.perf_counter() - t))
        t = time.perf_counter()
        prepare_dcase2023(data, save, class_with_domain=False)
        results.append(("prepare, option changed (rewrite)", n, time.perf_counter() - t))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"train clips: {s['n_train']}, test clips: {s['n_test']}, classes: {s['n_classes']}")
    print(f"{'phase':<38} {'files':>7} {'seconds':>8} {'files/s':>9}")
    for name, files, sec in results:
        print(f"{name:<38} {files:>7} {sec:>8.2f} {files / sec:>9.0f}")


if __name__ == "__main__":
    main()
