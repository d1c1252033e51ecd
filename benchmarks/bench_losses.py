"""Forward+backward time of the joint, optimal and AASRL losses, side by side in one run.

Prints a table with the median time per call and the ratio to the joint loss. The AASRL column
includes building the per-sample mask from the phase switch (the work it adds per step).

    .venv/bin/python benchmarks/bench_losses.py [--batch 64] [--classes 300] [--device cpu]
"""

import argparse
import statistics
import time

import torch

from speechbrain_asd.nnet.aasrl import AASRLPhaseSwitch
from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--classes", type=int, default=300)
    parser.add_argument("--subcenters", type=int, default=16)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    n_train = 4096
    centres = torch.nn.functional.normalize(
        torch.randn(args.dim, args.classes * args.subcenters, device=device), dim=0
    )
    train_labels = torch.randint(0, args.classes, (n_train,))
    switch = AASRLPhaseSwitch(n_subcenters=args.subcenters, tau=0.5, switch_step=1)
    switch.measure(torch.arange(n_train), torch.rand(n_train, args.subcenters) * 2 - 1)
    loss = SubcenterAdaCosLoss(args.classes, args.subcenters).to(device).train()

    def step(representation, with_mask):
        ids = torch.randint(0, n_train, (args.batch,))
        labels = train_labels[ids].to(device)
        emb = torch.randn(args.batch, args.dim, device=device, requires_grad=True)
        cos = (torch.nn.functional.normalize(emb, dim=1) @ centres).view(
            args.batch, args.classes, args.subcenters
        )
        mask = switch.mask(ids, labels, args.classes, sparse=True) if with_mask else None
        loss(cos, labels, mask, representation=representation).backward()

    cases = {"joint": ("joint", False), "optimal": ("optimal", False), "AASRL": ("joint", True)}
    times = {name: [] for name in cases}
    for _ in range(10):
        for representation, with_mask in cases.values():
            step(representation, with_mask)
    for _ in range(args.repeats):  # interleaved so that machine noise hits all alike
        for name, (representation, with_mask) in cases.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step(representation, with_mask)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    joint = statistics.median(times["joint"])
    print(f"batch {args.batch}, {args.classes} classes x {args.subcenters} sub-centres, "
          f"dim {args.dim}, {args.device}, {torch.get_num_threads()} threads")
    print(f"{'loss':<10}{'median ms':>12}{'ratio to joint':>16}")
    for name in cases:
        median = statistics.median(times[name])
        print(f"{name:<10}{1e3 * median:>12.3f}{median / joint:>16.2f}")


if __name__ == "__main__":
    main()
