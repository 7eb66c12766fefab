#!/usr/bin/env bash
# CLI end-to-end for --set paths: a list index written [N], as error messages
# and `netrun diff` print it, works like the dotted form (network.layers.0),
# also nested (residual, repeat) and mixed with it; a path copied from
# `netrun diff` or from an error message, with =VALUE appended, is accepted
# by --set and by --sweep; a bad index is one error line
# "--set ASSIGNMENT:1:COL: error: ..." with exit status 2.
# usage: tests/cli/set_paths.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init set_paths "${1:-}"
need_tools "$synth"

# diff_sets FILE: the "PATH: OLD -> NEW" lines of `netrun diff` output (up to
# the layer table) as --set PATH=NEW arguments, one per line
diff_sets() {
  local line
  while IFS= read -r line; do
    [[ -z $line ]] && break
    printf '%s\n' "--set" "${line%%: *}=${line##* -> }"
  done <"$1"
}

cd "$tmp" || exit 1
ex2=$src/specs/ex2_cnn.yaml
# check reads the data folders: tiny ones for the specs written here (ex2
# itself reads data/mnist, as in tests/cli/check.sh)
"$synth" gray --classes 3 --size 8x8 --train 8 --test 4 --seed 3 >/dev/null || fail "synth"
"$synth" digits --classes 10 --size 28x28 --train 7 --test 1 --seed 3 >/dev/null || fail "synth"

# --- [N] and .N name the same list item
dotted=$("$netrun" check --set network.layers.0.conv.filters=4 --set network.layers.3.conv.filters=12 "$ex2" 2>&1); s1=$?
bracket=$("$netrun" check --set 'network.layers[0].conv.filters=4' --set 'network.layers[3].conv.filters=12' "$ex2" 2>&1); s2=$?
if [[ $s1$s2 == 00 && $bracket == "$dotted" && $bracket == *"4x28x28"* && $bracket == *"12x14x14"* ]]; then ok
else fail "[N] = .N on ex2: exit $s1 $s2: $bracket"; fi

# nested lists (residual, repeat), and both forms mixed in one path
cat >nested.yaml <<'EOF'
name: nested
data: {train: gray/Train, test: gray/Test}
threads: 1
network:
  input: [1, 8, 8]
  layers:
    - conv: {filters: 2, size: 3, pad: 1}
    - relu
    - residual:
        layers:
          - conv: {filters: 2, size: 3, pad: 1}
          - relu
    - repeat:
        times: 2
        layers:
          - conv: {filters: 2, size: 3, pad: 1}
          - dropout
    - flatten
    - dense: {units: 3}
    - softmax
train: {epochs: 1, batch_size: 8}
EOF
dotted=$("$netrun" check --set network.layers.2.residual.layers.0.conv.filters=5 \
  --set network.layers.3.repeat.layers.0.conv.filters=3 --set network.layers.3.repeat.layers.1=relu nested.yaml 2>&1); s1=$?
bracket=$("$netrun" check --set 'network.layers[2].residual.layers[0].conv.filters=5' \
  --set 'network.layers[3].repeat.layers[0].conv.filters=3' --set 'network.layers[3].repeat.layers[1]=relu' nested.yaml 2>&1); s2=$?
mixed=$("$netrun" check --set 'network.layers[2].residual.layers.0.conv.filters=5' \
  --set 'network.layers.3.repeat.layers[0].conv.filters=3' --set 'network.layers[3].repeat.layers.1=relu' nested.yaml 2>&1); s3=$?
if [[ $s1$s2$s3 == 000 && $bracket == "$dotted" && $mixed == "$dotted" && $bracket == *"5x8x8"* && $bracket == *"3x8x8"* ]]; then ok
else fail "nested [N] = .N = mixed: exit $s1 $s2 $s3: $bracket / $mixed"; fi

