#!/usr/bin/env bash
# tools/make-synth-cifar: the arguments it gives netrun-synth, the count
# check, the stamp (a second run does nothing; another stamp or other counts
# rebuild) and nothing partial left on failure. A stand-in netrun-synth
# (empty files of the asked-for counts, its arguments logged) and small
# counts keep this quick; the real one writes the set in tools/run and
# tools/test, and tests/cli/check.sh checks specs/synth_cifar.yaml against it.
# usage: tests/cli/make_synth_cifar.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init make_synth_cifar "${1:-}"
tool=$src/tools/make-synth-cifar

# fake BUILD/netrun-synth OUT ARGS...: logs ARGS to $tmp/calls and writes
# OUT/{Train,Test}/<class>/NNNN.jpg as --train/--test ask; one file short
# when $tmp/short exists, nothing and exit 1 when $tmp/broken exists
mkdir -p "$tmp/build"
cat >"$tmp/build/netrun-synth" <<'FAKE'
#!/usr/bin/env bash
tmp=${0%/build/netrun-synth}
out=$1; shift
echo "$*" >>"$tmp/calls"
[[ -e $tmp/broken ]] && { echo "netrun-synth: error: broken" >&2; exit 1; }
while (($#)); do
  case $1 in --train) train=$2 ;; --test) test=$2 ;; esac
  shift
done
for k in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$out/Train/$k" "$out/Test/$k"
  (cd "$out/Train/$k" && seq -f '%04g.jpg' 1 "$train" | xargs touch)
  (cd "$out/Test/$k" && seq -f '%04g.jpg' 1 "$test" | xargs touch)
done
[[ -e $tmp/short ]] && rm "$out/Train/7/0003.jpg"
exit 0
FAKE
chmod +x "$tmp/build/netrun-synth"
# run [ARGS...]: the tool on $tmp/data with the fake, output in $tmp/out
run() { "$tool" --build-dir "$tmp/build" --data-dir "$tmp/data" "$@" >"$tmp/out" 2>&1; }
calls() { wc -l <"$tmp/calls"; }
set_root=$tmp/data/synth_cifar

# --- the full set's arguments (the fake fails here: 60,000 files would take
# this test half a minute): CIFAR-10's shape, JPEG, seed 1
touch "$tmp/broken"
run; status=$?
check "failing netrun-synth: exit $status, expected 2" test "$status" = 2
check "failing netrun-synth: said: $(cat "$tmp/out")" grep -q 'netrun-synth failed' "$tmp/out"
check "failing netrun-synth: nothing left: $(names "$tmp/data")" test -z "$(names "$tmp/data")"
args=$(cat "$tmp/calls")
for want in "--classes 10" "--size 32x32" "--channels 3" "--train 5000" "--test 1000" "--format jpeg" "--seed 1"; do
  if [[ " $args " == *" $want "* ]]; then ok; else fail "netrun-synth called without '$want': $args"; fi
done
rm "$tmp/broken" "$tmp/calls"

# --- first run (small counts): the set, the stamp
run --train 20 --test 5; status=$?
check "first run exits 0 ($status: $(cat "$tmp/out"))" test "$status" = 0
check "Train has 200 files" test "$(find "$set_root/Train" -type f | wc -l)" = 200
check "Test has 50 files" test "$(find "$set_root/Test" -type f | wc -l)" = 50
check "stamp written" test -f "$set_root/.complete"
check "no temporary folder left: $(names "$tmp/data")" test "$(names "$tmp/data")" = "synth_cifar "
check "the counts passed on: $(cat "$tmp/calls")" grep -q -- '--train 20 --test 5' "$tmp/calls"

# --- second run: present, netrun-synth not called
run --train 20 --test 5; status=$?
check "second run exits 0" test "$status" = 0
check "second run says present: $(cat "$tmp/out")" grep -q 'present (200 train, 50 test)' "$tmp/out"
check "second run does not call netrun-synth" test "$(calls)" = 1

# --- another stamp (an older set): rebuilt
echo "netrun-synth --classes 3" >"$set_root/.complete"
touch "$set_root/Train/0/stale.jpg"
run --train 20 --test 5; status=$?
check "outdated set rebuilt (exit $status)" test "$status" = 0
check "outdated set: netrun-synth called again" test "$(calls)" = 2
check "outdated set: the old files are gone" test ! -e "$set_root/Train/0/stale.jpg"
check "outdated set: stamp now matches (second run)" run --train 20 --test 5
check "outdated set: ...without a call" test "$(calls)" = 2
# other counts are another set
run --train 21 --test 5; status=$?
check "other counts rebuilt (exit $status)" test "$status" = 0
check "other counts: Train has 210 files" test "$(find "$set_root/Train" -type f | wc -l)" = 210

# --- a short count: refused, exit 2, nothing left
rm -rf "$tmp/data"
touch "$tmp/short"
run --train 20 --test 5; status=$?
check "short count: exit $status, expected 2" test "$status" = 2
check "short count: says how many: $(cat "$tmp/out")" grep -q '199 JPEG files, expected 200' "$tmp/out"
check "short count: nothing left in the data folder: $(names "$tmp/data")" test -z "$(names "$tmp/data")"
rm "$tmp/short"

# --- no netrun-synth: exit 2 naming it, nothing created
"$tool" --build-dir "$tmp/nobuild" --data-dir "$tmp/data2" >"$tmp/out" 2>&1; status=$?
check "no netrun-synth: exit $status, expected 2" test "$status" = 2
check "no netrun-synth: named: $(cat "$tmp/out")" grep -q "$tmp/nobuild/netrun-synth: not found" "$tmp/out"
check "no netrun-synth: no data folder made" test ! -e "$tmp/data2"

# --- bad arguments
"$tool" --bogus >"$tmp/out" 2>&1; status=$?
check "unknown argument: exit $status, expected 2" test "$status" = 2
"$tool" --train 0 >"$tmp/out" 2>&1; status=$?
check "--train 0: exit $status, expected 2" test "$status" = 2
check "--help" "$tool" --help >/dev/null

cli_finish
