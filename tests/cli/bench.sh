#!/usr/bin/env bash
# CLI end-to-end for `netrun bench SPEC [BATCHES]`: the per-layer table on
# tiny synthetic data (tools/synth/netrun-synth), with 1 and 2 threads, the
# fused rows, the batch preparation rows (gather and augmentation as in
# training, with and without train.prefetch), random input when the data
# does not load, and exit status 2 for a bad batch count.
# usage: tests/cli/bench.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init bench "${1:-}"
need_tools "$synth"
cd "$tmp" || exit 1
"$synth" bars --classes 3 --size 12x12 --train 60 --test 20 --seed 7 >/dev/null

LAYERS='    - conv: {filters: 4, size: 3, stride: 1, pad: 1}
    - relu
    - maxpool: {size: 2, stride: 2}
    - conv: {filters: 6, size: 3, stride: 1, pad: 1}
    - relu
    - dropout: {rate: 0.2}
    - dense: {units: 3}'
spec() {  # spec FILE DATA [LAYERS]: by default conv -> relu -> maxpool (fusable), conv -> relu, dense
  cat >"$1" <<EOF
name: benchy
seed: 3
data:
  train: $2/Train
  test: $2/Test
network:
  input: [1, 12, 12]
  layers:
${3:-$LAYERS}
    - softmax
train:
  optimizer: {sgd: {lr: 0.1}}
  batch_size: 16
EOF
}
spec bench.yaml bars

for threads in 1 2; do
  out=$("$netrun" bench --set threads=$threads bench.yaml 7 2>"$tmp/err"); status=$?
  check "bench threads=$threads: exit $status $(cat "$tmp/err")" test "$status" = 0
  check "bench threads=$threads: header" \
    grep -q "^netrun bench bench.yaml: batch 16, $threads thread" <<<"$out"
  check "bench threads=$threads: median of 7 batches" grep -q "median of 7 batches" <<<"$out"
  check "bench threads=$threads: the training images" grep -q "input: the spec's training images" <<<"$out"
  for row in "^1 +conv 4x3x3" "^2 +relu" "^3 +maxpool 2x2 s2" "^4 +conv 6x3x3" "^6 +dropout" \
             "^7 +dense 216 -> 3" "loss \(softmax" "sum of the threads' gradients" \
             "optimizer step" "total per batch" "batch prep \(gather, augment\) +[0-9.]+ +[0-9.]+$" \
             "batch prep on the critical path +[0-9.]+ +[0-9.]+$" \
             "total with batch prep +[0-9.]+ +[0-9.]+$"; do
    check "bench threads=$threads: row '$row'" grep -Eq "$row" <<<"$out"
  done
  check "bench threads=$threads: no softmax row (fused into the loss)" \
    test -z "$(grep -E '^8 +softmax' <<<"$out")"
  check "bench threads=$threads: images/s" grep -Eq "^[0-9]+ images/s" <<<"$out"
  check "bench threads=$threads: epoch estimate" \
    grep -q "one epoch of 180 images: .*batch prep included" <<<"$out"
  check "bench threads=$threads: prepared as in training (prefetch on by default)" \
    grep -q "^batch preparation as in training: gathered (no augmentation), prefetch on" <<<"$out"
done

# train.prefetch off: prepared before each step; with train.augment: augmented
out=$("$netrun" bench --set train.prefetch=false bench.yaml 3 2>"$tmp/err"); status=$?
check "bench prefetch=false: exit $status $(cat "$tmp/err")" test "$status" = 0
check "bench prefetch=false: prefetch off" \
  grep -q "^batch preparation as in training: gathered (no augmentation), prefetch off" <<<"$out"
check "bench prefetch=false: prep rows" grep -Eq "batch prep on the critical path +[0-9.]+" <<<"$out"
for prefetch in false true; do
  out=$("$netrun" bench --set train.prefetch=$prefetch \
          --set 'train.augment={shift: {pixels: 2, p: 0.5}, rotate: {degrees: 10, p: 0.5}}' \
          bench.yaml 3 2>"$tmp/err"); status=$?
  check "bench augment prefetch=$prefetch: exit $status $(cat "$tmp/err")" test "$status" = 0
  check "bench augment prefetch=$prefetch: augmented" \
    grep -q "^batch preparation as in training: gathered and augmented (train.augment)" <<<"$out"
  check "bench augment prefetch=$prefetch: total with batch prep" \
    grep -Eq "total with batch prep +[0-9.]+ +[0-9.]+$" <<<"$out"
done

# a relu/maxpool row is either fused (AVX2 machines) or timed on its own
out=$("$netrun" bench bench.yaml 3 2>/dev/null)
if grep -q "relu (fused)" <<<"$out"; then
  check "bench: maxpool fused with the relu" grep -q "maxpool 2x2 s2 (fused)" <<<"$out"
