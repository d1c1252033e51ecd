"""Speed of the SSLASD encoder's forward + backward pass against a plain re-statement and the
machine's physical limit.

Prints, in one run on one device:

* ``encoder``: :class:`speechbrain_asd.lobes.sslasd.SSLASDEncoder` (train mode);
* ``plain``: a minimal re-statement of the same layers in plain ``torch.nn`` (NCHW, strided
  stem convolution, ReLU before the stem pooling, ``conv1d`` everywhere), i.e. what a direct
  port of the Keras code gives;
* ``limit``: the counted FLOPs of forward + backward (``torch.utils.flop_counter``) divided by
  the measured throughput of a large matrix product in the same run and precision;

each as ms per clip, clips per second and ratio to the limit, for every requested batch size,
plus the process CPU time per clip (all threads), which other jobs on a shared machine do not
inflate (the wall time they do: the load average is printed).
The Keras reference trains at about 23 clips/s (18 s clips, batch 32) on a 2-core CPU.

Usage::

    python benchmarks/bench_encoder.py                     # CPU, batch 64 and 32, 18 s
    python benchmarks/bench_encoder.py --batch 8 --repeats 2
    python benchmarks/bench_encoder.py --device cuda --bf16   # batch 64 and 256, peak memory

Authors
 * speechbrain-asd developers 2026
"""

import argparse
import contextlib
import os
import time

import torch
from torch import nn
from torch.nn import functional as F

from speechbrain_asd.lobes.sslasd import SSLASDEncoder, _same_padding
from speechbrain_asd.utils.memory import keep_freed_memory


class PlainSE(nn.Module):
    """Squeeze-and-excitation as two bias-free linears (plain re-statement)."""

    def __init__(self, channels, ratio=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, max(1, channels // ratio), bias=False)
        self.fc2 = nn.Linear(max(1, channels // ratio), channels, bias=False)

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=tuple(range(2, x.dim())))))))
        return x * gate.view(*gate.shape, *([1] * (x.dim() - 2)))


class PlainUnit(nn.Module):
    """Pre-activation residual unit with SE, plain NCHW (plain re-statement)."""

    def __init__(self, cin, cout, stride, pre_norm):
        super().__init__()
        self.pre = nn.BatchNorm2d(cin) if pre_norm else nn.Identity()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.se = PlainSE(cout)
        self.short = (
            nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True), nn.Conv2d(cin, cout, 1, bias=False))
            if stride > 1
            else nn.Identity()
        )

    def forward(self, x):
        x = self.pre(x)
        r = self.se(self.c2(torch.relu(self.bn(self.c1(torch.relu(x))))))
        return self.short(x) + r


