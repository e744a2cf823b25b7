#!/usr/bin/env bash
# Load benchmark of `lenet5 serve` (dynamic batching on and off) against the Python deployment of the same
# exported file (scripts/fastapi_server.py: FastAPI + uvicorn + torch.jit.load, as usually written and with
# --offload), with wrk posting real MNIST test images as PNG bodies at concurrency 1, 8 and 64, rounds
# alternating (bench/compare_serve.py).
#   scripts/bench_serve.sh [--quick] [--model FILE.pt] [--rounds R] [--seconds S] [--max-batch B]
#                          [--concurrency 1,8,64] [--threads N]
#   scripts/bench_serve.sh --soak SECONDS [--model FILE.pt]     mixed good and bad requests; RSS over time, 5xx
# --quick: 2 rounds of 4 s per point (2-3 minutes; the default, 3 rounds of 8 s, about 5). Without --model, a
# model is trained briefly (1 epoch on 12,800 images) and exported. Results land in $LENET5_BENCH_DIR (default
# <repo>/runs/serve-bench-<time>): serve.txt, serve.json (or soak.json) and the servers' logs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

MODEL=""
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --quick) PASS+=(--rounds 2 --seconds 4); shift ;;
    --rounds | --seconds | --max-batch | --max-delay-us | --concurrency | --threads | --soak)
      PASS+=("$1" "$2"); shift 2 ;;
    *) echo "bench_serve.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

install_missing_packages
configure_and_build lenet5
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR" >/dev/null
OUT=${LENET5_BENCH_DIR:-$LENET5_ROOT/runs/serve-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
LENET5=$BUILD_DIR/app/lenet5
if [ -z "$MODEL" ]; then
  with_fast_malloc "$LENET5" train --data "$DATA_DIR/mnist" --epochs 1 --limit-train 12800 --threads 1 \
    --out "$OUT/run" >/dev/null
  MODEL=$OUT/model.pt
  with_fast_malloc "$LENET5" export --checkpoint "$OUT/run/best.pt" --out "$MODEL" >/dev/null
fi
export OMP_NUM_THREADS=1
echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')" | tee "$OUT/serve.txt"
# Both servers get tcmalloc, so that the comparison is of the servers, not of the allocators.
with_fast_malloc /usr/bin/python3 "$LENET5_ROOT/bench/compare_serve.py" --lenet5 "$LENET5" --model "$MODEL" \
  --data "$DATA_DIR/mnist" --out "$OUT" --python /usr/bin/python3 "${PASS[@]}" | tee -a "$OUT/serve.txt"
echo "results: $OUT"
