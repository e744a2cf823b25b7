#!/usr/bin/env bash
# scripts/bench_serve.sh's driver (bench/compare_serve.py) end to end at its smallest settings: lenet5 serve with
# and without batching and the FastAPI peers under wrk, then a short soak of mixed good and hostile bodies, which
# must get no 5xx and leave the server serving and exiting 0 on SIGTERM.
#   serve_bench_test.sh LENET5 PYTHON COMPARE_SCRIPT MNIST_DIR MODEL
set -euo pipefail
LENET5=$1 PYTHON=$2 COMPARE=$3 MNIST=$4 MODEL=$5
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: wrk): skipping"; exit 77; }
[ -f "$MODEL" ] || { echo "no model at $MODEL (the serve_model fixture makes it)"; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" "$COMPARE" --lenet5 "$LENET5" --model "$MODEL" --data "$MNIST" --out "$WORK/compare" --rounds 1 \
  --seconds 1 --warmup 1 --concurrency 1,8 --images 50 --port 0 > "$WORK/compare.txt"
"$PYTHON" - "$WORK/compare/serve.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
rows = {(r["server"].split(" (")[0], r["concurrency"]): r for r in summary["rows"]}
servers = ("lenet5 batching", "lenet5 no batching", "FastAPI", "FastAPI, thread pool")
assert set(rows) == {(s, c) for s in servers for c in (1, 8)}, rows
for (server, concurrency), row in rows.items():
    assert row["requests_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"] and row["errors"] == 0, row
    if server.startswith("lenet5"):
        assert row["mean_batch"] is not None and row["mean_batch"] >= 1, row
    if server == "lenet5 no batching":
        assert row["mean_batch"] == 1, row
# One request at a time takes well under a millisecond of work; with Nagle's algorithm on (cpp-httplib's default)
# every keep-alive response waited 40 ms for the client's delayed ACK.
single = rows[("lenet5 no batching", 1)]
assert single["p50_ms"] < 20, f"p50 {single['p50_ms']} ms at concurrency 1: TCP_NODELAY off?"
# 64 clients connecting at once need an accept backlog above cpp-httplib's 5, or their handshakes are dropped and
# their first requests wait a second or more for a retransmission.
for name, backlog in summary["listen_backlog"].items():
    assert not name.startswith("lenet5") or backlog is None or backlog >= 64, (name, backlog)
assert len(summary["ratios"]) == 8 and all(r["throughput_ratio"]["min"] > 0 for r in summary["ratios"]), summary
print("serve.json complete:", len(rows), "rows")
PY
"$PYTHON" "$COMPARE" --lenet5 "$LENET5" --model "$MODEL" --data "$MNIST" --out "$WORK/soak" --soak 2 --images 20 \
  --port 0 | tee "$WORK/soak.txt"
"$PYTHON" - "$WORK/soak/soak.json" <<'PY'
import json, sys
soak = json.load(open(sys.argv[1]))
assert soak["c5xx"] == 0 and soak["other"] == 0 and soak["timeouts"] == 0, soak
assert soak["c2xx"] > 0 and soak["c4xx"] > 0, soak  # good and hostile bodies both went through
assert soak["healthy_after"] and soak["exit_status"] == 0, soak
print("soak: no 5xx,", soak["c4xx"], "hostile bodies refused with 4xx")
PY
