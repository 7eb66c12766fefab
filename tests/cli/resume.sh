#!/usr/bin/env bash
# CLI end-to-end: SIGINT finishes the batch, writes a checkpoint and exits
# 130; `netrun resume` continues to the same history, batches and weights as
# an uninterrupted run; kill -9 at any moment leaves a parseable history.csv
# and a checkpoint that resumes; a finished run or a corrupt checkpoint is
# refused.
# usage: tests/cli/resume.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init resume "${1:-}"
need_tools "$synth"
cd "$tmp" || exit 1

"$synth" data --classes 4 --size 28x28 --train 200 --test 25 >/dev/null || exit 1
cat >spec.yaml <<'SPEC'
name: resume_test
data: {train: data/Train, test: data/Test}
network:
  layers:
    - conv: {filters: 16, size: 3, pad: 1}
    - relu
    - maxpool
    - dropout: {rate: 0.2}
    - dense: {units: 4}
    - softmax
train:
  epochs: 3
  batch_size: 4
  optimizer: {adam: {lr: 0.002}}
  validation: {fraction: 0.1}
  schedule: {cosine: {warmup_epochs: 1}}
  augment: {shift: {pixels: 1}}
SPEC
# the reference backend is slow enough to be caught mid-run
run=("$netrun" spec.yaml --backend reference --set threads=1)

"${run[@]}" --out whole >/dev/null 2>&1
check "uninterrupted run" test -f whole/weights.bin


# --- SIGINT mid-run, then resume
"${run[@]}" --out cut >/dev/null 2>cut.err &
pid=$!
if wait_lines cut/batches.csv 61 "$pid"; then
  kill -INT "$pid"
  wait "$pid"; status=$?
  check "SIGINT exits 130 (got $status)" test "$status" = 130
  check "SIGINT message names resume" grep -q "netrun resume cut" cut.err
  check "checkpoint written" test -s cut/checkpoint.bin
  check "no weights before the end" test ! -e cut/weights.bin
  "$netrun" resume cut >/dev/null 2>resume.err; status=$?
  check "resume exits 0 (got $status: $(cat resume.err))" test "$status" = 0
  check "history equals the uninterrupted run's (but seconds)" \
    cmp -s <(strip_seconds whole/history.csv) <(strip_seconds cut/history.csv)
  check "batches.csv equals" cmp -s whole/batches.csv cut/batches.csv
  check "weights equal" cmp -s whole/weights.bin cut/weights.bin
  "$netrun" resume cut >/dev/null 2>again.err; status=$?
  check "resume of a finished run exits 2" test "$status" = 2
  check "... with one line saying so" test "$(grep -c 'nothing to resume' again.err)" = 1
else
  wait "$pid"
  check "the run was caught mid-way" false
fi

# --- kill -9 at some moment: history parses, the checkpoint resumes
"${run[@]}" --out killed >/dev/null 2>&1 &
pid=$!
if wait_lines killed/batches.csv 201 "$pid"; then
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  check "history.csv parses after kill -9" \
    awk -F, 'NR == 1 { n = NF; next } NF != n { exit 1 }' killed/history.csv
  if [[ -f killed/checkpoint.bin ]]; then
    "$netrun" resume killed >/dev/null 2>&1; status=$?
    check "resume after kill -9 exits 0" test "$status" = 0
    check "... and reaches the same weights" cmp -s whole/weights.bin killed/weights.bin
  else
    check "killed before the first checkpoint: resume refuses" \
      bash -c "! '$netrun' resume killed >/dev/null 2>&1"
  fi
else
  wait "$pid"
  check "the second run was caught mid-way" false
fi

# --- a corrupt or foreign checkpoint is refused with one line
cp -r whole corrupt
rm -f corrupt/weights.bin
printf 'garbage' | dd of=corrupt/checkpoint.bin bs=1 seek=200 conv=notrunc 2>/dev/null
"$netrun" resume corrupt >/dev/null 2>corrupt.err; status=$?
check "corrupt checkpoint exits 2" test "$status" = 2
check "... naming the file" grep -q "corrupt/checkpoint.bin: error:" corrupt.err
mkdir nocheckpoint
"$netrun" resume nocheckpoint >/dev/null 2>none.err; status=$?
check "no checkpoint exits 2" test "$status" = 2

# --- divergence: exit 3, one line naming epoch and batch, the run folder kept
cat >diverge.yaml <<'SPEC'
name: diverge
data: {train: data/Train, test: data/Test}
network:
  layers:
    - repeat:
        times: 4
        layers:
          - residual: {layers: [{conv: {filters: 8, size: 3, pad: 1}}, relu]}
    - dense: {units: 4}
    - softmax
train:
  epochs: 2
  batch_size: 16
  optimizer: {sgd: {lr: 1.0}}
SPEC
"$netrun" diverge.yaml --out diverged >/dev/null 2>diverge.err; status=$?
check "divergence exits 3 (got $status)" test "$status" = 3
check "... one line naming the epoch and batch" \
  test "$(grep -c 'training diverged: the cost of epoch 1, batch' diverge.err)" = 1
check "... history.csv kept and parseable" test "$(head -1 diverged/history.csv)" = \
  "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds"
check "... no weights from a diverged run" test ! -e diverged/weights.bin

cli_finish
