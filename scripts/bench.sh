#!/usr/bin/env bash
# Benchmarks lenet5 against Python PyTorch (Debian python3-torch) on this machine, same thread count, C++ and
# Python alternating for --rounds rounds (the machine is shared and noisy; ratios are per-round medians):
#   - the default training recipe, whole process, to 99% test accuracy (training images/s and time to 99%);
#   - inference on the exported model per batch size (lenet5 bench vs idiomatic and expert Python);
#   - training steps on a fixed batch.
#   scripts/bench.sh [--threads N] [--rounds R] [--seconds S] [--batch-sizes 1,8,64,256,1024]
# Results land in $LENET5_BENCH_DIR (default <repo>/runs/bench-<time>): comparison.txt, comparison.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

THREADS=1
ROUNDS=3
SECONDS_PER_POINT=1
BATCH_SIZES=1,8,64,256,1024
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_POINT=$2; shift 2 ;;
    --batch-sizes) BATCH_SIZES=$2; shift 2 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

install_missing_packages
configure_and_build lenet5
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR" >/dev/null
OUT=${LENET5_BENCH_DIR:-$LENET5_ROOT/runs/bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OMP_NUM_THREADS=$THREADS
echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d)" | tee "$OUT/comparison.txt"
with_fast_malloc /usr/bin/python3 "$LENET5_ROOT/bench/compare_pytorch.py" --lenet5 "$BUILD_DIR/app/lenet5" \
  --data "$DATA_DIR/mnist" --out "$OUT" --threads "$THREADS" --rounds "$ROUNDS" --seconds "$SECONDS_PER_POINT" \
  --batch-sizes "$BATCH_SIZES" | tee -a "$OUT/comparison.txt"
