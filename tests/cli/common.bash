# tests/cli/common.bash - sourced by the CLI test scripts (tests/cli/*.sh):
#   cli_init NAME NETRUN   netrun, src, bin (absolute: tests change folders),
#                          synth, pngcraft, a scratch $tmp removed at exit,
#                          the counters passed/failed
#   ok / fail MESSAGE / check NAME COMMAND...   one assertion each
#   need_tools PATH...     stop (one failure) when a helper is not built
#   cli_finish             prints the counts; its status is the test's
# Not a test itself (ctest runs tests/cli/*.sh).

cli_init() {
  cli_name=$1
  netrun=${2:?usage: $1.sh NETRUN}
  src=${NETRUN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  bin=${NETRUN_BINARY_DIR:-$(dirname "$netrun")}
  [[ $netrun == */* && $netrun != /* ]] && netrun=$PWD/$netrun
  [[ $bin != /* ]] && bin=$PWD/$bin
  [[ $src != /* ]] && src=$PWD/$src
  synth=$bin/netrun-synth
  pngcraft=$bin/netrun-pngcraft
  tmp=$(mktemp -d)
  # u+rwx first: some cases leave folders unreadable or unwritable
  trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  passed=0 failed=0
}

ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# check NAME COMMAND...: one assertion from a command's status
check() { local name=$1; shift; if "$@"; then ok; else fail "$name"; fi; }

need_tools() {
  local tool
  for tool in "$@"; do
    if [[ ! -x $tool ]]; then
      echo "FAIL: $tool not built" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
}

cli_finish() {
  echo "cli $cli_name: $passed passed, $failed failed"
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
}
