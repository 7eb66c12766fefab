#!/usr/bin/env bash
# `mpirun -np 2 netrun SPEC`: the training's batches shared by 2 processes
# (netrun/net.h nr_net_set_comm, src/run.c). On a tiny synthetic set, with a
# conv, a batchnorm, dropout and a dense layer:
#   - 2 processes x 1 thread give the same weights.bin and history.csv (but
#     seconds) as 1 process x 2 threads, and as a second 2 x 1 run;
#   - only rank 0 writes: one run folder, progress and result printed once;
#     summary.txt has the processes line (threads per process, hosts);
#   - a bad spec: exit 2, the error printed once, no run folder; the data
#     missing on one process only: the same;
#   - a command that does not run on several processes is refused (exit 2);
#   - a 2 x 1 run of 1 epoch resumed on 2 processes to 2 epochs: the same
#     weights and history as the uninterrupted run;
#   - SIGINT on mpirun mid-run: one checkpoint, the resume line once, no
#     weights; `mpirun -np 2 netrun resume` then reaches the weights,
#     history and batches.csv of the uninterrupted 1 x 2 run; the same
#     checkpoint resumed by one process (another P) finishes the run too.
# Registered by CMakeLists.txt only when MPI was found.
# usage: tests/mpi/train.sh PATH/TO/netrun MPIEXEC
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli/common.bash"
source "$(dirname "${BASH_SOURCE[0]}")/mpi.bash"
cli_init mpi_train "${1:-}"
mpiexec=${2:?usage: train.sh NETRUN MPIEXEC}
mpi_init "$mpiexec" "$synth"

declare -A caught

"$synth" data --classes 3 --size 12x12 --train 90 --test 30 >/dev/null || exit 1
cat >spec.yaml <<'SPEC'
name: mpi_test
data: {train: data/Train, test: data/Test}
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - batchnorm
    - relu
    - maxpool
    - dropout: {rate: 0.2}
    - dense: {units: 3}
    - softmax
train:
  epochs: 2
  batch_size: 16
  optimizer: {sgd: {lr: 0.05, momentum: 0.9}}
SPEC

check "--version names the MPI library" grep -q '^built with MPI (' <<<"$("$netrun" --version)"
"$netrun" spec.yaml --set threads=2 --out one_2 >one_2.out 2>one_2.err
check "1 x 2 trains" test -s one_2/weights.bin
mpirun -np 2 "$netrun" spec.yaml --set threads=1 --out two_1 >two_1.out 2>two_1.err
status=$?
check "2 x 1 trains (status $status)" test "$status" = 0 -a -s two_1/weights.bin
check "2 x 1: weights = 1 x 2's" cmp -s two_1/weights.bin one_2/weights.bin
check "2 x 1: history = 1 x 2's (but seconds)" \
  cmp -s <(strip_seconds two_1/history.csv) <(strip_seconds one_2/history.csv)
check "2 x 1: the result line once" test "$(grep -c 'test accuracy' two_1.out)" = 1
check "2 x 1: summary.txt has the processes" \
  grep -Eq '^processes: 2 \(threads per process: 1 1; hosts: [^ ]+ [^ ]+\)$' two_1/summary.txt
check "2 x 1: one run folder" test "$(find . -maxdepth 1 -name 'two_1*' -type d | wc -l)" = 1
mpirun -np 2 "$netrun" spec.yaml --set threads=1 --out two_1b >/dev/null 2>&1
check "2 x 1 twice: the same weights" cmp -s two_1/weights.bin two_1b/weights.bin
check "2 x 1 twice: the same history (but seconds)" \
  cmp -s <(strip_seconds two_1/history.csv) <(strip_seconds two_1b/history.csv)
# the files tell the splits apart: 1 x 1 differs
"$netrun" spec.yaml --set threads=1 --out one_1 >/dev/null 2>&1
check "1 x 1 differs from 1 x 2 (the comparison can fail)" \
  bash -c '! cmp -s one_1/weights.bin one_2/weights.bin'

# errors: once, exit 2, nothing written
sed 's/units: 3/units: three/' spec.yaml >bad.yaml
mpirun -np 2 "$netrun" bad.yaml --out bad >bad.out 2>bad.err
status=$?
check "bad spec: exit 2 (got $status)" test "$status" = 2
check "bad spec: the error once" test "$(grep -c 'error' bad.err)" = 1
check "bad spec: no run folder" test ! -e bad
# the data missing on process 1 only (mpirun's A : B, as a machine without
# the folder would be): process 1 says so once, every process exits 2, and
# rank 0's run folder is not left behind
sed 's|data/Train|nowhere/Train|' spec.yaml >nodata.yaml
mpirun -np 1 "$netrun" spec.yaml --set threads=1 --out half : \
       -np 1 "$netrun" nodata.yaml --set threads=1 --out half >half.out 2>half.err
status=$?
check "data missing on process 1: exit 2 (got $status)" test "$status" = 2
check "data missing on process 1: said once, naming the folder: $(cat half.err)" \
  test "$(grep -c 'nowhere/Train.*error\|error.*nowhere/Train' half.err)" = 1 -a \
       "$(grep -c 'error' half.err)" = 1
