#!/usr/bin/env bash
# CLI end-to-end: train.class_weights on an imbalanced folder (2 vs 30
# images), the imbalance warning of `netrun data`, check and training, and
# the prefetch thread (train.prefetch) giving the bits of a run without it.
# usage: tests/cli/class_weights.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init class_weights "${1:-}"
need_tools "$synth"

cd "$tmp" || exit 1
"$synth" data --classes 2 --size 12x12 --train 30 --test 6 --seed 5 >/dev/null &&
  "$synth" even --classes 2 --size 12x12 --train 30 --test 6 --seed 5 >/dev/null ||
  { fail "netrun-synth"; cli_finish; exit 1; }
# class 0 keeps 2 of its 30 training images
find data/Train/0 -name '*.png' | sort | tail -n +3 | xargs rm -f
check "2 images left in class 0" test "$(find data/Train/0 -name '*.png' | wc -l)" = 2

cat >"$tmp/spec.yaml" <<'EOT'
name: cw
seed: 3
data: {train: data/Train, test: data/Test}
network:
  layers:
    - dense: {units: 8}
    - relu
    - dense: {units: 2}
train:
  batch_size: 8
  epochs: 2
EOT

# --- netrun data: the counts and the warning (stderr), naming both classes
"$netrun" data data/Train >"$tmp/stdout" 2>"$tmp/stderr"; status=$?
check "data: exit $status" test "$status" = 0
check "data: counts: $(cat "$tmp/stdout")" grep -Eq '^  0 +2$' "$tmp/stdout"
check "data: warning: $(cat "$tmp/stderr")" grep -qx "data/Train: warning: class '1' has 30 images, 15.0x the 2 of class '0'; an imbalance over 10x: consider train.class_weights: balanced" "$tmp/stderr"
"$netrun" data even/Train >/dev/null 2>"$tmp/stderr"
check "data: no warning for a balanced set: $(cat "$tmp/stderr")" test ! -s "$tmp/stderr"

# --- check: the same warning for Train; none once class weights are set
"$netrun" check "$tmp/spec.yaml" >/dev/null 2>"$tmp/stderr"; status=$?
check "check: exit $status" test "$status" = 0
check "check: warning: $(cat "$tmp/stderr")" grep -q "^$tmp/data/Train: warning: class '1' has 30 images, 15.0x the 2 of class '0'; .*train.class_weights: balanced$" "$tmp/stderr"
"$netrun" check "$tmp/spec.yaml" --set train.class_weights=balanced >/dev/null 2>"$tmp/stderr"
check "check balanced: no warning: $(cat "$tmp/stderr")" test ! -s "$tmp/stderr"

# --- check: names must be Train's classes (the error at the name)
printf '  class_weights: {1: 2, cat: 3}\n' >>"$tmp/spec.yaml"
expect_error_at "check: unknown class name" "$tmp/spec.yaml:12:25" \
  "train.class_weights names 'cat', which is not a class of $tmp/data/Train; its classes: 0, 1" -- check "$tmp/spec.yaml"
sed -i '$d' "$tmp/spec.yaml"
expect_error "check: weight 0" "train.class_weights.1|number > 0" -- check "$tmp/spec.yaml" --set 'train.class_weights={1: 0}'
expect_error "check: not a mode" "train.class_weights|one of: none, balanced, or a map" -- check "$tmp/spec.yaml" --set train.class_weights=even

# --- training: weights of 1 are the unweighted bits; balanced trains otherwise
run() {  # run NAME SETS...: trains into $tmp/NAME, one assertion
  local name=$1; shift
  "$netrun" "$tmp/spec.yaml" --out "$tmp/$name" "$@" >/dev/null 2>"$tmp/$name.err"
  check "train $name: $(tail -2 "$tmp/$name.err")" test -s "$tmp/$name/weights.bin"
}
run plain
run ones --set 'train.class_weights={0: 1, 1: 1}'
run balanced --set train.class_weights=balanced
run given --set 'train.class_weights={0: 15}'
check "class weights 1 = unweighted bits" cmp -s "$tmp/plain/weights.bin" "$tmp/ones/weights.bin"
check "balanced changes the training" bash -c "! cmp -s '$tmp/plain/weights.bin' '$tmp/balanced/weights.bin'"
check "given changes the training" bash -c "! cmp -s '$tmp/plain/weights.bin' '$tmp/given/weights.bin'"
check "resolved shows balanced" grep -q "class_weights: balanced" "$tmp/balanced/resolved.yaml"
check "resolved shows the default" grep -q "class_weights: none" "$tmp/plain/resolved.yaml"

# --- prefetch: the same bits with and without the thread, with augmentation too
run pf_on --set train.prefetch=true
run pf_off --set train.prefetch=false
check "prefetch: same weights" cmp -s "$tmp/pf_on/weights.bin" "$tmp/pf_off/weights.bin"
check "prefetch: same history" cmp -s <(cut -d, -f1-6 "$tmp/pf_on/history.csv") <(cut -d, -f1-6 "$tmp/pf_off/history.csv")
aug=(--set train.augment.shift.pixels=2 --set train.augment.rotate.degrees=10 --set train.augment.noise.std=0.05)
run aug_on "${aug[@]}" --set train.prefetch=true
run aug_off "${aug[@]}" --set train.prefetch=false
run aug_1 "${aug[@]}" --set train.prefetch=true --set threads=1
run aug_1off "${aug[@]}" --set train.prefetch=false --set threads=1
check "prefetch with augmentation: same weights" cmp -s "$tmp/aug_on/weights.bin" "$tmp/aug_off/weights.bin"
check "augmentation changes the training" bash -c "! cmp -s '$tmp/aug_on/weights.bin' '$tmp/pf_on/weights.bin'"
check "prefetch, 1 net thread: same weights" cmp -s "$tmp/aug_1/weights.bin" "$tmp/aug_1off/weights.bin"

cli_finish
