#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build (Release), get MNIST, then
# train the default recipe, evaluate it, export it to TorchScript and benchmark the export; it ends with the
# command that serves the export (lenet5 serve).
#   scripts/run.sh [train flags...]      e.g. scripts/run.sh --epochs 1 --device cuda
# Environment: LENET5_DATA_DIR (datasets, default <repo>/.data), LENET5_BUILD_DIR (default <repo>/build),
#              LENET5_RUN_DIR (run folder, default a new folder under runs/, linked as runs/latest).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

install_missing_packages
configure_and_build lenet5
"$LENET5_ROOT/scripts/fetch_data.sh" "$DATA_DIR"

LENET5=$BUILD_DIR/app/lenet5
# The run folder: LENET5_RUN_DIR, a --out among the arguments, else the one lenet5 names (runs/latest).
RUN_DIR=${LENET5_RUN_DIR:-}
out_flag=()
[ -z "$RUN_DIR" ] || out_flag=(--out "$RUN_DIR")
previous=""
for argument in "$@"; do
  case "$argument" in --out=*) RUN_DIR=${argument#--out=} ;; esac
  [ "$previous" != "--out" ] || RUN_DIR=$argument
  previous=$argument
done
cd "$LENET5_ROOT"
with_fast_malloc "$LENET5" summary
with_fast_malloc "$LENET5" train --data "$DATA_DIR/mnist" "${out_flag[@]}" "$@"
RUN_DIR=${RUN_DIR:-runs/latest}
with_fast_malloc "$LENET5" eval --checkpoint "$RUN_DIR/best.pt" --data "$DATA_DIR/mnist"
with_fast_malloc "$LENET5" export --checkpoint "$RUN_DIR/best.pt" --out "$RUN_DIR/lenet5.pt" --optimize
with_fast_malloc "$LENET5" eval --model "$RUN_DIR/lenet5.pt" --data "$DATA_DIR/mnist" | head -n 3
with_fast_malloc "$LENET5" bench --model "$RUN_DIR/lenet5.pt" --batch-sizes 1,64,1024 --seconds 1 --train
echo "run folder:     $RUN_DIR"
echo "exported model: $RUN_DIR/lenet5.pt"
echo "report:         $RUN_DIR/report.html"
echo "serve it:       $LENET5 serve --model $RUN_DIR/lenet5.pt   # then open http://127.0.0.1:8080/"
