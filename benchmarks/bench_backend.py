"""Benchmark of the back ends on one CPU core: a DCASE2023-sized evaluation.

14 machine types (sections) x 1,000 training embeddings (990 source + 10 target) x 200 test
clips, 256-dimensional embeddings. Fitting and scoring go through ``SectionBackends`` as the
recipe uses it. Target: scoring all 2,800 test clips in under a second.

Usage::

    .venv/bin/python benchmarks/bench_backend.py [--repeats 5]

Prints a Markdown table: fit time (all 14 sections, thresholds included), score time (median
over repeats, all 2,800 clips in one call) and whether scoring meets the 1 s target.
"""

import argparse
import functools
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from speechbrain_asd.evaluation.backend import (
    KMeansBackend,
    KNNBackend,
    MahalanobisBackend,
    SectionBackends,
)

N_SECTIONS, N_SOURCE, N_TARGET, N_TEST, DIM = 14, 990, 10, 200, 256


def make_data(seed=0):
    """Synthetic embeddings: per section a few source modes and one shifted target mode."""
    rng = np.random.default_rng(seed)
    train, train_domains, train_sections, test, test_sections = [], [], [], [], []
    for index in range(N_SECTIONS):
        key = f"machine{index:02d}_section_00"
        modes = rng.normal(size=(4, DIM))
        source = modes[rng.integers(0, 4, N_SOURCE)] + 0.3 * rng.normal(size=(N_SOURCE, DIM))
        target = modes[0] + 1.0 + 0.3 * rng.normal(size=(N_TARGET, DIM))
        train += [source, target]
        train_domains += ["source"] * N_SOURCE + ["target"] * N_TARGET
        train_sections += [key] * (N_SOURCE + N_TARGET)
        test.append(modes[rng.integers(0, 4, N_TEST)] + 0.5 * rng.normal(size=(N_TEST, DIM)))
        test_sections += [key] * N_TEST
    return (
        np.concatenate(train).astype(np.float32),
        train_domains,
        train_sections,
        np.concatenate(test).astype(np.float32),
        test_sections,
    )


def main():
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="score repetitions (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, domains, sections, test, test_sections = make_data()
    backends = {
        "KMeansBackend(n_clusters=16)": functools.partial(KMeansBackend, n_clusters=16),
        "KNNBackend(n_neighbors=1)": functools.partial(KNNBackend, n_neighbors=1),
        "KNNBackend(n_neighbors=5)": functools.partial(KNNBackend, n_neighbors=5),
        "MahalanobisBackend()": MahalanobisBackend,
    }
    print(
        f"{N_SECTIONS} sections x {N_SOURCE + N_TARGET} training / {N_TEST} test embeddings, "
        f"{DIM}-dim, 1 CPU thread (torch, BLAS, OpenMP)\n"
    )
    print("| back end | fit, 14 sections (s) | score, 2,800 clips (s) | < 1 s |")
    print("|---|---|---|---|")
    with threadpool_limits(limits=1):
        for name, factory in backends.items():
            start = time.perf_counter()
            fitted = SectionBackends(factory).fit(train, domains, sections)
            fit_time = time.perf_counter() - start
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                fitted.score(test, test_sections)
                times.append(time.perf_counter() - start)
            score_time = statistics.median(times)
            verdict = "yes" if score_time < 1.0 else "NO"
            print(f"| {name} | {fit_time:.2f} | {score_time:.3f} | {verdict} |")


if __name__ == "__main__":
    main()
