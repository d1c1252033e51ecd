#!/usr/bin/env bash
# Wheels the GPU machine lacks, for benchmarks/gpu_check.sh (that machine reaches no registry:
# its image holds torch, torchaudio, numpy, scipy, scikit-learn, tqdm, but not these).
# Run here, then carry the folder: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"]).
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=${PIP:-.venv/bin/pip}
get() {  # $1: platform tag, then packages
    local platform=$1
    shift
    "$PIP" download -q --only-binary=:all: --no-deps --python-version 3.12 --implementation cp \
        --platform "$platform" --platform any -d .whl "$@"
}
get manylinux2014_x86_64 speechbrain==1.1.2 hyperpyyaml==1.2.3 ruamel.yaml==0.18.17 \
    ruamel.yaml.clib==0.2.15 cffi pycparser
get manylinux_2_28_x86_64 soundfile==0.14.0  # the wheel that bundles libsndfile
ls .whl
