#!/usr/bin/env bash
# The GPU checks owed by the recipe issue, as one run on a lent GPU machine (about 5 minutes on
# an H200). Prepare the wheels here with benchmarks/gpu_wheels.sh, then
#     run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
# Prints everything; copies the logs named below into $OUT (the device tool's folder that comes
# back; runs themselves go to $WORK, default /tmp/gpu_check):
#   1. cuda.txt      the library on CUDA: a training step on the GPU equals the CPU's (fp32),
#                    bf16 autocast gives finite losses and gradients;
#   2. encoder.txt   bench_encoder.py --device cuda --bf16 --batch 64 256 (clips/s, peak memory);
#   3. recipe.txt    bench_recipe.py --device cuda:0 --precision bf16 (framework ratio);
#   4. train.txt, train_log.txt, results.md: the full-size AASRL recipe with --device=cuda:0 --precision=bf16 on a
#                    simulated dcase2023-shaped set, ~300 steps across the switch at step 150
#                    (train_log.txt holds clips/s and peak memory per epoch);
#   5. torchrun.txt  the same recipe under torchrun with nccl (one process: the DDP wrapping,
#                    SyncBatchNorm and the nccl collectives run; two GPUs are needed for more).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu_check}
WORK=${WORK:-/tmp/gpu_check}
PY=${PY:-python3}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
status=0
step() {  # $1: name, $2: seconds, then the command; a failing step does not stop the others
    local name=$1 limit=$2
    shift 2
    echo "=== $name"
    if ! timeout "$limit" "$@" 2>&1 | tee "$WORK/$name.txt"; then
        echo "=== $name FAILED" | tee -a "$WORK/$name.txt"
        status=1
    fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$PY -m pip install -q --no-index --find-links .whl speechbrain hyperpyyaml soundfile || status=1
$PY -c "import torch, speechbrain; print('torch', torch.__version__, 'speechbrain', speechbrain.__version__)"

step cuda 120 $PY - <<'PYEOF'
import torch
from speechbrain_asd.lobes.augment import FeatEx, Mixup, StatEx
from speechbrain_asd.lobes.heads import SSLASDHeads
from speechbrain_asd.lobes.sslasd import SSLASDEncoder
from speechbrain_asd.lobes.system import SSLASDSystem
from speechbrain_asd.nnet.losses import SubcenterAdaCosLoss

def step(device, dtype=None):
    torch.manual_seed(0)
    encoder = SSLASDEncoder(clip_seconds=2.0)
    # the CPU and CUDA generators draw different numbers: no augmentation takes effect
    system = SSLASDSystem(encoder, SSLASDHeads(256, 10, 16), Mixup(0.0), StatEx(0.0),
                          FeatEx(0.0)).to(device)
    losses = {"main": SubcenterAdaCosLoss(10, 16).to(device),
              "featex": SubcenterAdaCosLoss(90, 16).to(device)}
    wavs = torch.randn(16, 32000, generator=torch.Generator().manual_seed(1)).to(device)
    labels = torch.arange(16) % 10
    generator = torch.Generator(device=device).manual_seed(2)
    with torch.autocast(device_type=device, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = system(wavs, torch.eye(10)[labels].to(device), generator=generator)
        loss = sum(losses[h](out["cosines"][h], out["targets"][h]) for h in losses)
    loss.backward()
    grads = {n: p.grad.float().cpu() for n, p in system.named_parameters() if p.grad is not None}
    return float(loss.detach()), out["embedding"].float().detach().cpu(), grads

cpu, gpu, bf16 = step("cpu"), step("cuda"), step("cuda", torch.bfloat16)
print(f"loss cpu {cpu[0]:.6f} cuda fp32 {gpu[0]:.6f} cuda bf16 {bf16[0]:.6f}")
print("embedding max |cuda - cpu| / max|cpu|:",
      float((gpu[1] - cpu[1]).abs().max() / cpu[1].abs().max()))
worst = max(float((gpu[2][n] - g).abs().max() / (g.abs().max() + 1e-12)) for n, g in cpu[2].items())
print("gradients, worst max |cuda - cpu| / max|cpu|:", worst)
assert abs(gpu[0] - cpu[0]) < 1e-3 * abs(cpu[0]) and worst < 1e-2, "CUDA differs from the CPU"
assert all(torch.isfinite(g).all() for g in bf16[2].values()) and bf16[0] == bf16[0]
print("OK: CUDA fp32 equals the CPU; bf16 autocast is finite")
PYEOF

step encoder 150 $PY benchmarks/bench_encoder.py --device cuda --bf16 --batch 64 256 --no-plain
step recipe 150 $PY benchmarks/bench_recipe.py --device cuda:0 --precision bf16

DATA=/tmp/sim_dcase2023_shaped
step simulate 120 $PY -m speechbrain_asd.dataio.simulate "$DATA" --preset dcase2023-shaped \
    --scale 0.1 --seed 0 --workers 12 --no-progress --overwrite
# ~1,400 training clips = 22 steps per epoch at batch 64: 14 epochs ~ 300 steps, T = 150
RUN=(recipes/DCASE2023/train.py hparams/aasrl.yaml --data_folder="$DATA" --device=cuda:0
     --precision=bf16 --num_workers=12 --overwrite_results=True)
step train 300 $PY "${RUN[@]}" --number_of_epochs=14 --switch_step=150 \
    --output_folder="$WORK/train"
step torchrun 180 $PY -m torch.distributed.run --nproc_per_node=1 "${RUN[@]}" \
    --number_of_epochs=1 --switch_step=10 --output_folder="$WORK/torchrun"
echo "=== train_log.txt"
cat "$WORK/train/train_log.txt"
cp "$WORK"/{cuda,encoder,recipe,train,torchrun}.txt "$WORK/train/train_log.txt" \
    "$WORK/train/results.md" "$OUT"/ 2>/dev/null
exit $status
