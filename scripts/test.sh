#!/usr/bin/env bash
# Install what is missing, build with tests, get the real datasets, run every test through CTest.
#   scripts/test.sh [ctest flags...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

install_missing_packages
# Formatting first: cheap, and a failure here needs no build to explain.
"$LENET5_ROOT/scripts/format.sh" --check
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR"
# Torch-free code under ASan + UBSan, and the IDX reader under libFuzzer (60 s); CTest's summary comes last.
"$LENET5_ROOT/scripts/sanitize.sh"
"$LENET5_ROOT/scripts/fuzz.sh" 60
configure_and_build
cd "$BUILD_DIR"
LENET5_DATA_DIR=$DATA_DIR with_fast_malloc ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
