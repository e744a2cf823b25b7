#!/usr/bin/env bash
# bench/compare_pytorch.py end to end at the smallest settings: it drives `lenet5 bench` and the Python peer
# and writes comparison.json with a ratio for every batch size and peer. (The whole-recipe rounds train for
# minutes and run in scripts/bench.sh, not here.)
#   bench_compare_test.sh LENET5 PYTHON COMPARE_SCRIPT MNIST_DIR
set -euo pipefail
LENET5=$1 PYTHON=$2 COMPARE=$3 MNIST=$4
if [ ! -f "$MNIST/t10k-images-idx3-ubyte" ] && [ ! -f "$MNIST/t10k-images-idx3-ubyte.gz" ]; then
  echo "MNIST not found in $MNIST (scripts/fetch_data.sh installs it)"; exit 77
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$LENET5" train --data "$MNIST" --epochs 1 --limit-train 640 --limit-test 200 --threads 1 --out "$WORK/run" >/dev/null
"$LENET5" export --checkpoint "$WORK/run/checkpoint.pt" --out "$WORK/model.pt" >/dev/null
"$PYTHON" "$COMPARE" --lenet5 "$LENET5" --model "$WORK/model.pt" --skip-recipe --out "$WORK/out" --rounds 2 \
  --seconds 0.05 --batch-sizes 1,8 --train-batch-sizes 8 > "$WORK/stdout.txt"
"$PYTHON" - "$WORK/out/comparison.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
assert summary["rounds"] == 2, summary
pairs = {(r["batch_size"], r["peer"]) for r in summary["inference"]}
assert pairs == {(b, p) for b in (1, 8) for p in ("python-idiomatic", "python-expert")}, pairs
for r in summary["inference"]:
    for key in ("throughput_ratio", "p50_latency_ratio"):
        s = r[key]
        assert 0 < s["min"] <= s["median"] <= s["max"], (key, r)
steps = summary["training_steps"]
assert [s["batch_size"] for s in steps] == [8] and steps[0]["cpp"] > 0 and steps[0]["python"] > 0, steps
print("comparison.json complete:", len(summary["inference"]), "inference ratios")
PY
grep -q "python-expert" "$WORK/stdout.txt"