# --- a path printed by `netrun diff`, with =VALUE, is a --set path
sed 's#\.\./data/mnist/#digits/#' "$ex2" >a.yaml
sed -e 's/filters: 16/filters: 12/' -e 's/filters: 32/filters: 24/' -e 's/epochs: 10/epochs: 3/' \
  -e 's/lr: 0.05/lr: 0.1/' a.yaml >b.yaml
"$netrun" diff a.yaml b.yaml >diff.txt 2>&1; status=$?
mapfile -t sets < <(diff_sets diff.txt)
printed=$(grep -c '^network\.layers\[[0-9]*\]\.conv\.filters: ' diff.txt)
got=$("$netrun" check "${sets[@]}" a.yaml 2>&1); s1=$?
want=$("$netrun" check b.yaml 2>&1); s2=$?
if [[ $status == 1 && $printed == 2 && ${#sets[@]} == 8 && $s1$s2 == 00 && ${got#*$'\n'} == "${want#*$'\n'}" ]]; then ok
else fail "ex2: diff paths back into --set: diff exit $status, ${#sets[@]} args ${sets[*]}: check exit $s1: $got"; fi

# ... the same on a trained run: nested paths; the run's resolved spec then
# equals the other spec (netrun diff says nothing)
sed -e '/residual:/,/repeat:/s/filters: 2/filters: 4/' -e 's/- dropout/- tanh/' \
  -e 's/batch_size: 8/batch_size: 4/' nested.yaml >nested_b.yaml
"$netrun" diff nested.yaml nested_b.yaml >diff2.txt 2>&1; status=$?
mapfile -t sets < <(diff_sets diff2.txt)
"$netrun" nested.yaml "${sets[@]}" --out run >run.out 2>&1; s1=$?
out=$("$netrun" diff run/resolved.yaml nested_b.yaml 2>&1); s2=$?
if [[ $status == 1 && ${sets[*]} == "--set network.layers[2].residual.layers[0].conv.filters=4 --set network.layers[3].repeat.layers[1]=tanh --set train.batch_size=4" &&
      $s1$s2 == 00 && -z $out ]]; then ok
else fail "nested: diff paths back into --set (${sets[*]}): train exit $s1 $(tail -2 run.out); diff exit $s2: $out"; fi

# --- a path printed by an error message, with =VALUE, fixes it
sed 's/filters: 2, size: 3, pad: 1}$/filters: 0, size: 3, pad: 1}/' nested.yaml >bad.yaml
sed -i '0,/filters: 0/s/filters: 0/filters: 2/' bad.yaml   # only the nested ones are 0
"$netrun" check bad.yaml >/dev/null 2>err.txt; status=$?
path=$(sed -nE 's/^[^ ]*: error: ([^ :]+): .*/\1/p' err.txt)
# fixing the first error (in residual.layers) leads to the next one (in
# repeat.layers), fixed the same way
"$netrun" check --set "$path=3" bad.yaml >/dev/null 2>err2.txt
path2=$(sed -nE 's/^[^ ]*: error: ([^ :]+): .*/\1/p' err2.txt)
out=$("$netrun" check --set "$path=3" --set "$path2=3" bad.yaml 2>&1); s1=$?
if [[ $status == 2 && $path == "network.layers[2].residual.layers[0].conv.filters" &&
      $path2 == "network.layers[3].repeat.layers[0].conv.filters" && $s1 == 0 && $out == *"3x8x8"* ]]; then ok
else fail "schema error paths back into --set: exit $status '$path' '$path2' exit $s1: $(cat err.txt err2.txt) $out"; fi
# a layer-level (graph) error names the layer: replace it, or change it
sed 's/- dropout/- maxpool: {size: 16, stride: 16}/' nested.yaml >misfit.yaml
"$netrun" check misfit.yaml >/dev/null 2>err.txt; status=$?
path=$(sed -nE 's/^[^ ]*: error: ([^ :]+) \(maxpool\): .*/\1/p' err.txt)
"$netrun" check --set "$path=relu" misfit.yaml >/dev/null 2>&1; s1=$?
"$netrun" check --set "$path.maxpool={size: 2, stride: 2}" misfit.yaml >/dev/null 2>&1; s2=$?
if [[ $status == 2 && $path == "network.layers[3].repeat.layers[1]" && $s1$s2 == 00 ]]; then ok
else fail "graph error path back into --set: exit $status '$path' $s1 $s2: $(cat err.txt)"; fi

# --- a bad index: one line pointing at its column, exit 2
expect_error_at not-a-number "--set network.layers[x].conv.filters=3:1:16: error: " "got 'x'" -- \
  check --set 'network.layers[x].conv.filters=3' "$ex2"
expect_error_at negative "--set network.layers[-1]=relu:1:16: error: negative index [-1]" "" -- \
  check --set 'network.layers[-1]=relu' "$ex2"
expect_error_at unclosed "--set network.layers[0.conv.filters=3:1:15: error: '[' is not closed" "" -- \
  check --set 'network.layers[0.conv.filters=3' "$ex2"
expect_error_at empty "--set network.layers[]=relu:1:16: error: empty index []" "" -- \
  check --set 'network.layers[]=relu' "$ex2"
expect_error_at out-of-range "--set network.layers[10]=relu:1:16: error: " \
  "index 10 is out of range: network.layers has 10 items (0 to 9)" -- check --set 'network.layers[10]=relu' "$ex2"
expect_error_at nested-out-of-range "--set network.layers[2].residual.layers[2]=relu:1:35: error: " \
  "network.layers[2].residual.layers has 2 items" -- check --set 'network.layers[2].residual.layers[2]=relu' nested.yaml
expect_error_at on-a-map "--set train[0].epochs=3:1:6: error: " "train is a map, not a list" -- \
  check --set 'train[0].epochs=3' "$ex2"
expect_error_at on-a-layer "--set network.layers[0][1]=3:1:18: error: " "network.layers[0] is a layer, not a list" -- \
  check --set 'network.layers[0][1]=3' "$ex2"
expect_error_at diff-moved "--set network.layers[6->8].conv.filters=3:1:16: error: " "give one index: [6] or [8]" -- \
  check --set 'network.layers[6->8].conv.filters=3' "$ex2"
expect_error_at value-after-bracket "--set network.layers[0].conv.filters=0:1:32: error: network.layers[0].conv.filters: " \
  "expected an integer" -- check --set 'network.layers[0].conv.filters=0' "$ex2"

# --- --sweep takes the same paths; brackets in the key are not the value's
mkdir sweep && cd sweep || exit 1
"$netrun" ../nested.yaml --sweep 'network.layers[0].conv.filters=3,5' \
  --sweep 'network.layers[2].residual.layers.0.conv.filters=4,6' --out grid >out.txt 2>err.txt; status=$?
got=""
for k in 1 2 3 4; do
  got+="$(sed -n 's/.*conv: {filters: \([0-9]*\).*/\1/p' "grid/nested-$k/resolved.yaml" 2>/dev/null | head -2 | tr '\n' ' ');"
done
if [[ $status == 0 && $got == "3 4 ;3 6 ;5 4 ;5 6 ;" ]]; then ok
else fail "sweep over [N] paths: exit $status, filters '$got': $(tail -3 err.txt)"; fi
expect_error_at sweep-out-of-range "--set network.layers[9].conv.filters=3:1:16: error: index 9 is out of range" "" -- \
  ../nested.yaml --sweep 'network.layers[9].conv.filters=3,5'
# the two spellings of one key are one key
expect_error_at sweep-twice-mixed "netrun: error: --sweep 'network.layers.0.conv.filters=4'" "swept twice" -- \
  ../nested.yaml --sweep 'network.layers[0].conv.filters=3,5' --sweep 'network.layers.0.conv.filters=4'

cli_finish
