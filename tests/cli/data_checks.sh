#!/usr/bin/env bash
# CLI end-to-end: what `netrun check`, `netrun eval` and training accept must
# be what they mean. check reads the data folders' listings and first images
# (missing folders, class sets, input shape, output units, validation split,
# a batch larger than the training set) and says what the network's output
# is; training several specs checks all their data before the first trains;
# eval refuses a Test set whose classes are not the ones the weights were
# trained on (weights.bin records them).
# usage: tests/cli/data_checks.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init data_checks "${1:-}"
need_tools "$synth"

cd "$tmp" || exit 1
mkdir cwd
"$synth" data --classes 3 --size 12x12 --train 8 --test 4 --seed 3 >/dev/null &&
  "$synth" data4 --classes 4 --size 12x12 --train 8 --test 4 --seed 3 >/dev/null ||
  { fail "netrun-synth"; cli_finish; exit 1; }

spec() {  # spec NAME LAYERS [TRAIN_EXTRA]: a small spec on ./data
  cat >"$tmp/$1.yaml" <<EOT
name: $1
data: {train: data/Train, test: data/Test}
network:
  layers:
$2
train:
  batch_size: 4
  epochs: 1
${3:-}
EOT
  echo "$tmp/$1.yaml"
}
mlp=$(spec mlp "    - dense: {units: 8}
    - relu
    - dense: {units: 3}
    - softmax")

# --- check: what the output is (item 4)
out=$("$netrun" check "$mlp" 2>"$tmp/stderr"); status=$?
check "check mlp: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "check mlp: no warning" test ! -s "$tmp/stderr"
check "check mlp: output fused: $out" grep -q "^output: softmax over the 3 class scores of layer 3 (dense), fused with the cross_entropy loss$" <<<"$out"
check "check mlp: data line: $out" grep -q "^data: 24 training images (3 classes), 12 test images$" <<<"$out"
logits=$(spec logits "    - dense: {units: 3}")
out=$("$netrun" check "$logits")
check "check logits: $out" grep -q "^output: the 3 class scores (logits) of layer 1 (dense), no final softmax; cross_entropy applies softmax" <<<"$out"
out=$("$netrun" check "$logits" --set train.loss=mse)
check "check logits mse: $out" grep -q "^output: the 3 raw values of layer 1 (dense), no final softmax; mse compares them" <<<"$out"
out=$("$netrun" check "$mlp" --set train.loss=mse)
check "check mlp mse: $out" grep -q "^output: softmax over the 3 class scores of layer 3 (dense); mse compares the probabilities" <<<"$out"

# --- check: a batch larger than the training set is a warning (item 12)
out=$("$netrun" check "$mlp" --set train.batch_size=64 2>"$tmp/stderr"); status=$?
check "check big batch: exit $status" test "$status" = 0
# the position is where the value was written: here the --set assignment
check "check big batch: warning: $(cat "$tmp/stderr")" grep -q "^--set train.batch_size=64:1:18: warning: train.batch_size 64 is larger than the 24 training images; " "$tmp/stderr"
"$netrun" check "$(sed 's/batch_size: 4/batch_size: 30/' "$mlp" >"$tmp/big.yaml"; echo "$tmp/big.yaml")" >/dev/null 2>"$tmp/stderr"
check "check big batch in the file: $(cat "$tmp/stderr")" grep -q "^$tmp/big.yaml:10:15: warning: train.batch_size 30 is larger than the 24 training images; " "$tmp/stderr"
check "check big batch: one line" test "$(wc -l <"$tmp/stderr")" = 1
check "check big batch: summary still printed" grep -q "^total: " <<<"$out"
"$netrun" check "$mlp" --set train.batch_size=20 --set train.validation.fraction=0.25 2>"$tmp/stderr" >/dev/null
check "check batch vs validation split: $(cat "$tmp/stderr")" grep -q "warning: train.batch_size 20 is larger than the 18 training images left after the validation split" "$tmp/stderr"
"$netrun" check "$mlp" --set train.batch_size=18 --set train.validation.fraction=0.25 2>"$tmp/stderr" >/dev/null
check "check batch = training images: no warning: $(cat "$tmp/stderr")" test ! -s "$tmp/stderr"

# --- check reads the data (item 5); the bad-spec corpus has the position cases
expect_error "check missing Test" "$tmp/nope/Test: error: dataset folder not found" -- \
  check "$mlp" --set data.test=nope/Test
expect_error "check class sets" "$tmp/data4/Test: error: |extra folders '3'|Train and Test need the same class folders" -- \
  check "$mlp" --set data.test=data4/Test
expect_error "check units" "error: layer 3 (dense) has 3 units but $tmp/data4/Train has 4 classes|write units: 4" -- \
  check "$mlp" --set data.train=data4/Train --set data.test=data4/Test
expect_error "check input" "error: network.input is 1x28x28 but the images of $tmp/data/Train are 1x12x12" -- \
  check "$mlp" --set 'network.input=[1, 28, 28]'

# --- several specs: all data checked before the first trains (item 6)
cd cwd || exit 1
bad=$(spec bad "    - dense: {units: 3}" ""); sed -i 's#test: data/Test#test: data/Missing#' "$bad"
sed -i "s#data/#$tmp/data/#g" "$mlp" "$bad"
start=$(date +%s)
expect_error "two specs, the second's data missing" "$tmp/data/Missing: error: dataset folder not found" -- "$mlp" "$bad"
check "two specs: nothing trained (no runs/)" test ! -e runs
expect_error "sweep with a point's data missing" "$tmp/data/Missing: error: dataset folder not found" -- \
  "$mlp" --sweep "data.test=$tmp/data/Test,$tmp/data/Missing"
check "sweep: nothing trained (no runs/)" test ! -e runs
cd "$tmp" || exit 1

# --- eval: the weights record the classes (item 1)
"$netrun" "$mlp" --out "$tmp/run" >/dev/null 2>"$tmp/stderr"; status=$?
check "train mlp: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "summary.txt: the output line" grep -q "^output: softmax over the 3 class scores of layer 3 (dense), fused with the cross_entropy loss$" run/summary.txt
out=$("$netrun" eval "$mlp" --weights run/weights.bin 2>"$tmp/stderr"); status=$?
check "eval same classes: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "eval same classes: $out" grep -q "test accuracy .* (.*/12)" <<<"$out"
check "eval same classes: nothing on stderr" test ! -s "$tmp/stderr"
# Test with class '2' renamed 'two': same count, other names
mkdir renamed && cp -r data/Test renamed/Test && mv renamed/Test/2 renamed/Test/two
expect_error "eval renamed class" "$tmp/renamed/Test: error: |no folder for '2'|extra folders 'two'|run/weights.bin was trained on" -- \
  eval "$mlp" --weights run/weights.bin --set data.test=renamed/Test
# Test with a fourth class
expect_error "eval extra class" "$tmp/data4/Test: error: |extra folders '3'|the 3 classes" -- \
  eval "$mlp" --weights run/weights.bin --set data.test=data4/Test
# Test with a class missing
mkdir fewer && cp -r data/Test fewer/Test && rm -r fewer/Test/1
expect_error "eval missing class" "$tmp/fewer/Test: error: |no folder for '1'" -- \
  eval "$mlp" --weights run/weights.bin --set data.test=fewer/Test

cli_finish
