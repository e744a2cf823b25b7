#!/usr/bin/env bash
# Data-parallel training on this machine, same run: 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread
# (lenet5 train --nproc 2), alternating for --rounds rounds. Each run is a whole process training to
# --target-accuracy 99 (at most --epochs epochs); per configuration: training images/s (epochs only, from
# metrics.jsonl), whole-process seconds to 99% and the epoch that reached it, as medians with [min-max] ranges,
# and the ratios to 1 rank x 1 thread. 2 ranks also report their all-reduces (count, bytes, and the mean time
# rank 0 waited for one: less than its duration where it overlapped backward).
#   scripts/bench_distributed.sh [--rounds R] [--epochs E] [--batch-size B] [--lr LR] [--limit-train N]
# B and LR are the per-rank batch and rate of the 2-rank runs, as lenet5 train --nproc 2 takes them (global batch
# 2B, rate LR x sqrt 2 for AdamW); the 1-rank runs train the same recipe: batch 2B at rate LR x sqrt 2.
# Results land in $LENET5_BENCH_DIR (default <repo>/runs/bench-distributed-<time>): summary.txt, runs.jsonl.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ROUNDS=3
EPOCHS=2
# The recipe that reaches 99% soonest here (README, "Distributed figures"): global batch 256 at rate 0.0141.
BATCH=128
LR=0.01
LIMIT_TRAIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --batch-size) BATCH=$2; shift 2 ;;
    --lr) LR=$2; shift 2 ;;
    --limit-train) LIMIT_TRAIN=$2; shift 2 ;;
    *) echo "bench_distributed.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

install_missing_packages
configure_and_build lenet5
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR" >/dev/null
OUT=${LENET5_BENCH_DIR:-$LENET5_ROOT/runs/bench-distributed-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
LENET5="$BUILD_DIR/app/lenet5"
GLOBAL_LR=$(/usr/bin/python3 -c "print($LR * 2 ** 0.5)")  # what lenet5 makes of --lr for AdamW on two ranks
COMMON=(train --data "$DATA_DIR/mnist" --epochs "$EPOCHS" --target-accuracy 99 --limit-train "$LIMIT_TRAIN")
declare -A FLAGS=(
  ["1 rank x 1 thread"]="--threads 1 --batch-size $((2 * BATCH)) --lr $GLOBAL_LR"
  ["1 rank x 2 threads"]="--threads 2 --batch-size $((2 * BATCH)) --lr $GLOBAL_LR"
  ["2 ranks x 1 thread"]="--threads 1 --batch-size $BATCH --lr $LR --nproc 2"
)
ORDER=("1 rank x 1 thread" "1 rank x 2 threads" "2 ranks x 1 thread")
echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)" | tee "$OUT/summary.txt"
echo "recipe: ${COMMON[*]:3}, global batch $((2 * BATCH)), rate $GLOBAL_LR" | tee -a "$OUT/summary.txt"
: >"$OUT/runs.jsonl"
for round in $(seq "$ROUNDS"); do
  for name in "${ORDER[@]}"; do
    run="$OUT/round$round-${name// /}"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    with_fast_malloc "$LENET5" "${COMMON[@]}" ${FLAGS[$name]} --out "$run" >"$run.log" 2>&1
    end=$(date +%s.%N)
    /usr/bin/python3 - "$name" "$round" "$start" "$end" "$run" >>"$OUT/runs.jsonl" <<'PY'
import json, re, sys
name, round_, start, end, run = sys.argv[1:]
epochs = [json.loads(line) for line in open(run + "/metrics.jsonl")]
log = open(run + ".log").read()
comm = re.search(r"(\d+) all-reduces, (\d+) bytes and ([\d.]+) ms waited each", log)
print(json.dumps({"config": name, "round": int(round_), "seconds": float(end) - float(start),
                  "epochs": len(epochs), "accuracy": epochs[-1]["test_accuracy"],
                  "images_per_second": sum(e["images_per_second"] for e in epochs) / len(epochs),
                  "all_reduces": int(comm.group(1)) if comm else None,
                  "all_reduce_bytes": int(comm.group(2)) if comm else None,
                  "all_reduce_ms": float(comm.group(3)) if comm else None}))
PY
    tail -n1 "$OUT/runs.jsonl"
  done
done
/usr/bin/python3 - "$OUT/runs.jsonl" <<'PY' | tee -a "$OUT/summary.txt"
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
order = ["1 rank x 1 thread", "1 rank x 2 threads", "2 ranks x 1 thread"]
def spread(values, fmt):
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"
base = {r["round"]: r for r in runs if r["config"] == order[0]}
print(f"{'configuration':<20} {'images/s':>22} {'vs 1x1':>20} {'seconds to 99%':>20} {'vs 1x1':>20}  epochs, accuracy")
for name in order:
    mine = [r for r in runs if r["config"] == name]
    speed = [r["images_per_second"] for r in mine]
    speedup = [r["images_per_second"] / base[r["round"]]["images_per_second"] for r in mine]
    # Seconds to 99% only for the runs that reached it (and their ratio only against a base run that did too).
    hit = [r for r in mine if r["accuracy"] >= 0.99]
    secs = spread([r["seconds"] for r in hit], '{:.1f}') if hit else "not reached"
    both = [r for r in hit if base[r["round"]]["accuracy"] >= 0.99]
    faster = spread([base[r["round"]]["seconds"] / r["seconds"] for r in both], '{:.2f}x') if both else "-"
    reached = ", ".join(f"{r['epochs']} {100 * r['accuracy']:.2f}%" for r in mine)
    print(f"{name:<20} {spread(speed, '{:.0f}'):>22} {spread(speedup, '{:.2f}x'):>20} {secs:>20} "
          f"{faster:>20}  {reached}")
comm = [r for r in runs if r["all_reduce_ms"] is not None]
if comm:
    print(f"2 ranks: {comm[0]['all_reduces']} all-reduces per run, {comm[0]['all_reduce_bytes']} bytes on average, "
          f"{spread([r['all_reduce_ms'] for r in comm], '{:.3f}')} ms waited for each (rank 0)")
PY
