#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer harnesses of tests/fuzz/ (clang,
# libclang-rt-14-dev: installed by tools/setup) and runs each for 20 seconds
# (tests/fuzz/run.sh 20). Fails on any finding, and when clang cannot build a
# fuzzer: a missing compiler is a broken test machine, not a reason to skip.
# The corpora are kept in NETRUN_BINARY_DIR/fuzz-smoke and grow from run to run.
# usage: tests/cli/fuzz_smoke.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
netrun=${1:?usage: fuzz_smoke.sh NETRUN}
src=${NETRUN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${NETRUN_BINARY_DIR:-$(dirname "$netrun")}
[[ $bin != /* ]] && bin=$PWD/$bin

NETRUN_BINARY_DIR=$bin NETRUN_FUZZ_DIR=$bin/fuzz-smoke bash "$src/tests/fuzz/run.sh" 20
status=$?
if ((status == 0)); then
  echo "cli fuzz_smoke: 1 passed, 0 failed"
  echo "1 passed, 0 failed"
else
  echo "FAIL: tests/fuzz/run.sh 20 exited $status (see above; reproducers in $bin/fuzz-smoke/artifacts)" >&2
  echo "cli fuzz_smoke: 0 passed, 1 failed"
  echo "0 passed, 1 failed"
fi
exit "$status"
