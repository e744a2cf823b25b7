#!/usr/bin/env bash
# bench/compare_onnx.py end to end at its smallest settings: it exports the model to ONNX, checks ONNX Runtime's
# scores against the TorchScript file's, times both (ONNX Runtime three ways: Node's async API, its synchronous
# binding, its own profiler) and writes onnx_comparison.json with every ratio and goal.
# Skipped (77) where scripts/bench.sh has not installed onnxruntime-node or python3-onnx is missing.
#   bench_onnx_test.sh LENET5 PYTHON COMPARE_SCRIPT MNIST_DIR ONNXRUNTIME_NODE_DIR
set -euo pipefail
LENET5=$1 PYTHON=$2 COMPARE=$3 MNIST=$4 ORT=$5
[ -f "$ORT/package.json" ] || { echo "onnxruntime-node not installed in $ORT (scripts/bench.sh installs it)"; exit 77; }
command -v node >/dev/null || { echo "node not found"; exit 77; }
"$PYTHON" -c "import onnx" 2>/dev/null || { echo "python3-onnx not installed"; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$LENET5" train --data "$MNIST" --epochs 1 --limit-train 640 --limit-test 200 --threads 1 --out "$WORK/run" >/dev/null
"$LENET5" export --checkpoint "$WORK/run/checkpoint.pt" --out "$WORK/model.pt" >/dev/null
"$PYTHON" "$COMPARE" --lenet5 "$LENET5" --model "$WORK/model.pt" --ort "$ORT" --out "$WORK/out" --rounds 2 \
  --seconds 0.05 --batch-sizes 1,3,256 > "$WORK/stdout.txt"
"$PYTHON" - "$WORK/out/onnx_comparison.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
assert len(summary["rounds"]) == 2, summary["rounds"]
assert [b["batch_size"] for b in summary["batches"]] == [1, 3, 256], summary["batches"]
for b in summary["batches"]:
    assert b["engine"].startswith("native-"), b
    for key in ("throughput_ratio", "p50_latency_ratio"):
        s = b[key]
        assert 0 < s["min"] <= s["median"] <= s["max"], (key, b)
    for way in ("api", "sync", "engine", "best"):  # Node end to end, the synchronous binding, ORT's profiler
        ort = b["onnxruntime_" + way]
        assert ort["p50_us"] > 0 and ort["images_per_second"] > 0, (way, b)
    assert b["throughput_ratio"] == b["onnxruntime_best"]["throughput_ratio"], b
assert 0 < summary["two_thread_scaling"]["median"], summary
assert summary["fma_peak_gflops"] > 0, summary
assert len(summary["goals"]) == 3 and all(isinstance(g["met"], bool) for g in summary["goals"]), summary["goals"]
print("onnx_comparison.json complete:", len(summary["batches"]), "batch sizes")
PY
grep -q "issue 16 goals" "$WORK/stdout.txt"
