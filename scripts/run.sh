#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build (Release), get MNIST, then
# train the default recipe, evaluate it, export it to TorchScript and benchmark the export.
#   scripts/run.sh [train flags...]      e.g. scripts/run.sh --epochs 1 --device cuda
# Environment: LENET5_DATA_DIR (datasets, default <repo>/.data), LENET5_BUILD_DIR (default <repo>/build),
#              LENET5_RUN_DIR (run folder, default a new folder under runs/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

install_missing_packages
configure_and_build -DLENET5_BUILD_TESTS=OFF
DATA_DIR=${LENET5_DATA_DIR:-$LENET5_ROOT/.data}
bash "$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR"

LENET5=$BUILD_DIR/app/lenet5
RUN_DIR=${LENET5_RUN_DIR:-$LENET5_ROOT/runs/$(date +%Y%m%d-%H%M%S)-main}
cd "$LENET5_ROOT"
with_fast_malloc "$LENET5" summary --variant modern
with_fast_malloc "$LENET5" train --data "$DATA_DIR/mnist" --out "$RUN_DIR" "$@"
with_fast_malloc "$LENET5" eval --checkpoint "$RUN_DIR/best.pt" --data "$DATA_DIR/mnist"
with_fast_malloc "$LENET5" export --checkpoint "$RUN_DIR/best.pt" --out "$RUN_DIR/lenet5.pt" --optimize
with_fast_malloc "$LENET5" eval --model "$RUN_DIR/lenet5.pt" --data "$DATA_DIR/mnist" | head -n 3
with_fast_malloc "$LENET5" bench --model "$RUN_DIR/lenet5.pt" --batch-sizes 1,64,1024 --seconds 1 --train
echo "run folder:     $RUN_DIR"
echo "exported model: $RUN_DIR/lenet5.pt"
echo "report:         $RUN_DIR/report.html"