else
  check "bench: no fusion, no fused rows" test -z "$(grep fused <<<"$out")"
fi

# residual blocks: a row per layer inside (indented, nested labels), the
# shortcut (1x1 projection or identity) and the add; the block's row is the
# sum of its parts
spec resid.yaml bars '    - residual:
        layers:
          - repeat:
              times: 2
              layers:
                - conv: {filters: 4, size: 3, stride: 1, pad: 1}
                - relu
    - residual:
        layers:
          - conv: {filters: 4, size: 3, stride: 1, pad: 1}
          - relu
    - dense: {units: 3}'
# each block row (fwd, bwd, sum, fwd cpu, bwd cpu) must be the sum of the
# rows under it, to the printed rounding: prints the ones that are not
block_sums() {
  awk '
    function flush() {
      if (blk != "")
        for (c = 0; c < 6; c++)
          if (c != 3 && (tot[c] - part[c] > 0.001 * n || part[c] - tot[c] > 0.001 * n))
            printf "block %s column %d: %s vs %s; ", blk, c + 1, tot[c], part[c]
      blk = ""; n = 0
      for (c = 0; c < 6; c++) part[c] = 0
    }
    /^[0-9]+ +residual/ { flush(); blk = $1; for (c = 0; c < 6; c++) tot[c] = $(NF - 5 + c); next }
    blk != "" && /^([0-9]+\.[0-9s]+)? +  [a-z]/ {
      n++; for (c = 0; c < 6; c++) part[c] += $(NF - 5 + c); next }
    { flush() }
    END { flush() }'
}
num='[0-9]+\.[0-9]{3}'
cols="( +$num){3} +[0-9]+\.[0-9]( +$num){2}$"   # fwd bwd sum % fwd-cpu bwd-cpu
for threads in 1 2; do
  out=$("$netrun" bench --set threads=$threads resid.yaml 5 2>"$tmp/err"); status=$?
  check "bench residual threads=$threads: exit $status $(cat "$tmp/err")" test "$status" = 0
  for row in "^1 +residual 4 layers \+ 1x1 projection +4x12x12$cols" \
             "^1\.1 +  conv 4x3x3 s1 p1 +4x12x12$cols" "^1\.2 +  relu( \(fused\))? +4x12x12$cols" \
             "^1\.3 +  conv 4x3x3 s1 p1 +4x12x12$cols" "^1\.4 +  relu( \(fused\))? +4x12x12$cols" \
             "^1\.s +  shortcut: conv 4x1x1 s1 p0 +4x12x12$cols" \
             "^ +  add \(block \+ shortcut\) +4x12x12$cols" \
             "^2 +residual 2 layers \+ identity +4x12x12$cols" \
             "^2\.1 +  conv 4x3x3 s1 p1 +4x12x12$cols" "^2\.2 +  relu( \(fused\))? +4x12x12$cols" \
             "^ +  identity shortcut +4x12x12$cols" "^3 +dense 576 -> 3 "; do
    check "bench residual threads=$threads: row '$row'" grep -Eq "$row" <<<"$out"
  done
  check "bench residual threads=$threads: two adds" test "$(grep -c '  add (block' <<<"$out")" = 2
  sums=$(block_sums <<<"$out")
  check "bench residual threads=$threads: block rows add up: $sums" test -z "$sums"
done
# the sum check can fail: a block row 0.5 ms off is caught
doctored=$(awk '/^1 +residual/ { $NF = $NF + 0.5 } { print }' <<<"$out")
check "bench residual: a block row that does not add up is caught" \
  test -n "$(block_sums <<<"$doctored")"

# no data: random pixels, still a table
spec nodata.yaml missing
out=$("$netrun" bench nodata.yaml 3 2>"$tmp/err"); status=$?
check "bench without data: exit $status $(cat "$tmp/err")" test "$status" = 0
check "bench without data: random pixels" grep -q "input: random pixels" <<<"$out"
check "bench without data: no batch prep rows" test -z "$(grep -E 'batch prep' <<<"$out")"
check "bench without data: total per batch" grep -q "total per batch" <<<"$out"

# bad batch counts
for bad in 0 -3 100001; do
  "$netrun" bench bench.yaml -- "$bad" >/dev/null 2>"$tmp/err"; status=$?
  check "bench batches $bad: exit 2" test "$status" = 2
  check "bench batches $bad: message" grep -q "batches '$bad' must be 1 to" "$tmp/err"
done
"$netrun" bench missing.yaml 3 >/dev/null 2>"$tmp/err"; status=$?
check "bench missing spec: exit 2" test "$status" = 2

cli_finish
