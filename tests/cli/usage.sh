#!/usr/bin/env bash
# CLI end-to-end: the command line's honesty. Options a command does not use
# are refused (exit 2, one line naming the command and the option, nothing on
# stdout, nothing created); `netrun CMD --help` shows that command's own
# usage; commands given no arguments name what they need; a mistyped command
# gets a "did you mean" (a spec file named like one still trains); resume of
# a missing folder and --out naming a file say so.
# usage: tests/cli/usage.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init usage "${1:-}"
need_tools "$synth"

# expect_usage_error NAME WORDS -- ARGS...: expect_error_line (common.bash) with
# the one stderr line starting "netrun: error: " or "PATH: error: "
expect_usage_error() { expect_error_line "$1" '^[^ ]+: error: ' "${@:2}"; }

# --- a tiny dataset, a spec, one finished run (for eval, resume, compare)
cd "$tmp" || exit 1
"$synth" "$tmp/data" --classes 3 --size 12x12 --train 4 --test 2 >/dev/null || exit 1
spec_text='name: tiny
data: {train: data/Train, test: data/Test}
network:
  layers:
    - dense: {units: 3}
    - softmax
train: {epochs: 1, batch_size: 4}'
printf '%s\n' "$spec_text" >spec.yaml
printf '%s\n' "${spec_text/name: tiny/name: other}" >other.yaml
"$netrun" spec.yaml --out run >/dev/null 2>"$tmp/stderr"; status=$?
check "the tiny run trains: $status $(cat "$tmp/stderr")" test "$status" = 0
check "the tiny run has weights" test -f run/weights.bin

# --- (7) options a command does not use are refused, by name, before anything
refused() {  # refused CMD OPTION WORDS -- ARGS...
  local cmd=$1 opt=$2 words=$3; shift 4
  expect_usage_error "$cmd $opt refused" "netrun: error: $cmd does not take $opt" -- "$@"
  if [[ $(cat "$tmp/stderr") != *"$words"* ]]; then fail "$cmd $opt: '$(cat "$tmp/stderr")' lacks '$words'"; else ok; fi
}
refused resume --set "resolved.yaml is the spec" -- resume run --set train.epochs=2
refused resume --set "see netrun resume --help" -- resume run -s train.epochs=2
refused resume --backend "resolved.yaml" -- resume run --backend reference
refused resume --out "resolved.yaml" -- resume run --out elsewhere
refused resume --weights "resolved.yaml" -- resume run --weights run/weights.bin
refused eval --out "writes nothing" -- eval spec.yaml --weights run/weights.bin --out evalout
refused eval --out "see netrun eval --help" -- eval spec.yaml --weights run/weights.bin -o evalout
check "eval --out created nothing" test ! -e evalout
refused eval --sweep "--sweep is for training" -- eval spec.yaml --weights run/weights.bin --sweep train.epochs=1,2
refused check --out "writes nothing" -- check spec.yaml --out checkout
check "check --out created nothing" test ! -e checkout
refused check --backend "see netrun check --help" -- check spec.yaml --backend reference
refused check --weights "see netrun check --help" -- check spec.yaml --weights run/weights.bin
refused check --sweep "--sweep is for training" -- check spec.yaml --sweep train.epochs=1,2
refused data --set "see netrun data --help" -- data data/Train --set train.epochs=2
refused data --out "see netrun data --help" -- data data/Train --out dataout
refused data --backend "see netrun data --help" -- data data/Train --backend blas
refused training --weights "netrun eval" -- spec.yaml --weights run/weights.bin --out trainout
check "training --weights created nothing" test ! -e trainout
refused diff --out "see netrun diff --help" -- diff spec.yaml other.yaml -o diffout
refused diff --set "see netrun diff --help" -- diff spec.yaml other.yaml --set train.epochs=2
refused diff --backend "see netrun diff --help" -- diff spec.yaml other.yaml --backend reference
refused bench --out "writes nothing" -- bench spec.yaml 1 -o benchout
check "bench -o created nothing" test ! -e benchout
refused bench --weights "see netrun bench --help" -- bench spec.yaml 1 --weights run/weights.bin
refused bench --sweep "--sweep is for training" -- bench spec.yaml 1 --sweep train.epochs=1,2
refused compare --set "see netrun compare --help" -- compare run --set train.epochs=2
refused compare --backend "see netrun compare --help" -- compare run --backend blas
refused compare --weights "see netrun compare --help" -- compare run -w run/weights.bin
refused report --set "see netrun report --help" -- report run --set train.epochs=2
refused report --weights "see netrun report --help" -- report run --weights run/weights.bin
check "refused options wrote no picture or PDF" test ! -e compare.png -a ! -e report.pdf
# options a command takes still work
out=$("$netrun" eval spec.yaml --weights run/weights.bin --set train.batch_size=2 --backend reference 2>&1); status=$?
check "eval takes --weights --set --backend: $status $out" test "$status" = 0
out=$("$netrun" check --set train.epochs=3 spec.yaml 2>&1); status=$?
check "check takes --set: $status $out" test "$status" = 0

