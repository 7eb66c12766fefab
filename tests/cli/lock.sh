#!/usr/bin/env bash
# CLI end-to-end: a run folder is held by one netrun at a time (issue 17).
# Real competing processes: two `--out DIR` started together (one trains, the
# other stops at once with exit 2, naming the holder's pid, before loading
# data), two `netrun resume DIR` together, a `--sweep --out ROOT` root, a
# resume refused while a run trains and accepted at once after kill -9 of
# the holder, and a folder holding only a dead holder's lock file counting
# as empty.
# usage: tests/cli/lock.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init lock "${1:-}"
need_tools "$synth"

# every process started here is gone at the end, whatever happens
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  chmod -R u+rwx "$tmp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1

"$synth" "$tmp/data" --classes 3 --size 12x12 --train 40 --test 10 >/dev/null || exit 1
cat >spec.yaml <<SPEC
name: lock_test
data: {train: $tmp/data/Train, test: $tmp/data/Test}
network:
  layers:
    - conv: {filters: 16, size: 3, pad: 1}
    - relu
    - conv: {filters: 16, size: 3, pad: 1}
    - relu
    - dense: {units: 3}
    - softmax
train:
  epochs: 50
  batch_size: 1
  optimizer: {sgd: {lr: 0.01}}
SPEC
# the reference backend, one thread, batch 1: several seconds of training
run=("$netrun" spec.yaml --backend reference --set threads=1)

