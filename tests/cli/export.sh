#!/usr/bin/env bash
# CLI end-to-end: `netrun export MODEL -o FILE.onnx` checked with ONNX
# Runtime (onnxruntime-node, as users run it) and onnx.checker on small
# synthetic models: one with every layer kind (conv with and without
# padding and stride, with and without bias, batchnorm on images and on
# vectors, leaky_relu, tanh, relu, sigmoid, avgpool, maxpool, dropout,
# flatten, dense with and without bias, residual with identity, projection,
# projection + batchnorm and a projection of vectors, repeat, final softmax),
# an mse network without softmax (raw outputs) and one with; then the
# command line's errors. MNIST networks: tests/cli/export_mnist.sh.
# usage: tests/cli/export.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init export "${1:-}"
need_tools "$synth"
source "$src/tests/cli/onnx_check.bash"
onnx_tools
cd "$tmp" || exit 1

# RGB bars, class names that need JSON escaping and UTF-8
"$synth" rgb --classes 3 --size 12x12 --channels 3 --train 40 --test 20 --seed 5 \
  --names 'bar,quo"te,zü' >/dev/null
"$synth" gray --classes 4 --size 10x10 --train 30 --test 15 --seed 6 >/dev/null

cat >all.yaml <<'YAML'
# every layer kind netrun has
name: all_kinds
seed: 5
data: {train: rgb/Train, test: rgb/Test}
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - batchnorm
    - leaky_relu: {slope: 0.1}
    - residual:
        shortcut: identity
        layers:
          - conv: {filters: 4, size: 3, pad: 1, bias: false}
          - tanh
    - residual:
        projection_batchnorm: true
        layers:
          - conv: {filters: 6, size: 3, stride: 2, pad: 1}
          - relu
    - avgpool: {size: 3, stride: 1}
    - repeat:
        times: 2
        layers:
          - conv: {filters: 6, size: 1}
          - sigmoid
    - residual:
        layers:
          - conv: {filters: 5, size: 3, pad: 1}
          - relu
    - conv: {filters: 5, size: 2}
    - maxpool: {size: 2, stride: 2}
    - dropout: {rate: 0.3}
    - flatten
    - dense: {units: 8, bias: false}
    - batchnorm: {eps: 0.001}
    - residual:
        layers:
          - dense: {units: 6}
          - relu
    - residual:
        shortcut: projection
        layers:
          - dense: {units: 6}
    - dense: {units: 3}
    - softmax
train:
  loss: cross_entropy
  optimizer: {adam: {lr: 0.01}}
  batch_size: 16
  epochs: 3
YAML

mse_spec() {  # mse_spec FILE NAME [LAST_LAYER]: an mse network over gray
  cat >"$1" <<YAML
name: $2
seed: 2
data: {train: gray/Train, test: gray/Test}
network:
  layers:
    - conv: {filters: 3, size: 3, stride: 2}
    - relu
    - avgpool: {size: 2, stride: 2}
    - dense: {units: 4}
    $3
train:
  loss: mse
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  batch_size: 8
  epochs: 2
YAML
}
mse_spec mse_raw.yaml mse_raw ""
mse_spec mse_softmax.yaml mse_softmax "- softmax"

for spec in all mse_raw mse_softmax; do
  if ! "$netrun" "$spec.yaml" -o "run_$spec" >"$spec.train" 2>&1; then
    fail "train $spec: $(tail -3 "$spec.train")"
  fi
done
onnx_agrees all_kinds run_all rgb/Test
onnx_agrees mse_raw run_mse_raw gray/Test
onnx_agrees mse_softmax run_mse_softmax gray/Test
check "mse without softmax: output 'outputs' (raw values)" \
  grep -q "output 'outputs' \[N, 4\]" mse_raw.export
check "mse with softmax: output 'probabilities'" \
  grep -q "output 'probabilities' \[N, 4\]" mse_softmax.export
# raw outputs are no probabilities: some row does not sum to 1
check "mse without softmax: raw values, not probabilities" \
  node -e '
    const b = require("fs").readFileSync(process.argv[1]);
    const a = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    let off = 0;
    for (let r = 0; r < a.length / 4; r++) {
      const s = a[4 * r] + a[4 * r + 1] + a[4 * r + 2] + a[4 * r + 3];
      if (Math.abs(s - 1) > 1e-3) off++;
    }
    process.exit(off > 0 ? 0 : 1);' "$tmp/mse_raw.ort.f32"

# --- the same bytes every time, from the run folder or its weights file
"$netrun" export run_all -o again.onnx >/dev/null
check "export twice: the same bytes" cmp -s all_kinds.onnx again.onnx
"$netrun" export run_all/weights.bin -o from_weights.onnx >/dev/null
check "export of the weights file = of the run folder" cmp -s all_kinds.onnx from_weights.onnx
out=$("$netrun" export run_all -o all_kinds.onnx 2>&1); status=$?
check "export over an existing file: exit 0 ($out)" test "$status" = 0
check "export prints what it wrote" \
  test "$out" = "all_kinds.onnx: ONNX model (opset 13): input 'input' [N, 3, 12, 12], output 'probabilities' [N, 3]"

# --- the command line
out=$("$netrun" export --help); status=$?
check "export --help: exit 0" test "$status" = 0
check "export --help: usage" grep -q '^usage: netrun export MODEL -o FILE.onnx' <<<"$out"
check "netrun --help lists export" grep -q 'netrun export MODEL -o FILE.onnx' <<<"$("$netrun" --help)"
expect_error "export: no model" "no model given|usage: netrun export MODEL -o FILE.onnx" -- export
expect_error "export: no -o" "export needs -o FILE.onnx" -- export run_all
expect_error "export: two models" "export takes one model|2 given" -- export run_all run_mse_raw -o x.onnx
expect_error "export: --weights refused" "export does not take --weights" -- export run_all -w x -o x.onnx
expect_error "export: missing model" "nope: error: no such file or folder|a run folder" -- \
  export nope -o x.onnx
mkdir empty
expect_error "export: folder without weights" "empty: error: no weights.bin" -- export empty -o x.onnx
expect_error "export: a spec is no model" "resolved.yaml beside the weights" -- \
  export all.yaml -o x.onnx
cp -r run_all bad
head -c 100 run_all/weights.bin >bad/weights.bin
expect_error "export: truncated weights" "bad/weights.bin" -- export bad -o x.onnx
check "failed exports write nothing" test ! -e x.onnx
expect_error "export: unwritable output folder" "$tmp/nodir/m.onnx" -- \
  export run_all -o "$tmp/nodir/m.onnx"
expect_error "export: -o names a folder" "empty: error: cannot write: Is a directory" -- \
  export run_all -o empty
check "the folder is left as it was" test -z "$(ls -A empty)"
mkdir ro && chmod a-w ro
if [[ ! -w ro ]]; then   # root writes anywhere
  expect_error "export: read-only folder" "ro/m.onnx" -- export run_all -o ro/m.onnx
fi
echo old >keep.onnx
expect_error "export: failure keeps the old file" "bad/weights.bin" -- export bad -o keep.onnx
check "the old file is untouched" test "$(cat keep.onnx)" = old
check "no temporary files left" test -z "$(find . -name '.*.tmp-*')"

cli_finish
