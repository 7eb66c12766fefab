#!/usr/bin/env bash
# CLI end-to-end (ctest label "slow"): the exercise networks ex2_cnn,
# ex5_residual_deep and ex6b_batchnorm_adam_cosine, each trained 1 epoch on
# 500 MNIST training images per class, exported with `netrun export` and
# run by ONNX Runtime on the 10,000 MNIST test images: its argmax agrees with
# netrun's on >= 99.9% and every probability within 1e-4
# (tests/cli/onnx_check.bash). Needs data/mnist (tools/fetch-mnist).
# usage: tests/cli/export_mnist.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init export_mnist "${1:-}"
source "$src/tests/cli/onnx_check.bash"
onnx_tools
mnist=$src/data/mnist
if [[ ! -f $mnist/.complete ]]; then
  echo "FAIL: $mnist is not there: run tools/fetch-mnist" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
cd "$tmp" || exit 1

# a training subset: the first 500 images of each class, as symlinks
for dir in "$mnist"/Train/*/; do
  class=$(basename "$dir")
  mkdir -p "train/$class"
  find "$dir" -maxdepth 1 -name '*.png' | sort | head -500 |
    while read -r file; do ln -s "$file" "train/$class/"; done
done
check "training subset: 5000 images" test "$(find train -name '*.png' | wc -l)" = 5000

for spec in ex2_cnn ex5_residual_deep ex6b_batchnorm_adam_cosine; do
  if ! "$netrun" "$src/specs/$spec.yaml" --set train.epochs=1 --set "data.train=$tmp/train" \
       --set "data.test=$mnist/Test" -o "run_$spec" >"$spec.train" 2>&1; then
    fail "train $spec: $(tail -3 "$spec.train")"
    continue
  fi
  echo "$spec: $(tail -1 "$spec.train")"
  onnx_agrees "$spec" "run_$spec" "$mnist/Test"
done

cli_finish