# --- (8) per-command help: its own usage line and its options, on stdout
global='usage: netrun [OPTIONS] SPEC...'
declare -A usage_line=(
  [check]='usage: netrun check [--set K=V]... SPEC...'
  [eval]='usage: netrun eval SPEC --weights FILE [--set K=V]...'
  [data]='usage: netrun data DIR...'
  [resume]='usage: netrun resume RUN_DIR'
  [bench]='usage: netrun bench [--set K=V]...'
  [compare]='usage: netrun compare RUN_DIR... [-o FILE.png]'
  [diff]='usage: netrun diff A.yaml B.yaml'
  [report]='usage: netrun report RUN_DIR... [-o FILE.pdf]'
  [predict]='usage: netrun predict MODEL IMAGE_OR_FOLDER... [-o FILE.csv] [--top K]'
)
declare -A takes=(
  [check]='--set' [eval]='--weights --set --backend' [data]='' [resume]=''
  [bench]='--set --backend' [compare]='--out' [diff]='' [report]='--out'
  [predict]='--out'
)
for cmd in check eval data resume bench compare diff report predict; do
  for flag in --help -h; do
    "$netrun" "$cmd" "$flag" >"$tmp/stdout" 2>"$tmp/stderr"; status=$?
    help=$(cat "$tmp/stdout")
    check "$cmd $flag: exit 0 ($status)" test "$status" = 0
    check "$cmd $flag: nothing on stderr" test ! -s "$tmp/stderr"
    if [[ $(head -1 <<<"$help") == "${usage_line[$cmd]}"* ]]; then ok; else fail "$cmd $flag: first line '$(head -1 <<<"$help")'"; fi
    if [[ $help != *"$global"* ]]; then ok; else fail "$cmd $flag: shows the global help"; fi
    if [[ $(grep -c '^usage: ' <<<"$help") == 1 ]]; then ok; else fail "$cmd $flag: not one usage line"; fi
  done
  for opt in ${takes[$cmd]} --help; do
    if grep -q -- "^  -[a-z], $opt " <<<"$help"; then ok; else fail "$cmd --help does not describe $opt"; fi
  done
  for opt in --set --out --backend --weights --sweep; do
    [[ " ${takes[$cmd]} " == *" $opt "* ]] && continue
    if ! grep -q -- "^ *-[a-z], $opt \|^ *$opt " <<<"$help"; then ok; else fail "$cmd --help describes $opt, which it refuses"; fi
  done
