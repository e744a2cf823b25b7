#!/usr/bin/env bash
# CTest fixture for the tests that start `lenet5 serve`: a model trained briefly on real MNIST (1 epoch on 12,800
# images, about 93% test accuracy, a few seconds) and exported to OUT/model.pt.
#   serve_model_fixture.sh LENET5 MNIST_DIR OUT
set -euo pipefail
LENET5=$1 MNIST=$2 OUT=$3
if [ ! -f "$MNIST/t10k-images-idx3-ubyte" ] && [ ! -f "$MNIST/t10k-images-idx3-ubyte.gz" ]; then
  echo "MNIST not found in $MNIST (scripts/fetch_data.sh installs it)"; exit 77
fi
rm -rf "$OUT"
mkdir -p "$OUT"
"$LENET5" train --data "$MNIST" --epochs 1 --limit-train 12800 --limit-test 500 --threads 1 --out "$OUT/run" >/dev/null
"$LENET5" export --checkpoint "$OUT/run/best.pt" --out "$OUT/model.pt"
