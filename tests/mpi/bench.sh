#!/usr/bin/env bash
# `mpirun -np 2 netrun bench SPEC`: the benchmark's batch shared by 2
# processes as in training (src/cli/cmd_bench.c). On a tiny synthetic set,
# with batchnorm (also inside a residual block) and a dense layer, which
# exchange rows between the processes:
#   - the table is printed once (rank 0), its header says "2 processes x T
#     threads" and the hosts;
#   - an "of which: exchange" row under each layer that exchanges (the
#     batchnorms, the dense), under the sum of the threads' gradients (the
#     gradient blocks), the logits' exchange and the total "exchange between
#     processes (all)", with numbers; each "of which" row within the row
#     above it, the total the sum of the exchange rows, a residual block's
#     row the sum of its parts (as tests/cli/bench.sh checks in one process);
#   - one process (no mpirun, or mpirun -np 1): no exchange rows;
#   - a bad spec on both processes, or on one of them (mpirun's
#     PROG : PROG), or the training images on one only: exit 2, the error
#     printed once.
# No timing thresholds: only the table's structure and sums.
# Registered by CMakeLists.txt only when MPI was found.
# usage: tests/mpi/bench.sh PATH/TO/netrun MPIEXEC
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli/common.bash"
source "$(dirname "${BASH_SOURCE[0]}")/mpi.bash"
cli_init mpi_bench "${1:-}"
mpiexec=${2:?usage: bench.sh NETRUN MPIEXEC}
mpi_init "$mpiexec" "$synth"

"$synth" data --classes 3 --size 12x12 --train 90 --test 30 >/dev/null || exit 1
cat >spec.yaml <<'SPEC'
name: mpi_bench
data: {train: data/Train, test: data/Test}
network:
  input: [1, 12, 12]
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - batchnorm
    - relu
    - maxpool
    - residual:
        layers:
          - conv: {filters: 4, size: 3, pad: 1}
          - batchnorm
          - relu
    - dropout: {rate: 0.2}
    - dense: {units: 3}
    - softmax
train:
  batch_size: 16
  optimizer: {sgd: {lr: 0.05, momentum: 0.9}}
SPEC

# The table's columns by position (cmd_bench.c's print_times: fwd, bwd,
# sum, %, fwd cpu, bwd cpu after 49 characters of label, layer, output; a
# blank column is 0). Prints what does not add up: the total exchange row
# against the sum of the exchange rows, each "of which" row against the row
# above it, a residual block's row against its parts; nothing when all do.
exchange_sums() {
  awk '
    # c: 0 fwd, 1 bwd, 2 sum, 3 fwd cpu, 4 bwd cpu (the % column skipped)
    function at(c) { return substr($0, 50 + 11 * c + (c >= 3 ? 7 : 0), 11) }
    function col(c) { return at(c) + 0 }
    # n printed terms against a printed sum: each off by 0.0005 at most
    function off(a, b, n) { d = a - b; return d * d > (0.0005 * (n + 1) + 1e-9) ^ 2 }
    function flush() {
      if (blk != "")
        for (c = 0; c < 5; c++)
          if (off(btot[c], bpart[c], bn))
            printf "block %s column %d: %s vs %s; ", blk, c + 1, btot[c], bpart[c]
      blk = ""; bn = 0
      for (c = 0; c < 5; c++) bpart[c] = 0
    }
    / of which: exchange/ {
      n++; for (c = 0; c < 5; c++) sum[c] += col(c)
      for (c = 0; c < 5; c++)   # (a blank column above: not compared)
        if (above[c] != "" && col(c) - above[c] > 0.001)
          printf "line %d column %d: %s above %s; ", NR, c + 1, col(c), above[c]
      next
    }
    { for (c = 0; c < 5; c++) above[c] = at(c) ~ /[0-9]/ ? col(c) : "" }
    /logits exchange/ { n++; for (c = 0; c < 5; c++) sum[c] += col(c) }
    /exchange between processes \(all\)/ {
      total = 1; for (c = 0; c < 5; c++) if (off(col(c), sum[c], n))
        printf "total column %d: %s vs %s; ", c + 1, col(c), sum[c]
    }
    /^[0-9]+ +residual/ { flush(); blk = $1; for (c = 0; c < 5; c++) btot[c] = col(c); next }
    blk != "" && /^([0-9]+\.[0-9s]+)? +  [a-z]/ {
      bn++; for (c = 0; c < 5; c++) bpart[c] += col(c); next }
    { flush() }
    END { flush(); if (!total) printf "no total exchange row" }'
}
num='[0-9]+\.[0-9]{3}'
cols="( +$num){3} +[0-9]+\.[0-9]( +$num){2}$"   # fwd bwd sum % fwd-cpu bwd-cpu

