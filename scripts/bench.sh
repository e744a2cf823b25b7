#!/usr/bin/env bash
# Benchmarks lenet5 against Python PyTorch (Debian python3-torch) in one run, same thread count:
# trains the default recipe (timing the whole process to 99% test accuracy), exports it, runs
# `lenet5 bench` (inference per mode and batch size, training steps) and bench/compare_pytorch.py,
# which prints the C++/Python ratios.
#   scripts/bench.sh [--threads N] [--seconds S] [--skip-time-to-accuracy]
# Results land in $LENET5_BENCH_DIR (default <repo>/runs/bench-<time>).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

THREADS=1
SECONDS_PER_POINT=2
TIME_TO_ACCURACY=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --seconds) SECONDS_PER_POINT=$2; shift 2 ;;
    --skip-time-to-accuracy) TIME_TO_ACCURACY=0; shift ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

install_missing_packages
configure_and_build -DLENET5_BUILD_TESTS=OFF
DATA_DIR=${LENET5_DATA_DIR:-$LENET5_ROOT/.data}
bash "$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR" >/dev/null
LENET5=$BUILD_DIR/app/lenet5
OUT=${LENET5_BENCH_DIR:-$LENET5_ROOT/runs/bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OMP_NUM_THREADS=$THREADS

echo "== C++: default recipe, 2 epochs, whole process (threads $THREADS)"
start=$(date +%s.%N)
with_fast_malloc "$LENET5" train --data "$DATA_DIR/mnist" --epochs 2 --threads "$THREADS" --out "$OUT/run" | tail -n 3
cpp_seconds=$(echo "$(date +%s.%N) - $start" | bc)
with_fast_malloc "$LENET5" export --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/lenet5-modern.pt" >/dev/null

echo "== C++: lenet5 bench"
with_fast_malloc "$LENET5" bench --model "$OUT/lenet5-modern.pt" --threads "$THREADS" --seconds "$SECONDS_PER_POINT" \
  --batch-sizes 1,8,64,256,1024 --train --json > "$OUT/cpp.json"
with_fast_malloc "$LENET5" bench --model "$OUT/lenet5-modern.pt" --threads "$THREADS" --seconds "$SECONDS_PER_POINT" \
  --batch-sizes 1,64 --modes optimized > /dev/null  # keeps the machine's clocks comparable for the peer

echo "== Python PyTorch peer"
extra=()
[ "$TIME_TO_ACCURACY" = 1 ] && extra=(--time-to-accuracy "$cpp_seconds")
with_fast_malloc /usr/bin/python3 "$LENET5_ROOT/bench/compare_pytorch.py" --model "$OUT/lenet5-modern.pt" \
  --cpp-json "$OUT/cpp.json" --threads "$THREADS" --seconds "$SECONDS_PER_POINT" --data "$DATA_DIR/mnist" \
  --json "$OUT/comparison.json" "${extra[@]}" | tee "$OUT/comparison.txt"
echo "results: $OUT"
