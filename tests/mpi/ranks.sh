#!/usr/bin/env bash
# Data parallelism over MPI processes (the executor, netrun/net.h
# nr_net_set_comm): tests/mpi/net_ranks trains a small net (conv, fused
# batchnorm -> relu -> maxpool, dropout, a residual block with a batchnorm,
# two dense layers; and an MLP whose first layer is dense) for six SGD steps
# of uneven batch sizes, one of them smaller than the threads, and writes the
# losses, correct counts, parameters, running statistics, gradients and
# logits bit for bit. Asserted:
#   - 2 processes x 1 thread = 1 process x 2 threads, bit for bit;
#   - 2 processes x 2 threads = 1 process x 4 threads;
#   - a process of 1 thread beside one of 2 = 1 process x 3 threads;
#   - two runs of 2 x 1 give the same bits (determinism);
#   - cnn: 1 process x 2 threads differs from 1 x 1 (the files do tell the
#     splits apart: the comparisons above can fail).
# Registered by CMakeLists.txt only when MPI was found.
# usage: tests/mpi/ranks.sh PATH/TO/netrun PATH/TO/net_ranks MPIEXEC
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cli/common.bash"
source "$(dirname "${BASH_SOURCE[0]}")/mpi.bash"
cli_init mpi_ranks "${1:-}"
net_ranks=${2:?usage: ranks.sh NETRUN NET_RANKS MPIEXEC}
mpiexec=${3:?usage: ranks.sh NETRUN NET_RANKS MPIEXEC}
mpi_init "$mpiexec" "$net_ranks"

for layers in cnn mlp; do
  check "$layers: 1 process x 1 thread" "$net_ranks" 1 "one_1.$layers" "$layers"
  check "$layers: 1 process x 2 threads" "$net_ranks" 2 "one_2.$layers" "$layers"
  check "$layers: 1 process x 3 threads" "$net_ranks" 3 "one_3.$layers" "$layers"
  check "$layers: 1 process x 4 threads" "$net_ranks" 4 "one_4.$layers" "$layers"
  check "$layers: 2 processes x 1 thread" mpirun -np 2 "$net_ranks" 1 "two_1.$layers" "$layers"
  check "$layers: 2 processes x 1 thread again" \
    mpirun -np 2 "$net_ranks" 1 "two_1b.$layers" "$layers"
  check "$layers: 2 processes x 2 threads" mpirun -np 2 "$net_ranks" 2 "two_2.$layers" "$layers"
  check "$layers: processes of 1 and 2 threads" \
    mpirun -np 1 "$net_ranks" 1 "mixed.$layers" "$layers" : -np 1 "$net_ranks" 2 "mixed.$layers" "$layers"
  check "$layers: 2 x 1 = 1 x 2, bit for bit" cmp -s "two_1.$layers" "one_2.$layers"
  check "$layers: 2 x 1 twice, the same bits" cmp -s "two_1.$layers" "two_1b.$layers"
  check "$layers: 2 x 2 = 1 x 4, bit for bit" cmp -s "two_2.$layers" "one_4.$layers"
  check "$layers: 1 + 2 threads = 1 x 3, bit for bit" cmp -s "mixed.$layers" "one_3.$layers"
done
# conv's weight gradients are summed per thread: 1 thread and 2 differ in
# their last bits, so the equalities above tell the splits apart (the MLP's
# dense layers give the same bits for any split)
check "cnn: the splits differ (1 x 1 vs 1 x 2)" bash -c "! cmp -s one_1.cnn one_2.cnn"

cli_finish
