#!/usr/bin/env bash
# Prepares, on this machine, what benchmarks/gpu_check.py needs on a lent GPU machine
# (Python 3.12, JAX and PyTorch with CUDA; no Keras, no TensorFlow, no network):
#   .whl/           Keras and the packages it imports that such a machine lacks (no numpy,
#                   ml_dtypes or typing_extensions: JAX and PyTorch bring those), and Pillow
#   .data/cifar10/  the JPEG class folders of ../shared/datasets/cifar10 (about 50 MB)
# Both are listed in .git/info/exclude and travel with the device tool's `carry`
# (about 62 MB of the 64 MiB a call may take). See docs/BENCHMARKS.md.
#
#   benchmarks/gpu_prepare.sh [DATA_DIR]     # default DATA_DIR: ../shared/datasets/cifar10
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/datasets/cifar10}"
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
for path in /.whl/ /.data/; do
    grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >> "$exclude"
done
rm -rf .whl && mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
    keras==3.15.1 absl-py==2.5.1 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 \
    namex==0.1.0 h5py==3.16.0 optree==0.20.0 packaging==26.4 pillow==13.0.0
mkdir -p .data && rm -rf .data/cifar10 && cp -r "$data" .data/cifar10
du -sh --apparent-size .whl .data