# the message of a loser: DIR: error: in use by another netrun (pid N) since HH:MM:SS
in_use() { # in_use FILE DIR PID
  grep -Eq "^$2: error: in use by another netrun \(pid $3\) since [0-2][0-9]:[0-5][0-9]:[0-5][0-9]$" "$1"
}
# wait (at most 30 s) until one of two processes has ended; prints its pid
first_to_end() {
  local _
  for _ in $(seq 1 3000); do
    kill -0 "$1" 2>/dev/null || { echo "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || { echo "$2"; return 0; }
    sleep 0.01
  done
  return 1
}
# stop a training holder with SIGINT (checkpoint written, exit 130)
interrupt() { # interrupt PID: the status
  kill -INT "$1" 2>/dev/null
  wait "$1"
}

# --- two `--out DIR` started together: exactly one trains
"${run[@]}" --out race >a.out 2>a.err &
pa=$!
"${run[@]}" --out race >b.out 2>b.err &
pb=$!
pids+=("$pa" "$pb")
if loser=$(first_to_end "$pa" "$pb"); then
  if [[ $loser == "$pa" ]]; then winner=$pb l=a w=b; else winner=$pa l=b w=a; fi
  wait "$loser"; status=$?
  check "--out race: the first to end exits 2 (got $status: $(cat $l.err))" test "$status" = 2
  check "--out race: its message names the holder's pid ($(cat $l.err))" in_use $l.err race "$winner"
  check "--out race: the loser stops before loading data" bash -c "! grep -q 'loading' $l.err"
  check "--out race: the holder is still training" kill -0 "$winner"
  check "--out race: the lock file names the holder" grep -q "^pid $winner since " race/.netrun-lock
  wait_file race/checkpoint.bin "$winner"
  interrupt "$winner"; status=$?
  check "--out race: the holder, interrupted, exits 130 (got $status)" test "$status" = 130
  check "--out race: the holder's history parses" \
    awk -F, 'NR == 1 { n = NF; next } NF != n { exit 1 }' race/history.csv
  check "--out race: one run's header in history.csv" test "$(grep -c '^epoch,' race/history.csv)" = 1
  check "--out race: the lock file goes with its holder" test ! -e race/.netrun-lock
else
  fail "--out race: neither process ended within 30 s"
fi

# --- two `netrun resume DIR` together on the interrupted run: one continues
if [[ -f race/checkpoint.bin ]]; then
  "$netrun" resume race >c.out 2>c.err &
  pc=$!
  "$netrun" resume race >d.out 2>d.err &
  pd=$!
  pids+=("$pc" "$pd")
  if loser=$(first_to_end "$pc" "$pd"); then
    if [[ $loser == "$pc" ]]; then winner=$pd l=c; else winner=$pc l=d; fi
    wait "$loser"; status=$?
    check "resume race: the first to end exits 2 (got $status: $(cat $l.err))" test "$status" = 2
    check "resume race: its message names the holder's pid ($(cat $l.err))" in_use $l.err race "$winner"
    check "resume race: the loser stops before loading data" \
      bash -c "! grep -Eq 'loading|resuming' $l.err"
    check "resume race: the holder is still training" kill -0 "$winner"
    interrupt "$winner"; status=$?
    check "resume race: the holder, interrupted, exits 130 (got $status)" test "$status" = 130
  else
    fail "resume race: neither process ended within 30 s"
  fi
else
  fail "resume race: no checkpoint to resume"
fi

# --- a resume while a run trains is refused; kill -9 of the holder leaves
# no stale lock: the resume right after it continues the run to its end
"${run[@]}" --out killed >e.out 2>e.err &
pe=$!
pids+=("$pe")
if wait_file killed/checkpoint.bin "$pe"; then
  "$netrun" resume killed >f.out 2>f.err; status=$?
  check "resume during training exits 2 (got $status: $(cat f.err))" test "$status" = 2
  check "... naming the training's pid ($(cat f.err))" in_use f.err killed "$pe"
  check "... before loading data" bash -c "! grep -Eq 'loading|resuming' f.err"
  kill -9 "$pe"
  wait "$pe" 2>/dev/null
  "$netrun" resume killed >g.out 2>g.err; status=$?
  check "resume right after kill -9 of the holder exits 0 (got $status: $(tail -1 g.err))" \
    test "$status" = 0
  check "... and finishes the run" test -s killed/weights.bin
  check "... all 50 epochs in history.csv" test "$(tail -1 killed/history.csv | cut -d, -f1)" = 50
  check "... no lock file left" test ! -e killed/.netrun-lock
else
  fail "kill -9: the run did not reach its first checkpoint"
fi

# --- a folder holding only a dead holder's lock file counts as empty
mkdir stale
echo "pid 1 since 00:00:00" >stale/.netrun-lock
"${run[@]}" --set train.epochs=1 --out stale >/dev/null 2>h.err; status=$?
check "--out onto a dead holder's lock file exits 0 (got $status: $(cat h.err))" test "$status" = 0
check "... and trains there" test -s stale/weights.bin

# --- a --sweep --out root is held for the whole sweep
"${run[@]}" --sweep train.optimizer.sgd.lr=0.01,0.02 --out sweep >i.out 2>i.err &
pi=$!
pids+=("$pi")
if wait_file sweep/.netrun-lock "$pi"; then
  "${run[@]}" --sweep train.optimizer.sgd.lr=0.03,0.04 --out sweep >j.out 2>j.err; status=$?
  check "second sweep into the same root exits 2 (got $status: $(cat j.err))" test "$status" = 2
  check "... naming the first sweep's pid ($(cat j.err))" in_use j.err sweep "$pi"
  check "... before loading data" bash -c "! grep -Eq 'loading|sweep point' j.err"
  check "... the first sweep still runs" kill -0 "$pi"
  # its run folders' resume is refused too: the sweep holds them
  if wait_lines sweep/lock_test-1/history.csv 2 "$pi"; then
    "$netrun" resume sweep/lock_test-1 >/dev/null 2>k.err; status=$?
    check "resume of a sweep's training run folder exits 2 (got $status)" test "$status" = 2
    check "... naming the sweep's pid ($(cat k.err))" in_use k.err sweep/lock_test-1 "$pi"
  else
    fail "sweep: the first point did not start training"
  fi
  interrupt "$pi"; status=$?
  check "the first sweep, interrupted, exits 130 (got $status)" test "$status" = 130
  check "... and lets go of the root" test ! -e sweep/.netrun-lock
else
  fail "sweep: the first sweep did not take its root"
fi

cli_finish
