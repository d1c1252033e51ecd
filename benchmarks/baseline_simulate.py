"""Detectability of the simulated anomalies with a simple Gaussian baseline.

Per machine, a Gaussian (mean, Ledoit-Wolf shrunk covariance) is fitted to the mean and
standard deviation over time of the log-mel spectrogram of the SOURCE training clips; the
anomaly score of a test clip is its Mahalanobis distance. The table gives the AUC over all
test clips, the official DCASE2023 source / target AUCs (normals of that domain + all
anomalies), and the AUC per hidden condition (normals and anomalies of that condition, source
domain only), so the majority / minority gap of the ``imbalanced`` preset is visible.

Usage::

    python benchmarks/baseline_simulate.py [--preset imbalanced] [--scale 0.2]
        [--clip-seconds 4] [--seed 0] [--out DIR]

Without ``--out`` the data set is written to a temporary folder and removed afterwards.
"""

import argparse
import csv
import pathlib
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from speechbrain_asd.dataio.simulate import simulate_dataset


def mel_filterbank(n_fft=1024, n_mels=64, sample_rate=16000, f_min=20.0):
    """Triangular mel filters ``[n_mels, n_fft // 2 + 1]``."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges_mel = np.linspace(mel(f_min), mel(sample_rate / 2), n_mels + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def clip_features(path, fbank, n_fft=1024, hop=512):
    """Mean and std over time of the log-mel spectrogram of a wav file, ``[2 * n_mels]``."""
    y, _ = sf.read(str(path), dtype="float32")
    n_frames = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = y[idx] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    # einsum, not a BLAS matmul: with sklearn/scipy loaded, OpenBLAS threads on this small
    # product cost ~20 ms per clip on a busy machine
    logmel = np.log(np.einsum("tf,mf->tm", power, fbank) + 1e-8)
    return np.concatenate([logmel.mean(0), logmel.std(0)])


def _conditions(root):
    with open(root / "hidden_conditions.csv", newline="") as f:
        return {row["file"]: row["condition"] for row in csv.DictReader(f)}


def evaluate_machine(root, machine):
    """Gaussian baseline AUCs of one dev machine of a simulated tree.

    Arguments
    ---------
    root : pathlib.Path
        The simulated data set folder.
    machine : str
        Machine type (a ``dev_data`` machine: test names carry the labels).

    Returns
    -------
    dict
        ``auc`` (all test clips), ``auc_source``, ``auc_target`` (official definitions) and
        ``auc_<condition>`` (source-domain test clips of that hidden condition).
    """
    base = root / "dev_data" / "raw" / machine
    conds = _conditions(root)
    fbank = mel_filterbank()
    train = sorted((base / "train").glob("section_00_source_train_*.wav"))
    x_train = np.stack([clip_features(p, fbank) for p in train])
    model = LedoitWolf().fit(x_train)
    rows = []
    for p in sorted((base / "test").glob("*.wav")):
        fields = p.name.split("_")
        rel = p.relative_to(root).as_posix()
        rows.append((fields[2], int(fields[4] == "anomaly"), conds[rel], clip_features(p, fbank)))
    scores = model.mahalanobis(np.stack([r[3] for r in rows]))
    dom = np.array([r[0] for r in rows])
    lab = np.array([r[1] for r in rows])
    cond = np.array([r[2] for r in rows])
    res = {"n_train": len(train), "n_test": len(rows), "auc": roc_auc_score(lab, scores)}
    for d in ("source", "target"):
        keep = (dom == d) | (lab == 1)
        res[f"auc_{d}"] = roc_auc_score(lab[keep], scores[keep])
    for c in sorted(set(cond)):
        keep = (cond == c) & (dom == "source")
        res[f"auc_{c}"] = roc_auc_score(lab[keep], scores[keep])
    return res


def main(argv=None):
    """Simulates a data set and prints the baseline AUC table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="imbalanced")
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the data set here (must be empty)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(args.out or tmp)
        t0 = time.perf_counter()
        simulate_dataset(
            root,
            args.preset,
            seed=args.seed,
            progress=False,
            scale=args.scale,
            clip_seconds=args.clip_seconds,
        )
        t_sim = time.perf_counter() - t0
        machines = sorted(p.name for p in (root / "dev_data" / "raw").iterdir())
        print(
            f"preset={args.preset} scale={args.scale} clip_seconds={args.clip_seconds} "
            f"seed={args.seed} (simulated in {t_sim:.1f} s)"
        )
        header = None
        for m in machines:
            res = evaluate_machine(root, m)
            if header is None:
                header = list(res)
                print("| machine | " + " | ".join(header) + " |")
                print("|---" * (len(header) + 1) + "|")
            cells = [f"{res[k]:.3f}" if isinstance(res[k], float) else str(res[k]) for k in header]
            print(f"| {m} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