class PlainSSLASD(nn.Module):
    """The SSLASD encoder written as directly as possible (no layout or stem tricks)."""

    def __init__(self, n_samples):
        super().__init__()
        self.n_samples = n_samples
        length, self.pads, convs, ses, cin = n_samples // 2, [], [], [], 1
        for k, s in ((256, 64), (64, 32), (16, 4)):
            length, left, right = _same_padding(length, k, s)
            self.pads.append((left, right))
            convs.append(nn.Conv1d(cin, 128, k, s, bias=False))
            ses.append(PlainSE(128))
            cin = 128
        self.convs, self.ses = nn.ModuleList(convs), nn.ModuleList(ses)
        mlp, width = [], length * 128
        for _ in range(4):
            mlp += [nn.Linear(width, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU()]
            width = 128
        self.mlp = nn.Sequential(*mlp, nn.Linear(128, 128, bias=False))
        self.bin_norm = nn.BatchNorm1d(513)
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(3, 2)
        )
        units, cin = [], 16
        for stage, width in enumerate((16, 32, 64, 128)):
            for block in range(2):
                down = stage > 0 and block == 0
                first = stage == 0 and block == 0
                units.append(PlainUnit(cin, width, 2 if down else 1, not first))
                cin = width
        self.units = nn.Sequential(*units)
        self.flat_norm = nn.BatchNorm1d(2048)
        self.out = nn.Linear(2048, 128, bias=False)
        self.register_buffer("window", torch.hann_window(1024), persistent=False)

    def forward(self, wavs):
        x = torch.fft.rfft(wavs.float())[:, : wavs.shape[1] // 2].abs().unsqueeze(1)
        for (left, right), conv, se in zip(self.pads, self.convs, self.ses):
            x = se(torch.relu(conv(F.pad(x, (left, right)))))
        e1 = self.mlp(x.flatten(1))
        spec = torch.stft(
            wavs.float(), 1024, 512, window=self.window, center=False, return_complex=True
        ).abs()  # [B, bins, frames]
        spec = spec - spec.mean(dim=2, keepdim=True)
        x = self.bin_norm(spec).transpose(1, 2).unsqueeze(1)
        x = self.units(self.stem(x)).amax(dim=2)
        e2 = self.out(self.flat_norm(x.flatten(1)))
        return torch.cat([e1, e2], dim=1)


def sync(device):
    """Waits for the device's queued work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_s(device, dtype, size=4096, repeats=5):
    """Measured throughput of a large square matrix product, FLOP/s."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def step(model, wavs, autocast):
    with autocast():
        emb = model(wavs)
    emb.float().square().mean().backward()


def time_model(model, wavs, repeats, autocast):
    """Best wall time and best process CPU time of forward + backward, after one warm-up.

    The CPU time (all threads of this process) measures the work independently of other
    processes competing for the cores; on a shared machine the wall time is inflated by them.
    """
    device = wavs.device
    model.zero_grad(set_to_none=True)
    step(model, wavs, autocast)
    sync(device)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        start, start_cpu = time.perf_counter(), time.process_time()
        step(model, wavs, autocast)
        sync(device)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu


def count_flops(model, wavs, autocast):
    """FLOPs (multiply-add = 2) of one forward + backward, matmuls and convolutions."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(model, wavs, autocast)
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="batch sizes (default 64 32 on CPU, 64 256 on CUDA)")
    parser.add_argument("--seconds", type=float, default=18.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="torch.autocast to bfloat16")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain re-statement")
    parser.add_argument(
        "--glibc-malloc",
        action="store_true",
        help="keep glibc's default of unmapping big freed buffers (default: keep them, see "
        "keep_freed_memory)",
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    kept = False if args.glibc_malloc else keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = args.batch or ([64, 256] if device.type == "cuda" else [64, 32])
    dtype = torch.bfloat16 if args.bf16 else torch.float32

    def autocast():
        if args.bf16:
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    torch.manual_seed(0)
    n_samples = int(round(16000 * args.seconds))
    models = {"encoder": SSLASDEncoder(clip_seconds=args.seconds).to(device).train()}
    if not args.no_plain:
        models["plain"] = PlainSSLASD(n_samples).to(device).train()
    flops = count_flops(models["encoder"], torch.randn(2, n_samples, device=device), autocast) / 2
    peak = matmul_flops_per_s(device, dtype)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"device {name}, threads {torch.get_num_threads()}, {'bf16' if args.bf16 else 'fp32'}, "
        f"{args.seconds:g} s clips, best of {args.repeats}, freed memory kept: {kept}, "
        f"load average at start {os.getloadavg()[0]:.2f} (other processes slow everything)"
    )
    print(
        f"forward+backward {flops / 1e9:.2f} GFLOP per clip; matmul {peak / 1e9:.0f} GFLOP/s; "
        f"physical limit {flops / peak * 1e3:.2f} ms per clip = {peak / flops:.1f} clips/s"
    )
    header = (
        f"{'model':<8} {'batch':>5} {'ms/clip':>8} {'clips/s':>8} {'x limit':>8} "
        f"{'cpu ms/clip':>11}"
    )
    if device.type == "cuda":
        header += f" {'peak MiB':>9}"
    print(header)
    for batch in batches:
        wavs = torch.randn(batch, n_samples, device=device)
        for label, model in models.items():
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            seconds, cpu_seconds = time_model(model, wavs, args.repeats, autocast)
            per_clip = seconds / batch
            row = (
                f"{label:<8} {batch:>5} {per_clip * 1e3:>8.1f} {batch / seconds:>8.1f} "
                f"{per_clip / (flops / peak):>8.2f} {cpu_seconds / batch * 1e3:>11.1f}"
            )
            if device.type == "cuda":
                row += f" {torch.cuda.max_memory_allocated(device) / 2**20:>9.0f}"
            print(row, flush=True)
            model.zero_grad(set_to_none=True)
        del wavs
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