check "data missing on process 1: no run folder" test ! -e half
check "data missing on process 1: no result line" test ! -s half.out
mpirun -np 2 "$netrun" check spec.yaml >check.out 2>check.err
status=$?
check "check on 2 processes: refused with 2 (got $status)" test "$status" = 2
check "check on 2 processes: said once" test "$(grep -c 'mpirun' check.err)" = 1

# resume: a 2 x 1 run of 1 epoch continued on 2 processes to 2 epochs (rank
# 0 wrote the checkpoint, every process loads it; the spec's threads are
# each process's)
mpirun -np 2 "$netrun" spec.yaml --set threads=1 --set train.epochs=1 --out cont >/dev/null 2>&1
mpirun -np 2 "$netrun" resume cont --epochs 2 >/dev/null 2>resume.err
status=$?
check "resume on 2 processes (status $status)" test "$status" = 0
check "resume on 2 processes: weights = the uninterrupted run's" \
  cmp -s cont/weights.bin two_1/weights.bin
check "resume on 2 processes: history = the uninterrupted run's (but seconds)" \
  cmp -s <(strip_seconds cont/history.csv) <(strip_seconds two_1/history.csv)

# --- SIGINT on mpirun mid-run (mpirun passes it on to every process as
# SIGTERM; they agree after each batch, rank 0 writes the checkpoint). The
# reference backend and 24 epochs of 200 images keep the run going long
# enough to be caught (mpirun passes the signal on after about 1 s). With
# a validation split, a schedule and augmentation, all resumed.
"$synth" data28 --classes 4 --size 28x28 --train 200 --test 25 >/dev/null || exit 1
cat >long.yaml <<'SPEC'
name: mpi_resume
data: {train: data28/Train, test: data28/Test}
network:
  layers:
    - conv: {filters: 16, size: 3, pad: 1}
    - batchnorm
    - relu
    - maxpool
    - dropout: {rate: 0.2}
    - dense: {units: 4}
    - softmax
train:
  epochs: 24
  batch_size: 4
  optimizer: {adam: {lr: 0.002}}
  validation: {fraction: 0.1}
  schedule: {cosine: {warmup_epochs: 1}}
  augment: {shift: {pixels: 1}}
SPEC
long=(long.yaml --backend reference --set threads=1)
"$netrun" long.yaml --backend reference --set threads=2 --out long_whole >/dev/null 2>&1
check "uninterrupted 1 x 2 run" test -s long_whole/weights.bin
for name in cut cut_other; do
  "${mpirun_cmd[@]}" -np 2 "$netrun" "${long[@]}" --out "$name" >"$name.out" 2>"$name.err" &
  pid=$!
  if wait_lines "$name/history.csv" 2 "$pid"; then
    kill -INT "$pid"
    wait "$pid"
    caught[$name]=$(($(wc -l <"$name/history.csv") - 1))
  else
    wait "$pid"
    caught[$name]=0
  fi
done
check "SIGINT: both runs caught mid-way (epochs done: ${caught[cut]}, ${caught[cut_other]} of 24)" \
  test "${caught[cut]}" -ge 1 -a "${caught[cut]}" -lt 24 \
       -a "${caught[cut_other]}" -ge 1 -a "${caught[cut_other]}" -lt 24
check "SIGINT: a checkpoint, no weights" test -s cut/checkpoint.bin -a ! -e cut/weights.bin
check "SIGINT: the resume line once" test "$(grep -c 'netrun resume cut$' cut.err)" = 1
check "SIGINT: interrupted said once" test "$(grep -c '^interrupted' cut.err)" = 1
mpirun -np 2 "$netrun" resume cut >/dev/null 2>cut_resume.err
status=$?
check "SIGINT, resume on 2 processes (status $status)" test "$status" = 0
check "SIGINT, resume on 2 processes: weights = the uninterrupted 1 x 2 run's" \
  cmp -s cut/weights.bin long_whole/weights.bin
check "SIGINT, resume on 2 processes: history = the uninterrupted run's (but seconds)" \
  cmp -s <(strip_seconds cut/history.csv) <(strip_seconds long_whole/history.csv)
check "SIGINT, resume on 2 processes: batches.csv = the uninterrupted run's" \
  cmp -s cut/batches.csv long_whole/batches.csv
# another P: one process of the run's 1 thread takes the checkpoint on (its
# conv gradients then sum in 1 thread's order: the last bits may differ)
"$netrun" resume cut_other >/dev/null 2>cut_other_resume.err
status=$?
check "SIGINT, resume on 1 process (status $status: $(head -c 300 cut_other_resume.err))" \
  test "$status" = 0 -a -s cut_other/weights.bin
check "SIGINT, resume on 1 process: all 24 epochs in history.csv" \
  test "$(($(wc -l <cut_other/history.csv) - 1))" = 24
check "SIGINT, resume on 1 process: the epochs before the interruption as they were" \
  cmp -s <(strip_seconds cut_other/history.csv | head -n "$((caught[cut_other] + 1))") \
         <(strip_seconds long_whole/history.csv | head -n "$((caught[cut_other] + 1))")
check "SIGINT, resume on 1 process: summary.txt names no other processes" \
  bash -c "! grep -q '^processes: 2' cut_other/summary.txt"

cli_finish