for threads in 1 2; do
  mpirun -np 2 "$netrun" bench --set threads=$threads spec.yaml 5 >out.$threads 2>err.$threads
  status=$?
  out=$(cat out.$threads)
  check "2 x $threads: exit $status $(cat err.$threads)" test "$status" = 0
  check "2 x $threads: the table once" test "$(grep -c '^netrun bench' <<<"$out")" = 1 \
    -a "$(grep -c 'total per batch' <<<"$out")" = 1
  thr=$([[ $threads = 1 ]] && echo "1 thread" || echo "2 threads")
  check "2 x $threads: header '2 processes x $thr (hosts: ...)'" \
    grep -Eq "^netrun bench spec.yaml: batch 16, 2 processes x $thr \(hosts: [^ ]+ [^ ]+\)," \
    <<<"$out"
  # the rows that exchange: under batchnorm (2, 5.2), dense (7), the gradients
  check "2 x $threads: an exchange row under each layer that exchanges" \
    test "$(grep -A1 -E '^(2 +batchnorm|5\.2 +  batchnorm|7 +dense)' <<<"$out" |
            grep -cE "^ +(  )?  of which: exchange$cols")" = 3
  check "2 x $threads: none under the others" test "$(grep -c 'of which' <<<"$out")" = 4
  check "2 x $threads: the gradient blocks' exchange" \
    grep -A1 "sum of the threads' gradients" <<<"$out" | grep -Eq "  of which: exchange$cols"
  check "2 x $threads: the logits' exchange" \
    grep -Eq "^ +logits exchange \(after the forward\)$cols" <<<"$out"
  check "2 x $threads: the total exchange row" \
    grep -Eq "^ +exchange between processes \(all\)$cols" <<<"$out"
  check "2 x $threads: the total exchange has a number" \
    test -z "$(grep -E 'exchange between processes \(all\) +0\.000 +0\.000' <<<"$out")"
  sums=$(exchange_sums <<<"$out")
  check "2 x $threads: the exchange rows add up: $sums" test -z "$sums"
done
# the sums can fail: a doctored total, and an "of which" above its row
doctored=$(sed -E 's/^( +exchange between processes \(all\) +)[0-9]+\.[0-9]{3}/\19.999/' out.1)
check "a total that does not add up is caught" test -n "$(exchange_sums <<<"$doctored")"
doctored=$(awk '/^7 +dense/ { getline nx; sub(/exchange +[0-9.]+/, "exchange      9.999", nx)
                              print; print nx; next } { print }' out.1)
check "an exchange above its layer's time is caught" test -n "$(exchange_sums <<<"$doctored")"

# one process: the table as always, no exchange rows
for how in alone np1; do
  if [[ $how = alone ]]; then
    "$netrun" bench --set threads=2 spec.yaml 3 >one.out 2>one.err; status=$?
  else
    mpirun -np 1 "$netrun" bench --set threads=2 spec.yaml 3 >one.out 2>one.err; status=$?
  fi
  check "one process ($how): exit $status $(cat one.err)" test "$status" = 0
  check "one process ($how): header '2 threads'" \
    grep -q "^netrun bench spec.yaml: batch 16, 2 threads, " one.out
  check "one process ($how): no exchange rows" \
    test -z "$(grep -E 'exchange|rank 0' one.out)"
done

# errors: exit 2, printed once, by the process that had it
sed 's/units: 3/units: three/' spec.yaml >bad.yaml
mpirun -np 2 "$netrun" bench bad.yaml 3 >bad.out 2>bad.err
status=$?
check "bad spec: exit 2 (got $status)" test "$status" = 2
check "bad spec: the error once" test "$(grep -c 'error' bad.err)" = 1
check "bad spec: no table" test ! -s bad.out
sed 's|data/Train|nowhere/Train|' spec.yaml >nodata.yaml
# process 0 on spec.yaml, process 1 on SPEC (mpirun's A : B): exit 2, and
# stderr (NAME.err) has the one line matching WHAT
split_fails() {  # split_fails NAME SPEC WHAT DESCRIPTION
  mpirun -np 1 "$netrun" bench spec.yaml 3 : -np 1 "$netrun" bench "$2" 3 >"$1.out" 2>"$1.err"
  local status=$?
  check "$4: exit 2 (got $status)" test "$status" = 2
  check "$4: said once: $(cat "$1.err")" \
    test "$(grep -c "$3" "$1.err")" = 1 -a "$(wc -l <"$1.err")" = 1
  check "$4: no table" test ! -s "$1.out"
}
split_fails bad1 bad.yaml '^bad.yaml:.*error' "bad spec on process 1 only"
split_fails half nodata.yaml 'on some processes only' "training images on process 0 only"
mpirun -np 2 "$netrun" bench nodata.yaml 3 >none.out 2>none.err
status=$?
check "no training images on any process: random pixels (exit $status)" \
  grep -q "input: random pixels" none.out

cli_finish
