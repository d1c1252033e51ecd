"""Framework overhead of the DCASE2023 recipe's training step, and the cost of the AASRL switch.

Prints, side by side in one run:
* clips/s of the recipe's training step (``AASRLBrain.fit_batch``: augmentations, both heads,
  AASRL-masked sub-centre AdaCos losses with their adaptive scales, Adam step);
* clips/s of the bare encoder forward+backward+Adam step on the same batch;
* their ratio (framework overhead; the target is at least 0.9);
* the time of the measurement pass at T (eval forward of F_T over N clips) relative to one
  training epoch over the same N clips.

    .venv/bin/python benchmarks/bench_recipe.py                    # full size, 18 s, batch 64
    .venv/bin/python benchmarks/bench_recipe.py --small --batch 32  # the demo's model
    .venv/bin/python benchmarks/bench_recipe.py --device cuda:0 --precision bf16
"""

import argparse
import importlib.util
import time
from pathlib import Path

import torch
from speechbrain.dataio.batch import PaddedBatch

from speechbrain_asd.utils.hparams import load_layered_hparams
from speechbrain_asd.utils.memory import keep_freed_memory

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "DCASE2023"
SMALL = {
    "clip_seconds": 4.0, "n_fft": 512, "hop_length": 256, "embedding_dim": 64,
    "spectrum_channels": 32, "spectrum_dense_layers": 2, "resnet_channels": [8, 16, 32],
    "blocks_per_stage": 1,
}


def _recipe():
    spec = importlib.util.spec_from_file_location("dcase2023_train", RECIPE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(fn, repeats, device):
    fn()  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="the demo's model, 4 s clips")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    args = parser.parse_args()
    keep_freed_memory()  # as train.py does
    overrides = {"n_classes": args.classes, "output_folder": "results/bench_recipe",
                 "subcenter_strategy": "aasrl", "batch_size": args.batch}
    if args.small:
        overrides.update(SMALL)
    hparams, _, _ = load_layered_hparams(RECIPE / "hparams" / "aasrl.yaml", overrides)
    recipe = _recipe()
    brain = recipe.AASRLBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"device": args.device, "precision": args.precision,
                  "eval_precision": args.precision},
    )
    brain.on_fit_start()
    n_samples = hparams["encoder"].n_samples
    torch.manual_seed(0)
    examples = [
        {"id": str(i), "sig": torch.randn(n_samples) * 0.1,
         "class_index": torch.tensor([i % args.classes]), "sample_index": torch.tensor([i])}
        for i in range(args.batch)
    ]
    batch = PaddedBatch(examples)
    n_subcenters = hparams["n_subcenters"]
    for switch in hparams["aasrl"].values():  # time the heavier phase: with AASRL masks
        switch.measure(torch.arange(args.batch), torch.rand(args.batch, n_subcenters))

    def recipe_step():
        brain.fit_batch(batch)

    model = hparams["model"]
    encoder = model.encoder
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    wavs = batch.sig.data.to(args.device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)

    def bare_step():
        optimizer.zero_grad()
        with torch.autocast(args.device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            loss = encoder(wavs).float().pow(2).mean()
        loss.backward()
        optimizer.step()

    def measure_pass():
        with torch.no_grad():
            model.eval()
            with torch.autocast(args.device.split(":")[0], dtype=dtype,
                                enabled=dtype is not None):
                model.own_class_cosines(wavs, batch.class_index.data[:, 0].to(args.device))
            model.train()

    t_recipe = _timed(recipe_step, args.repeats, args.device)
    t_bare = _timed(bare_step, args.repeats, args.device)
    t_measure = _timed(measure_pass, args.repeats, args.device)
    size = "demo-size" if args.small else "full-size"
    print(f"{size} SSLASD, {hparams['clip_seconds']} s clips, batch {args.batch}, "
          f"{args.classes} classes x {n_subcenters} sub-centres, {args.device}, "
          f"{args.precision}, {torch.get_num_threads()} threads")
    print(f"{'what':<40}{'s / step':>10}{'clips/s':>10}")
    print(f"{'recipe training step (AASRL phase)':<40}{t_recipe:>10.3f}"
          f"{args.batch / t_recipe:>10.1f}")
    print(f"{'bare encoder forward+backward+Adam':<40}{t_bare:>10.3f}"
          f"{args.batch / t_bare:>10.1f}")
    print(f"{'ratio recipe / bare (target >= 0.9)':<40}{t_bare / t_recipe:>20.2f}")
    print(f"{'measurement pass / training epoch':<40}{t_measure / t_recipe:>20.2f}")
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
