#!/usr/bin/env bash
# CLI end-to-end: `netrun check`, --help/--version, and the one-line
# FILE:LINE:COL errors with exit status 2 for each class of bad spec.
# usage: tests/cli/check.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init check "${1:-}"

# --- the assignment's Exercise 2 network
out=$("$netrun" check "$src/specs/ex2_cnn.yaml"); status=$?
if [[ $status == 0 && $out == *"total: 21,578 learnable parameters"* ]]; then ok; else fail "ex2 check: $status $out"; fi
for row in "8x28x28 +80 " "8x14x14 +0 " "16x14x14 +1,168 " "16x7x7 +0 " "32x7x7 +4,640 " "10 +15,690 "; do
  if grep -Eq -- "$row" <<<"$out"; then ok; else fail "ex2 check lacks row /$row/"; fi
done
# every spec in specs/ checks
for spec in "$src"/specs/*.yaml; do
  if "$netrun" check "$spec" >/dev/null; then ok; else fail "check $spec"; fi
done
# results quoted in a spec's comments (NN.NN%) are those of the README's
# results table for that spec: one measurement, no drift
for spec in "$src"/specs/*.yaml; do
  base=$(basename "$spec")
  row=$(grep -F "| \`$base\` |" "$src/README.md" | grep -E '[0-9]+\.[0-9]+%')
  for pct in $(grep '^ *#' "$spec" | grep -oE '[0-9]+\.[0-9]+%'); do
    if [[ $row == *"$pct"* ]]; then ok; else fail "$base quotes $pct; the README's results row: ${row:-none}"; fi
  done
done

# --set changes the network
out=$("$netrun" check --set network.layers.0.conv.filters=4 "$src/specs/ex2_cnn.yaml")
if [[ $out == *"4x28x28"* ]]; then ok; else fail "--set filters: $out"; fi

# --- help and version
if "$netrun" --help | grep -q "usage: netrun"; then ok; else fail "--help"; fi
if "$netrun" --version | head -n 1 | grep -Eq "^netrun [0-9]+\.[0-9]+\.[0-9]+$"; then ok; else fail "--version"; fi
check "--version says whether MPI is built in" \
  grep -Eq "^built (with MPI \(.+\): mpirun -np P|without MPI: one process)" <<<"$("$netrun" --version)"

# --- bad input: one line, FILE:LINE:COL, exit 2
good=$(cat "$src/specs/ex2_cnn.yaml")
mkspec() { printf '%s\n' "$2" >"$tmp/$1.yaml"; echo "$tmp/$1.yaml"; }
loc='^[^:]+\.yaml:[0-9]+:[0-9]+: error: '

f=$(mkspec misspelled "${good/epochs: 10/epoch: 10}")
expect_error_line misspelled-key "^$f:27:3: error: " "did you mean 'epochs'" -- check "$f"
f=$(mkspec wrongtype "${good/epochs: 10/epochs: ten}")
expect_error_line wrong-type "^$f:27:11: error: " "ten" -- check "$f"
f=$(mkspec negative "${good/filters: 16/filters: -16}")
expect_error_line negative-size "$loc" "filters" -- check "$f"
f=$(mkspec syntax "${good/batch_size: 64/batch_size: [64}")
expect_error_line yaml-syntax "$loc" "" -- check "$f"
f=$(mkspec misfit "${good/input: \[1, 28, 28\]/input: [1, 3, 3]}")
expect_error_line shape-misfit "$loc" "does not fit" -- check "$f"
f=$(mkspec toobig "data: {train: /x/Train, test: /x/Test}
network:
  input: [1, 4096, 4096]
  layers:
    - conv: {filters: 32, size: 3, pad: 1}
    - maxpool: {size: 64, stride: 64}
    - dense: {units: 10}
train: {batch_size: 64}")
expect_error_line too-big-for-memory "^$f:5:5: error: " "needs 396.1 GiB" -- check "$f"
expect_error_line missing-file "^$tmp/nope.yaml: error: " "nope.yaml" -- check "$tmp/nope.yaml"
expect_error_line bad-set "^--set train.epochs=0:1:[0-9]+: error: " "epochs" -- check --set train.epochs=0 "$src/specs/ex2_cnn.yaml"
expect_error_line set-syntax "^netrun: error: --set" "KEY=VALUE" -- check --set train.epochs "$src/specs/ex2_cnn.yaml"
expect_error_line unknown-option "^netrun: error: unknown option" "--bogus" -- check --bogus "$src/specs/ex2_cnn.yaml"

cli_finish
