#!/usr/bin/env bash
# The whole CUDA + LibTorch 2.x check as one command, for a GPU machine with a CUDA PyTorch or LibTorch 2.x and
# the .gpu/ folder from scripts/gpu_prepare.sh: configure and build (Release), run the CTest suite, train on
# --device cuda to 99%, evaluate on CUDA and CPU, export and evaluate the export on both, benchmark on CUDA.
#   OUT=<folder> [DEADLINE_S=seconds] scripts/gpu_check.sh        (default OUT: runs/gpu-check)
# Every step's log and JSON land in OUT; each step has its own time limit, cut to what is left of DEADLINE_S
# (from the start; a step with under 10 s left is skipped), so the summary lands before an outer timeout. The
# build goes on past errors (every one in one log), the suite runs first, then the CLI's steps and the comparison
# with Python PyTorch on the GPU. A failed step does not stop the others; a short
# summary (also OUT/summary.txt) comes last. Exit code: the number of failed steps (max 100).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/runs/gpu-check}
GPU_DIR=${LENET5_GPU_DIR:-$ROOT/.gpu}
BUILD=${LENET5_GPU_BUILD_DIR:-$ROOT/build-gpu}
DATA=$GPU_DIR/data/mnist
LENET5=$BUILD/app/lenet5
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
FAILED=0
STARTED=$(date +%s)
DEADLINE_S=${DEADLINE_S:-0}

# step NAME LIMIT_SECONDS COMMAND...: runs COMMAND with a time limit, output to OUT/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  local start end rc
  if [ "$DEADLINE_S" -gt 0 ]; then
    local left=$((DEADLINE_S - ($(date +%s) - STARTED) - 5))
    if [ $left -lt 10 ]; then
      FAILED=$((FAILED + 1))
      printf '%-22s skipped: out of time\n' "$name" | tee -a "$SUMMARY"
      return 124
    fi
    [ $left -lt "$limit" ] && limit=$left
  fi
  start=$(date +%s%N)
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  end=$(date +%s%N)
  [ $rc -eq 0 ] || FAILED=$((FAILED + 1))
  printf '%-22s rc=%-3s %7.1f s\n' "$name" "$rc" "$(awk -v ns=$((end - start)) 'BEGIN { print ns / 1e9 }')" | tee -a "$SUMMARY"
  return $rc
}

# The first Python that has torch: it gives LibTorch's location and runs the Python tests.
PYTHON=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then
    PYTHON=$(command -v "$candidate")
    break
  fi
done
TORCH_PREFIX=${CMAKE_PREFIX_PATH:-}
if [ -z "$TORCH_PREFIX" ] && [ -n "$PYTHON" ]; then
  TORCH_PREFIX=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
fi
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  echo "torch prefix: ${TORCH_PREFIX:-none}"
  [ -n "$PYTHON" ] && "$PYTHON" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
  command -v nvidia-smi >/dev/null || echo "nvidia-smi: none"
  nvcc --version 2>&1 | tail -n 1
  cmake --version | head -n 1
  # What c10d needs beyond LibTorch: Gloo's headers (for Gloo) and NCCL's (for NCCL), wherever they are.
  echo "gloo headers: $(ls -d "$TORCH_PREFIX"/../../include/gloo /usr/include/gloo 2>/dev/null | paste -sd' ')"
  echo "nccl.h: $(find "$TORCH_PREFIX/../../.." /usr/include /usr/local/cuda*/include -maxdepth 5 -name nccl.h \
    2>/dev/null | head -n 3 | paste -sd' ')"
} > "$OUT/environment.txt"
cat "$OUT/environment.txt" | tee -a "$SUMMARY"

CONFIG=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLENET5_USE_PCH=ON
        -DCMAKE_PREFIX_PATH="$TORCH_PREFIX"
        -DLENET5_CLI11_INCLUDE_DIR="$GPU_DIR/include" -DNLOHMANN_JSON_INCLUDE_DIR="$GPU_DIR/include"
        -DSTB_INCLUDE_DIR="$GPU_DIR/include/stb" -DLENET5_HTTPLIB_INCLUDE_DIR="$GPU_DIR/httplib" -ULENET5_NCCL_BUILDS
        -DLENET5_GTEST_SOURCE_DIR="$GPU_DIR/googletest" -DLENET5_TEST_DATA_DIR="$GPU_DIR/data")
[ -n "$PYTHON" ] && CONFIG+=(-DLENET5_PYTHON="$PYTHON")
command -v ninja >/dev/null && CONFIG+=(-G Ninja)
command -v ccache >/dev/null && CONFIG+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if ! echo '#include <zlib.h>' | c++ -E -x c++ - >/dev/null 2>&1; then
  libz=$(ldconfig -p | awk '/libz\.so/ {print $NF; exit}')
  CONFIG+=(-DZLIB_INCLUDE_DIR="$GPU_DIR/zlib" -DZLIB_LIBRARY="$libz")
fi

# Ninja goes on after a failed compile, so one run shows every error.
KEEP_GOING=()
command -v ninja >/dev/null && KEEP_GOING=(-- -k 0)
step configure 300 cmake "${CONFIG[@]}"
grep -h 'Distributed training\|LibTorch' "$OUT/configure.log" | tee -a "$SUMMARY"
step build 600 cmake --build "$BUILD" --parallel "$(nproc)" "${KEEP_GOING[@]}"
# The suite: CPU tests against LibTorch 2.x, and cuda_test's CUDA cases on the GPU. A crashing test prints a
# backtrace (tests/test_main.cpp).
step ctest 300 env LENET5_DATA_DIR="$GPU_DIR/data" ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" \
  --timeout 240 --output-junit "$OUT/ctest-junit.xml"
