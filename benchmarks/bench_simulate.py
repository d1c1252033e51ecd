"""Speed of the machine-sound simulator (speechbrain_asd.dataio.simulate).

Simulates ``--clips`` clips (``imbalanced`` preset, ToyCar and ToyTrain, scaled to the
requested count) of ``--clip-seconds`` seconds into a temporary folder, once per entry of
``--workers``, and prints a table: clips/s, seconds per 1000 clips and audio seconds
generated per wall second. Rendering alone (no file writing) is timed as well.

Usage::

    python benchmarks/bench_simulate.py [--clips 1000] [--clip-seconds 10] [--workers 1,2]
"""

import argparse
import sys
import tempfile
import time

from speechbrain_asd.dataio.simulate import (
    plan_clips,
    render_clip,
    resolve_spec,
    simulate_dataset,
)


def main(argv=None):
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1", help="comma-separated worker counts")
    args = parser.parse_args(argv)
    # the imbalanced preset has 2 x 1200 clips at scale 1
    scale = args.clips / 2400.0
    spec = resolve_spec("imbalanced", scale=scale, clip_seconds=args.clip_seconds)
    n = sum(len(plan_clips(m, scale, 0)) for m in spec.machines)
    print(f"{n} clips of {args.clip_seconds} s (imbalanced preset, scale {scale:.4f})")
    print("| what | workers | seconds | clips/s | s per 1000 clips | audio s per s |")
    print("|---|---|---|---|---|---|")

    machine = spec.machines[0]
    clips = plan_clips(machine, scale, 0)[:200]
    t0 = time.perf_counter()
    for clip in clips:
        render_clip(machine, clip, 0, args.clip_seconds, spec.sample_rate)
    dt = time.perf_counter() - t0
    rate = len(clips) / dt
    print(
        f"| render only ({len(clips)} clips) | 1 | {dt:.2f} | {rate:.1f} | {1000 / rate:.1f} "
        f"| {rate * args.clip_seconds:.0f} |"
    )
    for workers in [int(w) for w in args.workers.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            simulate_dataset(
                tmp,
                "imbalanced",
                progress=False,
                workers=workers,
                scale=scale,
                clip_seconds=args.clip_seconds,
            )
            dt = time.perf_counter() - t0
        rate = n / dt
        print(
            f"| simulate_dataset | {workers} | {dt:.2f} | {rate:.1f} | {1000 / rate:.1f} "
            f"| {rate * args.clip_seconds:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
