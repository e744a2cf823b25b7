#!/usr/bin/env bash
# Builds the torch-free code (IDX reader) and its tests with AddressSanitizer + UndefinedBehaviorSanitizer
# in a separate build folder and runs them through CTest; any sanitizer report fails the run.
#   scripts/sanitize.sh [ctest flags...]
# Needs: g++ (libasan, libubsan come with it) or clang with libclang-rt-<version>-dev, cmake, ninja-build,
# libgtest-dev, zlib1g-dev. LENET5_SANITIZE_CXX=clang++ picks the compiler.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${LENET5_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}
compiler=()
[ -n "${LENET5_SANITIZE_CXX:-}" ] && compiler=(-DCMAKE_CXX_COMPILER="$LENET5_SANITIZE_CXX")

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" "${launcher[@]}" "${compiler[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLENET5_SANITIZE=ON -DLENET5_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "${LENET5_BUILD_JOBS:-1}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 300 "$@"
