#!/usr/bin/env bash
# CLI end-to-end: starting from weights. A run fine-tuned from another with
# train.init_from and a frozen conv keeps that conv's weights byte for byte
# (and `netrun check` says what it loads and what is frozen); a mismatched
# init_from is refused with exit 2 by check and by training (no run
# folder); `netrun resume RUN_DIR --epochs N` continues a finished run to
# the history, batches and weights of a run planned for N epochs (constant
# and step schedules, also in two steps), rewrites resolved.yaml and says so
# in summary.txt, and refuses the cosine schedule, leaving the folder as it
# was.
# usage: tests/cli/finetune.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init finetune "${1:-}"
need_tools "$synth"
cd "$tmp" || exit 1

"$synth" data --classes 3 --size 12x12 --train 40 --test 10 >/dev/null || exit 1
cat >a.yaml <<'SPEC'
name: a
threads: 1
data: {train: data/Train, test: data/Test}
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - relu
    - maxpool
    - batchnorm
    - dense: {units: 3}
    - softmax
train:
  epochs: 2
  batch_size: 8
  optimizer: {sgd: {lr: 0.02, momentum: 0.9}}
  validation: {fraction: 0.2}
SPEC
# the same network, fine-tuned from run A: the conv frozen, the head fresh
sed -e 's/name: a/name: b/' \
    -e 's/conv: {filters: 4, size: 3, pad: 1}/conv: {filters: 4, size: 3, pad: 1, freeze: true}/' \
    -e 's/dense: {units: 3}/dense: {units: 3, fresh: true}/' \
    -e 's/  epochs: 2/  epochs: 2\n  init_from: A/' a.yaml >b.yaml
differs() { ! cmp -s "$@"; }
# params_at FILE: the byte offset of weights.bin's parameters (they end the
# file before the buffers and the 8-byte checksum; netrun/weights.h)
params_at() { echo $(($(stat -c %s "$1") - 8 - 4 * (483 + 8))); }

"$netrun" a.yaml --out A >/dev/null 2>&1
check "source run A" test -f A/weights.bin
check "A has 483 parameters" grep -qx 'params: 483' A/summary.txt

# ---- check says what init_from loads and what is frozen
"$netrun" check b.yaml >check.out 2>check.err; status=$?
check "check b.yaml exits 0 (got $status: $(cat check.err))" test "$status" = 0
check "check marks the frozen conv" grep -q '^1 .*conv 4x3x3 s1 p1 (frozen)' check.out
check "check counts trained and frozen parameters" \
  grep -q '^total: 483 learnable parameters (443 trained, 40 frozen),' check.out
check "check prints what init_from loads" \
  grep -qx "init_from: $tmp/A/weights.bin: 2 of 3 layers with parameters loaded (48 values); fresh: layer 5" check.out

# ---- fine-tune: the frozen conv stays the source's, byte for byte
"$netrun" b.yaml --out B >/dev/null 2>b.err; status=$?
check "fine-tune exits 0 (got $status: $(cat b.err))" test "$status" = 0
check "the run says where it started from" grep -q "netrun: init_from: $tmp/A/weights.bin" b.err
a_at=$(params_at A/weights.bin) b_at=$(params_at B/weights.bin)
check "frozen conv (40 floats) equals the source's" cmp -s -i "$a_at:$b_at" -n 160 A/weights.bin B/weights.bin
check "the batchnorm after it trained on (differs)" \
  differs -i "$((a_at + 160)):$((b_at + 160))" -n 32 A/weights.bin B/weights.bin
check "the fresh head differs" \
  differs -i "$((a_at + 192)):$((b_at + 192))" -n 1740 A/weights.bin B/weights.bin
check "summary.txt: trainable params" grep -qx 'trainable params: 443 (40 frozen)' B/summary.txt
check "summary.txt: init_from" grep -q "^init_from: $tmp/A/weights.bin: 2 of 3 layers" B/summary.txt
check "resolved.yaml has the absolute init_from" grep -qx "  init_from: $tmp/A" B/resolved.yaml
check "resolved.yaml has freeze" grep -q 'freeze: true, fresh: false}' B/resolved.yaml

# a fine-tuned run resumes from its checkpoint, without reading init_from
mv A A.moved
"$netrun" resume B --epochs 3 >/dev/null 2>resume-b.err; status=$?
check "resume of a fine-tuned run without its source (got $status: $(cat resume-b.err))" test "$status" = 0
check "... the frozen conv still the source's" \
  cmp -s -i "$a_at:$(params_at B/weights.bin)" -n 160 A.moved/weights.bin B/weights.bin
check "... summary keeps the init_from line" grep -q "^init_from: $tmp/A/weights.bin" B/summary.txt
mv A.moved A

# ---- mismatches: exit 2, one line naming both layers, no run folder
sed -e 's/filters: 4,/filters: 5,/' b.yaml >c.yaml
words="train.init_from: layer 1 (conv 5x3x3 s1 p1) has 50 parameters (weight 5x1x3x3, bias 5) here but layer 1 (conv 4x3x3 s1 p1) of $tmp/A/weights.bin has 40 (weight 4x1x3x3, bias 4)"
expect_error_at "check: init_from mismatch" "c.yaml:6:7: error: " "$words" -- check c.yaml
expect_error "training: init_from mismatch" "c.yaml:6:7: error: |$words" -- c.yaml --out C
check "no run folder for the mismatch" test ! -e C
expect_error_at "check: init_from names no model" "--set train.init_from=nowhere:1:17: error: " \
  "train.init_from: $tmp/nowhere: no such file or folder" -- check b.yaml --set train.init_from=nowhere
