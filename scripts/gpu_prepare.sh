#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what scripts/gpu_check.sh needs on a GPU machine that has a CUDA LibTorch but
# no network, CLI11, GoogleTest or datasets: CLI11, stb, nlohmann/json and zlib headers, GoogleTest's sources, and
# MNIST and Fashion-MNIST (about 55 MB in all). Run it here (after scripts/fetch_data.sh), then carry .gpu to the GPU machine (under 64 MiB).
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
# cpp-httplib: Debian's is a compiled library; the GPU machine gets the single header it is built from.
HTTPLIB_HEADER=${HTTPLIB_HEADER:-}
if [ -z "$HTTPLIB_HEADER" ] || ! grep -q '#define CPPHTTPLIB_VERSION "0.11' "$HTTPLIB_HEADER"; then
  echo "gpu_prepare: set HTTPLIB_HEADER to cpp-httplib 0.11's single-header httplib.h (upstream tag v0.11.4)" >&2
  exit 2
fi
mkdir -p "$GPU_DIR/httplib"
cp "$HTTPLIB_HEADER" "$GPU_DIR/httplib/httplib.h"
# MNIST: the training files gzipped, the test files raw (tests read them by their raw names); Fashion-MNIST gzipped.
copy_idx() {  # copy_idx NAME FROM TO raw|gz
  local name=$1 from=$2 to=$3 form=$4
  if [ "$form" = raw ]; then
    if [ -f "$from/$name" ]; then cp -L "$from/$name" "$to/"; else gzip -dc "$from/$name.gz" > "$to/$name"; fi
  else
    if [ -f "$from/$name.gz" ]; then cp -L "$from/$name.gz" "$to/"; else gzip -9 -c "$from/$name" > "$to/$name.gz"; fi
  fi
}
mkdir -p "$GPU_DIR/data/fashion-mnist"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  copy_idx "$name" "$DATA_DIR/mnist" "$GPU_DIR/data/mnist" gz
done
for name in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  copy_idx "$name" "$DATA_DIR/mnist" "$GPU_DIR/data/mnist" raw
done
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  copy_idx "$name" "$DATA_DIR/fashion-mnist" "$GPU_DIR/data/fashion-mnist" gz
done
echo "gpu_prepare: $(du -sh "$GPU_DIR" | cut -f1) in $GPU_DIR"
