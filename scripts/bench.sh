#!/usr/bin/env bash
# Benchmarks lenet5 against Python PyTorch (Debian python3-torch) on this machine, same thread count, C++ and
# Python alternating for --rounds rounds (the machine is shared and noisy; ratios are per-round medians):
#   - the default training recipe, whole process, to 99% test accuracy (training images/s and time to 99%);
#   - inference on the exported model per batch size (lenet5 bench vs idiomatic and expert Python);
#   - training steps on a fixed batch;
# then against ONNX Runtime (onnxruntime-node 1.30.0 from npm, CPU, 1 thread) on the same exported model
# (bench/compare_onnx.py): lenet5's serving path at batch 1, 64 and 1024, and at 2 threads on 1024; ONNX Runtime
# timed three ways (Node's async API, its synchronous binding, its own profiler inside the engine).
#   scripts/bench.sh [--threads N] [--rounds R] [--seconds S] [--batch-sizes 1,8,64,256,1024]
#                    [--only pytorch|onnx] [--model FILE.pt]
# `--only onnx` is the quick mode (about 70 s at the defaults): without --model it trains a
# model for one epoch on 6,400 images (its speed does not depend on its accuracy) and exports it.
# Results land in $LENET5_BENCH_DIR (default <repo>/runs/bench-<time>): comparison.txt, comparison.json,
# onnx_comparison.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

THREADS=1
ROUNDS=3
SECONDS_PER_POINT=1
BATCH_SIZES=1,8,64,256,1024
ONLY=""
MODEL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2 ;;
    --model) MODEL=$(realpath "$2"); shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_POINT=$2; shift 2 ;;
    --batch-sizes) BATCH_SIZES=$2; shift 2 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

case "$ONLY" in ""|pytorch|onnx) ;; *) echo "bench.sh: --only takes pytorch or onnx, not '$ONLY'" >&2; exit 2 ;; esac

# onnxruntime-node's CPU build is inside its npm package; ONNXRUNTIME_NODE_INSTALL=skip skips its CUDA download.
ORT_DIR=$LENET5_ROOT/.cache/onnxruntime-node
ORT_VERSION=1.30.0
install_onnxruntime_node() {
  local package=$ORT_DIR/node_modules/onnxruntime-node/package.json
  [ -f "$package" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$package" && return 0
  mkdir -p "$ORT_DIR"
  (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$ORT_VERSION" >/dev/null)
}

install_missing_packages
[ "$ONLY" = pytorch ] || install_onnxruntime_node
configure_and_build lenet5
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR" >/dev/null
OUT=${LENET5_BENCH_DIR:-$LENET5_ROOT/runs/bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OMP_NUM_THREADS=$THREADS
echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)" | tee "$OUT/comparison.txt"
LENET5="$BUILD_DIR/app/lenet5"
if [ "$ONLY" != onnx ]; then
  model_flag=()
  [ -z "$MODEL" ] || model_flag=(--model "$MODEL")
  with_fast_malloc /usr/bin/python3 "$LENET5_ROOT/bench/compare_pytorch.py" --lenet5 "$LENET5" \
    --data "$DATA_DIR/mnist" --out "$OUT" --threads "$THREADS" --rounds "$ROUNDS" --seconds "$SECONDS_PER_POINT" \
    --batch-sizes "$BATCH_SIZES" "${model_flag[@]}" | tee -a "$OUT/comparison.txt"
  [ -n "$MODEL" ] || MODEL=$OUT/lenet5-modern.pt
fi
[ "$ONLY" != pytorch ] || exit 0
if [ -z "$MODEL" ]; then
  "$LENET5" train --data "$DATA_DIR/mnist" --epochs 1 --limit-train 6400 --threads 1 --out "$OUT/onnx-model-run" >/dev/null
  "$LENET5" export --checkpoint "$OUT/onnx-model-run/best.pt" --out "$OUT/lenet5-modern.pt" >/dev/null
  MODEL=$OUT/lenet5-modern.pt
fi
with_fast_malloc /usr/bin/python3 "$LENET5_ROOT/bench/compare_onnx.py" --lenet5 "$LENET5" --model "$MODEL" \
  --ort "$ORT_DIR/node_modules/onnxruntime-node" --out "$OUT" --rounds "$ROUNDS" --seconds "$SECONDS_PER_POINT" \
  | tee -a "$OUT/comparison.txt"