expect_error "check: fresh without init_from" "b.yaml:10:32: error: layer 5 (dense): fresh: true|no train.init_from" -- \
  check b.yaml --set train.init_from=
sed -e 's/    - batchnorm/    - batchnorm\n    - dense: {units: 6}\n    - relu/' b.yaml >d.yaml
expect_error "check: another count of layers" "d.yaml:16:14: error: |this network has 4 layers with parameters but $tmp/A/weights.bin has 3|the first without a partner: layer 7 (dense 6 -> 3) here" -- check d.yaml

# ---- resume --epochs: as if planned so from the start
extended_equals() {  # NAME DIR_PLANNED DIR_EXTENDED
  check "$1: history equals the planned run's (but seconds)" \
    cmp -s <(strip_seconds "$2/history.csv") <(strip_seconds "$3/history.csv")
  check "$1: 4 epochs" test "$(wc -l <"$3/history.csv")" = 5
  check "$1: batches.csv equals" cmp -s "$2/batches.csv" "$3/batches.csv"
  check "$1: weights.bin equals" cmp -s "$2/weights.bin" "$3/weights.bin"
  check "$1: resolved.yaml equals the planned run's" cmp -s "$2/resolved.yaml" "$3/resolved.yaml"
  check "$1: resolved.yaml says epochs: 4" grep -qx '  epochs: 4' "$3/resolved.yaml"
  check "$1: spec.yaml stays as given" cmp -s a.yaml "$3/spec.yaml"
  check "$1: summary.txt says it finished 4 epochs" grep -qx 'epochs: 4' "$3/summary.txt"
}
for schedule in constant step; do
  set_schedule=(--set "train.schedule=$schedule")
  [[ $schedule == step ]] && set_schedule=(--set 'train.schedule={step: {step_size: 1, gamma: 0.5}}')
  "$netrun" a.yaml "${set_schedule[@]}" --set train.epochs=4 --out "P4-$schedule" >/dev/null 2>&1
  "$netrun" a.yaml "${set_schedule[@]}" --out "E-$schedule" >/dev/null 2>&1
  check "$schedule: the 2-epoch run finished" grep -q '^final test accuracy' "E-$schedule/summary.txt"
  if [[ $schedule == constant ]]; then
    "$netrun" resume "E-$schedule" --epochs 4 >"resume.out" 2>"resume.err"; status=$?
    check "$schedule: resume --epochs 4 exits 0 (got $status: $(cat resume.err))" test "$status" = 0
    check "$schedule: it says so" grep -q 'continuing E-constant to 4 epochs in all (it was planned for 2)' resume.err
    check "$schedule: summary: extended" \
      grep -qx 'extended: 2 -> 4 epochs (netrun resume --epochs)' "E-$schedule/summary.txt"
  else
    # in two steps: 2 -> 3 -> 4
    "$netrun" resume "E-$schedule" --epochs 3 >/dev/null 2>resume.err; status=$?
    check "$schedule: resume --epochs 3 exits 0 (got $status: $(cat resume.err))" test "$status" = 0
    "$netrun" resume "E-$schedule" --epochs 4 >/dev/null 2>resume.err; status=$?
    check "$schedule: then --epochs 4 exits 0 (got $status: $(cat resume.err))" test "$status" = 0
    check "$schedule: summary: extended twice" \
      grep -qx 'extended: 2 -> 3 -> 4 epochs (netrun resume --epochs)' "E-$schedule/summary.txt"
  fi
  extended_equals "$schedule" "P4-$schedule" "E-$schedule"
done

# ---- what resume --epochs refuses, leaving the run folder as it was
"$netrun" a.yaml --set 'train.schedule={cosine: {}}' --out cos >/dev/null 2>&1
cp -r cos cos.before
expect_error "cosine cannot be continued" "cos/checkpoint.bin: error: |schedule (cosine) follows its total of 2 epochs|train.init_from" -- \
  resume cos --epochs 4
check "cosine: the run folder is unchanged" diff -r cos.before cos
expect_error "a finished run: nothing to resume" "E-constant: error: the run has finished (4 epochs); nothing to resume|--epochs N" -- \
  resume E-constant
expect_error "--epochs not above the epochs done" "E-constant: error: |--epochs 4 adds none" -- \
  resume E-constant --epochs 4
expect_error "--epochs below the epochs done" "checkpoint.bin: error: the run has done 4 epochs already" -- \
  resume E-constant --epochs 3
expect_error "--epochs not a number" "--epochs 'four': expected an integer from 1 to 100000" -- \
  resume E-constant --epochs four
expect_error "--epochs 0" "--epochs '0'" -- resume E-constant --epochs 0
expect_error "training refuses --epochs" "does not take --epochs|netrun resume RUN_DIR --epochs N|--set train.epochs=N" -- \
  a.yaml --epochs 3
check "resume --help names --epochs" bash -c "'$netrun' resume --help | grep -q -- '--epochs N'"

cli_finish
