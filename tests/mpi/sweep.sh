#!/usr/bin/env bash
# `mpirun -np P netrun SPEC --sweep ...` (and several specs): whole points
# spread round robin over the processes (point k on process (k-1) mod P),
# each trained by its process alone; rank 0 claims the folders in point
# order and prints the results and the compare table (src/cli/cmd_train.c).
# On a tiny synthetic set:
#   - a 2-process sweep of 3 points: the same weights.bin per point and the
#     same compare rows (but seconds) as the one-process sweep; folders
#     DIR/<name>-k in point order; one result line per point, one table;
#     each point's summary.txt without a processes line; every process
#     names the points it starts;
#   - more processes than points (a process with none);
#   - without --out: runs/<name>-<n> in point order after an earlier run;
#     several specs are points too;
#   - a bad sweep value: exit 2, the error once, nothing written;
#   - a point diverging on process 1: its error once, its folder kept, the
#     other points trained and compared, exit 3;
#   - SIGINT on mpirun: both processes stop their point with a checkpoint
#     and its resume line, the third point never starts (no folder).
# Registered by CMakeLists.txt only when MPI was found.
# usage: tests/mpi/sweep.sh PATH/TO/netrun MPIEXEC
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli/common.bash"
source "$(dirname "${BASH_SOURCE[0]}")/mpi.bash"
cli_init mpi_sweep "${1:-}"
mpiexec=${2:?usage: sweep.sh NETRUN MPIEXEC}
mpi_init "$mpiexec" "$synth"

# the compare table's rows without the training time and the root folder
rows() { sed -n '/^run /,/^curves/p' "$1" | sed -E "s/ +[0-9.]+sec +/ /; s#$2/##"; }
lr_of() { sed -En 's/.*sgd: \{lr: ([^,]*),.*/\1/p' "$1/resolved.yaml"; }

"$synth" data --classes 3 --size 12x12 --train 90 --test 30 >/dev/null || exit 1
cat >spec.yaml <<'SPEC'
name: sw
data: {train: data/Train, test: data/Test}
threads: 1
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - batchnorm
    - relu
    - maxpool
    - dense: {units: 3}
    - softmax
train:
  epochs: 2
  batch_size: 16
  optimizer: {sgd: {lr: 0.05, momentum: 0.9}}
SPEC
sweep=(--sweep train.optimizer.sgd.lr=0.01,0.05,0.1)

"$netrun" spec.yaml "${sweep[@]}" --out one >one.out 2>one.err
check "1 process sweeps" test -s one/sw-3/weights.bin
mpirun -np 2 "$netrun" spec.yaml "${sweep[@]}" --out two >two.out 2>two.err
status=$?
check "2 processes sweep (status $status)" test "$status" = 0
check "2 processes: the folders and the picture" test "$(names two)" = "compare.png sw-1 sw-2 sw-3 "
for k in 1 2 3; do
  check "2 processes: point $k's weights = 1 process's" cmp -s two/sw-$k/weights.bin one/sw-$k/weights.bin
done
check "2 processes: folders in point order" \
  test "$(lr_of two/sw-1) $(lr_of two/sw-2) $(lr_of two/sw-3)" = "0.01 0.05 0.1"
check "2 processes: the compare rows = 1 process's (but seconds)" \
  test "$(rows two.out two)" = "$(rows one.out one)"
check "2 processes: 3 compare rows" test "$(rows two.out two | grep -c '^sw: lr=')" = 3
check "2 processes: one result line per point" test "$(grep -c 'test accuracy' two.out)" = 3
check "2 processes: result lines in point order" test "$(grep -o 'run folder two/sw-[0-9]' two.out)" = \
  "$(printf 'run folder two/sw-%s\n' 1 2 3)"
check "2 processes: one compare table" test "$(grep -c '^run ' two.out)" = 1
check "2 processes: one picture line" test "$(grep -c 'curves of the 3 runs: two/compare.png' two.out)" = 1
check "2 processes: the split said once" test "$(grep -c 'run k on process (k - 1) mod 2' two.err)" = 1
for k in 1 2 3; do
  check "2 processes: point $k started once, on process $(((k - 1) % 2))" test \
    "$(grep -c "sweep point $k/3 of spec.yaml: train.optimizer.sgd.lr=[0-9.]* (process $(((k - 1) % 2)))" two.err)" = 1
done
check "2 processes: a point's summary.txt has no processes line" \
  bash -c '! grep -q "^processes:" two/sw-2/summary.txt'
check "2 processes: no lock left" test ! -e two/.netrun-lock

# more processes than points: process 2 has none
mpirun -np 3 "$netrun" spec.yaml --sweep train.optimizer.sgd.lr=0.01,0.05 --out three >three.out 2>three.err
status=$?
check "3 processes, 2 points (status $status)" test "$status" = 0
check "3 processes, 2 points: the folders" test "$(names three)" = "compare.png sw-1 sw-2 "
check "3 processes, 2 points: weights = 1 process's" \
  bash -c 'cmp -s three/sw-1/weights.bin one/sw-1/weights.bin && cmp -s three/sw-2/weights.bin one/sw-2/weights.bin'
