# tests/cli/common.bash - sourced by the CLI test scripts (tests/cli/*.sh):
#   cli_init NAME NETRUN   netrun, src, bin (absolute: tests change folders),
#                          synth, pngcraft, a scratch $tmp removed at exit,
#                          the counters passed/failed
#   ok / fail MESSAGE / check NAME COMMAND...   one assertion each
#   need_tools PATH...     stop (one failure) when a helper is not built
#   cli_finish             prints the counts; its status is the test's
#   expect_error, expect_error_line, expect_error_at   a refused command
#                          line, one assertion each (below)
#   names DIR, within A B D   small checks several scripts share
#   wait_lines FILE N PID, wait_file FILE PID   wait for a file a process
#                          in the background writes
#   strip_seconds HISTORY  history.csv but its seconds column (what two runs
#                          of the same training share)
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

# wait (at most 30 s) until FILE exists with at least N lines, while PID
# lives; 1 when PID ended first or the time ran out
wait_lines() { # wait_lines FILE N PID
  local _
  for _ in $(seq 1 3000); do
    kill -0 "$3" 2>/dev/null || return 1
    if [[ -f $1 ]] && (($(wc -l <"$1") >= $2)); then return 0; fi
    sleep 0.01
  done
  return 1
}
# wait (at most 30 s) until FILE exists, while PID lives
wait_file() { # wait_file FILE PID
  local _
  for _ in $(seq 1 3000); do
    kill -0 "$2" 2>/dev/null || return 1
    [[ -e $1 ]] && return 0
    sleep 0.01
  done
  return 1
}

strip_seconds() { # (the column found by its name in the header)
  awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i }
                    c { for (i = c; i < NF; i++) $i = $(i + 1); NF-- } { print }' "$1"
}

cli_finish() {
  echo "cli $cli_name: $passed passed, $failed failed"
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
}

# ---- a refused command line: `netrun ARGS` exits 2 and says why in one line.
# Each runs it with stdout in $tmp/stdout and stderr in $tmp/stderr (left
# there for further checks) and counts one assertion; nothing may be printed
# on stdout.

# expect_error NAME WORDS -- ARGS...: stderr has exactly one line with
# "error: ", and besides it only "netrun: loading ..." progress (a command
# that loads data first); that line contains WORDS ("A|B": each of A and B).
expect_error() {
  local name=$1 words=$2 status err line word list; shift 3
  "$netrun" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; status=$?
  err=$(cat "$tmp/stderr")
  if [[ $status != 2 ]]; then fail "$name: exit $status, expected 2 ($err)"; return; fi
  if [[ $(grep -c 'error: ' "$tmp/stderr") != 1 ||
        $(grep -v 'error: ' "$tmp/stderr" | grep -vc '^netrun: loading ') != 0 ]]; then
    fail "$name: not one error line: $err"; return
  fi
  line=$(grep 'error: ' "$tmp/stderr")
  IFS='|' read -ra list <<<"$words"
  for word in "${list[@]}"; do
    if [[ $line != *"$word"* ]]; then fail "$name: '$line' lacks '$word'"; return; fi
  done
  if [[ -s $tmp/stdout ]]; then fail "$name: printed on stdout: $(head -3 "$tmp/stdout")"; return; fi
  ok
}

# expect_error_line NAME PATTERN WORDS -- ARGS...: stderr is exactly one line,
# matching the extended regex PATTERN and containing WORDS.
expect_error_line() {
  local name=$1 pattern=$2 words=$3 status err; shift 4
  "$netrun" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; status=$?
  err=$(cat "$tmp/stderr")
  if [[ $status != 2 ]]; then fail "$name: exit $status, expected 2 ($err)"; return; fi
  if [[ $(wc -l <"$tmp/stderr") != 1 ]]; then fail "$name: stderr is not one line: $err"; return; fi
  if ! [[ $err =~ $pattern ]]; then fail "$name: '$err' does not match /$pattern/"; return; fi
  if [[ $err != *"$words"* ]]; then fail "$name: '$err' lacks '$words'"; return; fi
  if [[ -s $tmp/stdout ]]; then fail "$name: printed on stdout: $(head -3 "$tmp/stdout")"; return; fi
  ok
}

# expect_error_at NAME PREFIX WORDS -- ARGS...: expect_error_line, the line
# starting with PREFIX taken literally (brackets and dots are no regex).
expect_error_at() { expect_error_line "$1" "^$(regex_quote "$2")" "${@:3}"; }

# regex_quote TEXT: an extended regex matching TEXT literally
regex_quote() {
  local text=$1 out='' c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case $c in
      [][\\.^\$*+?\(\)\{\}\|]) out+="\\$c" ;;
      *) out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# ---- small checks

# names DIR: the entries of DIR, sorted, on one line
names() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f ' | tr ' ' '\n' | sort | tr '\n' ' '; }
# within A B D: |A - B| <= D
within() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { x = a - b; exit !(x <= d && x >= -d) }'; }
