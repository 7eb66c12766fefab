# tests/mpi/mpi.bash - sourced by the tests under mpirun (tests/mpi/*.sh),
# after tests/cli/common.bash's cli_init (it writes into $tmp):
#   mpi_init MPIEXEC TOOL...   the helper programs the test needs (stop
#                      when one is not built), into $tmp; Open MPI as root
#                      and on more processes than cores; Open MPI's own
#                      leaks kept out of LeakSanitizer's report
#   mpirun ARGS...     MPIEXEC --allow-run-as-root --oversubscribe --quiet ARGS
#   mpirun_cmd         that command as an array
# Not a test itself.

mpi_init() {
  mpiexec=${1:?usage: mpi_init MPIEXEC TOOL...}
  shift
  need_tools "$@"
  cd "$tmp" || exit 1
  mpirun_cmd=("$mpiexec" --allow-run-as-root --oversubscribe --quiet)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  # plugins stay loaded and stacks are unwound in full (sanitized builds):
  # the leaks' frames keep their libraries' names for the suppressions
  export OMPI_MCA_mca_base_component_disable_dlclose=1
  export PMIX_MCA_mca_base_component_disable_dlclose=1
  [[ -n ${ASAN_OPTIONS:-} ]] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
  # (MPI_Init's allocations outlive MPI_Finalize in a sanitized build)
  local lib
  for lib in libmpi libopen-pal libopen-rte libpmix libevent libhwloc libuc libfabric \
             libpsm mca_ libz; do
    echo "leak:$lib"
  done >"$tmp/mpi-lsan.supp"
  export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/mpi-lsan.supp"
}

# (in the background: "${mpirun_cmd[@]}" ARGS... &, so that $! is mpirun's
# own pid, the process a kill -INT must reach)
mpirun_cmd=()
mpirun() { "${mpirun_cmd[@]}" "$@"; }