check "3 processes, 2 points: 2 result lines" test "$(grep -c 'test accuracy' three.out)" = 2
check "3 processes, 2 points: process 2 starts none" bash -c '! grep -q "(process 2)" three.err'

# without --out: runs/<name>-<n> after an earlier run; several specs
"$netrun" spec.yaml --set train.epochs=1 >/dev/null 2>&1
sed 's/^name: sw/name: other/' spec.yaml >other.yaml
mpirun -np 2 "$netrun" spec.yaml other.yaml --sweep train.optimizer.sgd.lr=0.01,0.1 >runs.out 2>runs.err
status=$?
check "runs/, 2 specs x 2 points (status $status)" test "$status" = 0
check "runs/: numbered after the earlier run, in point order" \
  test "$(names runs)" = "compare-sw-1.png other-1 other-2 sw-1 sw-2 sw-3 "
check "runs/: sw-2 is lr 0.01, sw-3 lr 0.1" test "$(lr_of runs/sw-2) $(lr_of runs/sw-3)" = "0.01 0.1"
check "runs/: other-1 is lr 0.01, other-2 lr 0.1" test "$(lr_of runs/other-1) $(lr_of runs/other-2)" = "0.01 0.1"
check "runs/: sw-2 = the one-process point 1" cmp -s runs/sw-2/weights.bin one/sw-1/weights.bin
check "runs/: 4 result lines" test "$(grep -c 'test accuracy' runs.out)" = 4

# a bad value: before anything trains, once, nothing written
mpirun -np 2 "$netrun" spec.yaml --sweep train.optimizer.sgd.lr=0.01,-1,0.1 --out bad >bad.out 2>bad.err
status=$?
check "bad value: exit 2 (got $status)" test "$status" = 2
check "bad value: the error once ($(cat bad.err))" test "$(grep -c 'error' bad.err)" = 1
check "bad value: names the value" grep -q 'lr=-1:1:24: error: train.optimizer.sgd.lr' bad.err
check "bad value: nothing on stdout" test ! -s bad.out
check "bad value: no folder" test ! -e bad
check "bad value: no new run folder" test "$(names runs)" = "compare-sw-1.png other-1 other-2 sw-1 sw-2 sw-3 "

# a point that fails on process 1 (a deep residual stack without batchnorm
# diverges at lr 1): the others go on
deep='{repeat: {times: 4, layers: [{residual: {layers: [{conv: {filters: 4, size: 3, pad: 1}}, relu]}}]}}'
failing=(spec.yaml --set train.optimizer.sgd.lr=1 --sweep "network.layers[1]=batchnorm,$deep,relu")
"$netrun" "${failing[@]}" --out dv1 >dv1.out 2>dv1.err
one_status=$?
mpirun -np 2 "$netrun" "${failing[@]}" --out dv >dv.out 2>dv.err
status=$?
check "a diverging point: exit 3 as in one process (got $status, $one_status)" \
  test "$status" = 3 -a "$one_status" = 3
check "a diverging point: its error once" test "$(grep -c 'training diverged' dv.err)" = 1
check "a diverging point: its folder named once" test "$(grep -c 'what finished is kept in dv/sw-2' dv.err)" = 1
check "a diverging point: the others trained" test "$(grep -c 'test accuracy' dv.out)" = 2
check "a diverging point: compare rows = 1 process's (but seconds)" \
  test "$(rows dv.out dv)" = "$(rows dv1.out dv1)"
check "a diverging point: the folders" test "$(names dv)" = "compare.png sw-1 sw-2 sw-3 "

# SIGINT on mpirun (which sends every process SIGTERM) once both processes
# train: each checkpoints its point, the third never starts
# (mpiexec itself in the background, not the mpirun function's subshell)
"$mpiexec" --allow-run-as-root --oversubscribe --quiet -np 2 "$netrun" spec.yaml "${sweep[@]}" \
  --set train.epochs=100000 --out stop >stop.out 2>stop.err &
pid=$!
# (until two points have an epoch in their history, or mpirun ended)
trained() { local h n=0; for h in stop/*/history.csv; do [[ -f $h ]] && (($(wc -l <"$h") >= 2)) && n=$((n + 1)); done; echo $n; }
while kill -0 "$pid" 2>/dev/null && (($(trained) < 2)); do
  sleep 0.05
done
kill -INT "$pid"
wait "$pid"
status=$?
check "interrupted: mpirun fails (got $status)" test "$status" != 0
for k in 1 2; do
  check "interrupted: point $k's checkpoint" test -s stop/sw-$k/checkpoint.bin
  check "interrupted: point $k's resume line once" \
    test "$(grep -c "continue with: netrun resume stop/sw-$k\$" stop.err)" = 1
done
check "interrupted: the third point not started, no folder" test "$(names stop)" = "sw-1 sw-2 "
check "interrupted: said so" grep -q 'interrupted: 1 of the 3 runs not started' stop.err
check "interrupted: no result line" bash -c '! grep -q "test accuracy" stop.out'
done_epochs=$(($(wc -l <stop/sw-2/history.csv) - 1))
"$netrun" resume stop/sw-2 --epochs $((done_epochs + 1)) >/dev/null 2>resume.err
status=$?
check "interrupted: point 2 resumes in one process (status $status: $(tail -1 resume.err))" test "$status" = 0

cli_finish