if [ -x "$LENET5" ]; then
  RUN=$OUT/run-cuda
  rm -rf "$RUN"
  step train-cuda 300 "$LENET5" train --data "$DATA" --device cuda --target-accuracy 99 --epochs 5 --out "$RUN"
  step eval-cuda 120 "$LENET5" eval --checkpoint "$RUN/best.pt" --data "$DATA" --device cuda --json
  step eval-cpu 120 "$LENET5" eval --checkpoint "$RUN/best.pt" --data "$DATA" --device cpu --json
  step export 120 "$LENET5" export --checkpoint "$RUN/best.pt" --out "$OUT/lenet5.pt"
  step eval-model-cuda 120 "$LENET5" eval --model "$OUT/lenet5.pt" --data "$DATA" --device cuda --json
  step eval-model-cpu 120 "$LENET5" eval --model "$OUT/lenet5.pt" --data "$DATA" --device cpu --json
  step bench-cuda 300 "$LENET5" bench --model "$OUT/lenet5.pt" --device cuda --batch-sizes 1,8,64,256,1024,4096 \
    --modes torchscript,optimized --train --seconds 1 --json
  # Distributed training over NCCL with world size 1 (issue 14), one epoch.
  step train-nccl 180 "$LENET5" train --data "$DATA" --device cuda --nproc 1 --dist-backend nccl --epochs 1 \
    --out "$OUT/run-nccl"
  rm -f "$OUT/run-nccl"/*.pt
  # Time to 99% at larger batches (fewer, larger steps: a GPU step costs about the same at 64 or 512 images).
  for config in "128 0.004 3" "256 0.006 3" "512 0.01 3"; do
    read -r batch lr epochs <<< "$config"
    step "train-b$batch" 120 "$LENET5" train --data "$DATA" --device cuda --target-accuracy 99 --batch-size "$batch" \
      --lr "$lr" --epochs "$epochs" --out "$OUT/run-b$batch"
    rm -f "$OUT/run-b$batch"/*.pt
  done
  # Against Python PyTorch on the same GPU (the peer a user would pick): the recipe's whole process, inference on
  # the export and training steps, alternating, as ratios.
  if [ -n "$PYTHON" ]; then
    step compare-pytorch-cuda 240 "$PYTHON" "$ROOT/bench/compare_pytorch.py" --device cuda --lenet5 "$LENET5" \
      --data "$DATA" --out "$OUT/compare-pytorch" --model "$OUT/lenet5.pt" --rounds 2 --seconds 0.5 \
      --batch-sizes 1,64,1024,4096 --train-batch-sizes 64,512
    find "$OUT/compare-pytorch" -name '*.pt' -delete 2>/dev/null
  fi
  cp "$RUN/metrics.jsonl" "$OUT/metrics-cuda.jsonl" 2>/dev/null
  rm -f "$RUN"/*.pt  # checkpoints stay off the way back; the export is kept
fi
if [ -x "$LENET5" ]; then
  {
    echo "--- training (cuda): per epoch test accuracy, seconds"
    grep -ho '"epoch":[0-9]*\|"test_accuracy":[0-9.e-]*\|"seconds":[0-9.e-]*' "$OUT/metrics-cuda.jsonl" 2>/dev/null | paste -sd' ' |
      sed 's/ "epoch"/\n"epoch"/g'
    echo
    echo "--- accuracy: checkpoint cuda / cpu, export cuda / cpu"
    for name in eval-cuda eval-cpu eval-model-cuda eval-model-cpu; do
      printf '%-16s %s\n' "$name" "$(grep -o '"accuracy":[0-9.e-]*' "$OUT/$name.log" | head -n 1)"
    done
    echo "--- nccl (world size 1): $(grep -h 'data-parallel\|error' "$OUT/train-nccl.log" 2>/dev/null | head -n 2)"
    echo "--- time to 99% (each run's epochs; total wall time in the step lines above)"
    for log in "$OUT"/train-cuda.log "$OUT"/train-b*.log; do
      echo "$(basename "$log" .log): $(tr '\r' '\n' < "$log" | grep -E '^epoch [0-9]+:|target accuracy|^done' |
        sed 's/train loss.*| test loss [0-9.]* acc/acc/; s/ | lr [^|]*|/,/' | paste -sd';')"
    done
  } | tee -a "$SUMMARY"
fi
{
  echo "--- ctest"
  grep -E 'tests passed|tests failed' "$OUT/ctest.log" 2>/dev/null
  grep -E '\(Failed\)|\(Timeout\)|\(SEGFAULT\)|\*\*\*' "$OUT/ctest.log" 2>/dev/null | head -n 20
  echo "--- build errors"
  grep -h -m 10 'error' "$OUT/build.log" 2>/dev/null | head -n 10
} | tee -a "$SUMMARY"
# Why a check of the configure step failed (NCCL, Gloo's algorithms), for the next try.
for log in "$BUILD"/CMakeFiles/CMakeConfigureLog.yaml "$BUILD"/CMakeFiles/CMakeError.log; do
  [ -f "$log" ] && gzip -c "$log" > "$OUT/$(basename "$log").gz"
done
echo "failed steps: $FAILED" | tee -a "$SUMMARY"
exit $((FAILED > 100 ? 100 : FAILED))
