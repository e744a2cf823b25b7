#!/usr/bin/env bash
# Builds the libFuzzer targets of the IDX reader with clang (ASan + UBSan, torch-free targets only) and runs
# them from the seed corpus in fuzz/corpus/ for SECONDS in all (default 60): two thirds on parse_idx in
# memory, one third on read_idx_file (raw and gzip files). Prints executions per second and in total; fails
# on any crash, leak, sanitizer report or timeout, leaving the input under $BUILD_DIR/artifacts/.
#   scripts/fuzz.sh [SECONDS]
# Needs: clang, libclang-rt-<version>-dev (libFuzzer and the sanitizer runtimes), cmake, ninja-build, zlib1g-dev.
set -euo pipefail

SECONDS_TOTAL=${1:-60}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${LENET5_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
CXX_COMPILER=${LENET5_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$CXX_COMPILER" ] || { echo "fuzz.sh: clang++ not found (install clang and libclang-rt-dev)" >&2; exit 2; }
case "$SECONDS_TOTAL" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DLENET5_FUZZ=ON -DLENET5_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" --target idx_fuzzer idx_file_fuzzer -j "${LENET5_BUILD_JOBS:-1}"

mkdir -p "$BUILD_DIR/artifacts"
memory_seconds=$(( SECONDS_TOTAL - SECONDS_TOTAL / 3 ))
file_seconds=$(( SECONDS_TOTAL / 3 ))
total_runs=0
status=0
run_fuzzer() {  # name seconds
  local name=$1 seconds=$2 work="$BUILD_DIR/corpus-$1" log="$BUILD_DIR/$1.log"
  [ "$seconds" -gt 0 ] || return 0
  mkdir -p "$work"
  # New inputs go to the first folder (the build dir); the committed seeds are only read.
  if ! "$BUILD_DIR/fuzz/$name" "$work" "$ROOT/fuzz/corpus" -max_total_time="$seconds" -max_len=8192 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$name-" \
      >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $name FAILED; the input is under $BUILD_DIR/artifacts/" >&2
    status=1
  fi
  local runs per_second
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  total_runs=$(( total_runs + ${runs:-0} ))
  echo "fuzz.sh: $name: ${runs:-?} executions in ${seconds}s, ${per_second:-?} per second ($(ls "$work" | wc -l) new corpus files)"
}
run_fuzzer idx_fuzzer "$memory_seconds"
run_fuzzer idx_file_fuzzer "$file_seconds"
echo "fuzz.sh: $total_runs executions in total over ${SECONDS_TOTAL}s"
exit "$status"
