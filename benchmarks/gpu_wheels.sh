#!/usr/bin/env bash
# Downloads the wheels benchmarks/gpu_check.py needs on a GPU machine that has
# Python 3.12, JAX and PyTorch (CUDA), but no Keras, no TensorFlow and no network.
#
#   benchmarks/gpu_wheels.sh [DEST]      # default DEST: wheels/ (git-ignored)
#
# Then, on the GPU machine, from the repository root:
#   python -m pip install --no-index --find-links wheels/ keras pillow
#   python benchmarks/gpu_check.py --data-dir ../shared/datasets/cifar10
set -euo pipefail
dest="${1:-wheels}"
mkdir -p "$dest"
# Keras and what it imports that a JAX + PyTorch machine may lack; Pillow decodes the JPEG images.
python -m pip download --quiet --dest "$dest" \
    --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 --only-binary=:all: \
    keras==3.15.1 absl-py rich namex h5py optree ml-dtypes packaging pillow==13.0.0
ls "$dest"