done
check "compare --help: the picture's default" grep -q 'default: compare.png' <<<"$("$netrun" compare --help)"
check "report --help: the PDF's default" grep -q 'default: report.pdf' <<<"$("$netrun" report --help)"
check "bench --help: the batch count's default" grep -q 'default 50' <<<"$("$netrun" bench --help)"
check "eval --help: the backend's default" grep -q 'blas' <<<"$("$netrun" eval --help)"
# --help after arguments: still the command's help, nothing run
out=$("$netrun" eval spec.yaml --weights run/weights.bin --help 2>&1); status=$?
check "eval SPEC --weights W --help: the help ($status)" test "$status" = 0 -a "$(head -1 <<<"$out")" = 'usage: netrun eval SPEC --weights FILE [--set K=V]... [--backend NAME]'
out=$("$netrun" --help); status=$?
check "netrun --help: exit 0" test "$status" = 0
check "netrun --help: the global usage" test "$(head -1 <<<"$out")" = "$global          train and evaluate each spec"
check "netrun --help: names COMMAND --help" grep -q 'netrun COMMAND --help' <<<"$out"
out=$("$netrun" spec.yaml --help); status=$?
check "netrun SPEC --help: the global usage ($status)" test "$status" = 0 -a "$(head -1 <<<"$out")" = "$global          train and evaluate each spec"

# --- (8) no arguments: what the command needs, its usage, one line
expect_usage_error "data without arguments" "no data folder given; usage: netrun data DIR..." -- data
expect_usage_error "resume without arguments" "no run folder given; usage: netrun resume RUN_DIR" -- resume
expect_usage_error "check without arguments" "no spec file given; usage: netrun check" -- check
expect_usage_error "eval without arguments" "no spec file given; usage: netrun eval SPEC --weights FILE" -- eval
expect_usage_error "bench without arguments" "no spec file given; usage: netrun bench" -- bench
expect_usage_error "diff without arguments" "no spec files given; usage: netrun diff A.yaml B.yaml" -- diff
expect_usage_error "report without arguments" "no run folder given; usage: netrun report" -- report

# --- (8) a mistyped command: did you mean, the list of commands, exit 2
commands='commands: check, eval, data, resume, bench, compare, diff, report'
expect_usage_error "chekc" "netrun: error: unknown command 'chekc' (did you mean 'check'?); $commands" -- chekc spec.yaml
expect_usage_error "reusme" "unknown command 'reusme' (did you mean 'resume'?)" -- reusme run
expect_usage_error "comapre" "unknown command 'comapre' (did you mean 'compare'?)" -- comapre run
expect_usage_error "evl" "unknown command 'evl' (did you mean 'eval'?)" -- evl spec.yaml --weights run/weights.bin
expect_usage_error "bech alone" "unknown command 'bech' (did you mean 'bench'?)" -- bech
# not close to a command, or spelled like a spec: a spec that is not there
expect_usage_error "far from any command" "xyzzyq: error: " -- xyzzyq
expect_usage_error "chekc.yaml is a spec name" "chekc.yaml: error: " -- chekc.yaml
# a spec file named like a typo trains
printf '%s\n' "$spec_text" >chekc
"$netrun" chekc --out typo_run >/dev/null 2>"$tmp/stderr"; status=$?
check "a spec file named 'chekc' trains ($status: $(cat "$tmp/stderr"))" test "$status" = 0
check "... into its run folder" test -f typo_run/weights.bin
mkdir -p sub && printf '%s\n' "${spec_text//data\//../data/}" >sub/dat
(cd sub && "$netrun" check dat >/dev/null 2>"$tmp/stderr"); status=$?
check "check of a spec file named 'dat' ($status: $(cat "$tmp/stderr"))" test "$status" = 0

# --- (12b) resume of a missing folder; --out naming a file
expect_usage_error "resume of a missing folder" "$tmp/nope: error: no such run folder" -- resume "$tmp/nope"
printf 'keep me\n' >afile
expect_usage_error "resume of a file" "afile: error: not a folder" -- resume afile
expect_error "--out names a file" "afile: error: exists and is a file, not a folder" -- spec.yaml --out afile
check "--out file left as it was" test "$(cat afile)" = "keep me"

cli_finish
