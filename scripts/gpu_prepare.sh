#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what scripts/gpu_check.sh needs on a GPU machine that has a CUDA LibTorch but
# no network, CLI11, GoogleTest or datasets: CLI11, stb, nlohmann/json and zlib headers, GoogleTest's sources, and
# MNIST gzipped. Run it here (after scripts/fetch_data.sh), then carry .gpu to the GPU machine (under 64 MiB).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU_DIR=$ROOT/.gpu
DATA_DIR=${LENET5_DATA_DIR:-$ROOT/.data}

rm -rf "$GPU_DIR"
mkdir -p "$GPU_DIR/include" "$GPU_DIR/data/mnist"
cp -r /usr/include/CLI /usr/include/nlohmann "$GPU_DIR/include/"
mkdir -p "$GPU_DIR/include/stb"
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h "$GPU_DIR/include/stb/"
mkdir -p "$GPU_DIR/zlib"
cp /usr/include/zlib.h /usr/include/zconf.h "$GPU_DIR/zlib/"  # used only where the machine lacks them
cp -r /usr/src/googletest "$GPU_DIR/googletest"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ -f "$DATA_DIR/mnist/$name.gz" ]; then
    cp "$DATA_DIR/mnist/$name.gz" "$GPU_DIR/data/mnist/"
  else
    gzip -9 -c "$DATA_DIR/mnist/$name" > "$GPU_DIR/data/mnist/$name.gz"
  fi
done
echo "gpu_prepare: $(du -sh "$GPU_DIR" | cut -f1) in $GPU_DIR"
