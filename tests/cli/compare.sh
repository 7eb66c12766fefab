#!/usr/bin/env bash
# CLI end-to-end for comparing runs: `netrun compare` (picture + table, labels
# computed from the resolved specs' differences), `netrun diff` (golden
# outputs on the exercise specs, exit status 0/1/2), sweeps (`--sweep`: the
# grid, every point checked before any trains, the compare table and picture
# at the end), several specs in one call, and `netrun report` (a PDF with the
# expected pages). Tiny synthetic data, a few epochs.
# usage: tests/cli/compare.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init compare "${1:-}"
need_tools "$synth"

# png_size FILE: "WIDTH HEIGHT" from the IHDR chunk, or nothing if FILE is no PNG
png_size() {
  [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || return 0
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}
# png_ok FILE MINW MINH: a PNG at least that large and not tiny in bytes (not blank)
png_ok() {
  local size; size=$(png_size "$1")
  [[ -n $size ]] || return 1
  set -- "$1" "$2" "$3" $size
  (( $4 >= $2 && $5 >= $3 && $(stat -c %s "$1") > 20000 ))
}
# pdf_pages FILE: the number of page objects
pdf_pages() { grep -ao '/Type /Page[^s]' "$1" | wc -l; }
# rows TEXT: table rows (lines after the header up to the "curves" line)
table_rows() { awk '/^run  /{t=1; next} /^curves of /{t=0} t' "$1"; }

cd "$tmp" || exit 1
"$synth" gray --classes 3 --size 8x8 --train 20 --test 8 --seed 5 >/dev/null || fail "synth"
mkdir specs
cat >specs/cnn.yaml <<'EOF'
# tiny CNN: conv, relu, pool
name: tiny
data: {train: ../gray/Train, test: ../gray/Test}
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - relu
    - maxpool
    - dense: {units: 3}
    - softmax
train:
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  batch_size: 16
  epochs: 3
EOF
sed -e 's/^name: tiny/name: tiny_pool/' -e 's/^    - relu$/    - POOL/' -e 's/^    - maxpool$/    - relu/' \
    -e 's/^    - POOL$/    - maxpool/' specs/cnn.yaml >specs/pool.yaml
sed -e 's/^name: tiny/name: tiny_adam/' -e 's/{sgd: {lr: 0.1, momentum: 0.9}}/adam/' specs/cnn.yaml >specs/adam.yaml
check "pool spec swaps relu and maxpool" test "$(grep -c -e '- maxpool' -e '- relu' specs/pool.yaml)" = 2

# --- several specs in one call: each trains, then the compare table and picture
mkdir multi && cd multi || exit 1
"$netrun" ../specs/cnn.yaml ../specs/pool.yaml ../specs/adam.yaml >"$tmp/out" 2>"$tmp/err"; status=$?
cd "$tmp" || exit 1
check "several specs: exit $status $(tail -2 "$tmp/err")" test "$status" = 0
check "several specs: run folders" test "$(names multi/runs)" = "compare-tiny-1.png tiny-1 tiny_adam-1 tiny_pool-1 "
table_rows "$tmp/out" >"$tmp/rows"
check "several specs: 3 table rows" test "$(wc -l <"$tmp/rows")" = 3
check "several specs: label of the first" grep -q '^tiny: optimizer=sgd  ' "$tmp/rows"
check "several specs: label names the swapped layers" \
  grep -q '^tiny_pool: network.layers\[1..2\] differ, optimizer=sgd  ' "$tmp/rows"
check "several specs: label names the optimizer" grep -q '^tiny_adam: optimizer=adam  ' "$tmp/rows"
check "several specs: picture named" grep -q 'curves of the 3 runs: runs/compare-tiny-1.png' "$tmp/out"
check "several specs: compare picture" png_ok multi/runs/compare-tiny-1.png 800 400

# --- compare: the picture, the table
out=$("$netrun" compare multi/runs/tiny-1 multi/runs/tiny_pool-1 -o "$tmp/two.png" 2>"$tmp/err"); status=$?
check "compare: exit $status $(cat "$tmp/err")" test "$status" = 0
check "compare: nothing on stderr" test ! -s "$tmp/err"
check "compare: picture $(png_size two.png)" png_ok two.png 800 400
printf '%s\n' "$out" >"$tmp/out"
table_rows "$tmp/out" >"$tmp/rows"
check "compare: header" grep -q '^run  .*final test  best test (epoch)  *params  training time  folder$' "$tmp/out"
check "compare: 2 rows" test "$(wc -l <"$tmp/rows")" = 2
check "compare: labels from the differences" \
  test "$(sed -E 's/  .*//' "$tmp/rows")" = "tiny
tiny_pool: network.layers[1..2] differ"
acc=$(awk -F, 'END { printf "%.2f%%", 100 * $5 }' multi/runs/tiny-1/history.csv)
check "compare: final accuracy $acc of history.csv" grep -q "^tiny  .* $acc " "$tmp/rows"
params=$(sed -n -E 's/^params: ([0-9]+)$/\1/p' multi/runs/tiny-1/summary.txt)
grouped=$(sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$params")
check "compare: parameters $grouped (summary.txt's params: '$params')" \
  grep -q "^tiny  .* ${grouped:-none} " "$tmp/rows"
check "compare: folder column" grep -q ' multi/runs/tiny_pool-1$' "$tmp/rows"
# the default picture is compare.png in the current folder
(cd multi && "$netrun" compare runs/tiny-1 runs/tiny_adam-1 >/dev/null 2>&1); status=$?
check "compare: default compare.png (exit $status)" png_ok multi/compare.png 800 400
expect_error compare-not-a-run "specs: error: not a run folder" -- compare multi/runs/tiny-1 specs
expect_error compare-nothing "no run folder given" -- compare
check "compare-nothing: no picture" test ! -e compare.png

# --- diff: golden outputs and exit status
ex=$src/specs
"$netrun" diff "$ex/ex2_cnn.yaml" "$ex/ex4_adam.yaml" >"$tmp/out" 2>"$tmp/err"; status=$?
check "diff ex2 ex4: exit 1 ($status) $(cat "$tmp/err")" test "$status" = 1
cat >"$tmp/want" <<'EOF'
train.optimizer: sgd{lr: 0.05, momentum: 0.0, nesterov: false, weight_decay: 0} -> adam{lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1.0e-8, weight_decay: 0}
name: ex2_cnn -> ex4_adam
description: Exercise 2 - three 3x3 convolutions, ReLU before max pooling, SGD. -> Exercise 4 - the Exercise 2 network with the Adam optimizer.
EOF
check "diff ex2 ex4: golden output" diff "$tmp/want" "$tmp/out"
"$netrun" diff "$ex/ex2_cnn.yaml" "$ex/ex3a_pool_relu.yaml" >"$tmp/out" 2>"$tmp/err"; status=$?
check "diff ex2 ex3a: exit 1 ($status)" test "$status" = 1
cat >"$tmp/want" <<EOF
network.layers[1]: relu -> maxpool{size: 2, stride: 2}
network.layers[2]: maxpool{size: 2, stride: 2} -> relu
network.layers[4]: relu -> maxpool{size: 2, stride: 2}
network.layers[5]: maxpool{size: 2, stride: 2} -> relu
name: ex2_cnn -> ex3a_pool_relu
description: Exercise 2 - three 3x3 convolutions, ReLU before max pooling, SGD. -> Exercise 3a - max pooling before ReLU, SGD.

layers (- $ex/ex2_cnn.yaml, + $ex/ex3a_pool_relu.yaml; # as in netrun check):
  #        layer                              output             params
- 2        relu                               8x28x28                 0
+ 2        maxpool 2x2 s2                     8x14x14                 0
- 3        maxpool 2x2 s2                     8x14x14                 0
+ 3        relu                               8x14x14                 0
- 5        relu                               16x14x14                0
+ 5        maxpool 2x2 s2                     16x7x7                  0
- 6        maxpool 2x2 s2                     16x7x7                  0
+ 6        relu                               16x7x7                  0
  total: 21,578 -> 21,578 learnable parameters, 523,712 -> 523,712 forward MACs per example
EOF
check "diff ex2 ex3a: golden output" diff "$tmp/want" "$tmp/out"
# the same spec with lr (and momentum) written out at their defaults: equal
sed 's/optimizer: {sgd: {lr: 0.1, momentum: 0.9}}/optimizer: {sgd: {lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 0.0}}/' \
  specs/cnn.yaml >specs/cnn_explicit.yaml
sed 's/optimizer: {sgd: {lr: 0.1, momentum: 0.9}}/optimizer: sgd/' specs/cnn.yaml >specs/cnn_default.yaml
sed 's/optimizer: {sgd: {lr: 0.1, momentum: 0.9}}/optimizer: {sgd: {lr: 0.01}}/' specs/cnn.yaml >specs/cnn_lr.yaml
check "explicit spec differs in text" test -n "$(cmp specs/cnn.yaml specs/cnn_explicit.yaml)"
out=$("$netrun" diff specs/cnn.yaml specs/cnn_explicit.yaml 2>&1); status=$?
check "diff defaults written out: exit 0 ($status) and no output '$out'" test "$status$out" = 0
out=$("$netrun" diff specs/cnn_default.yaml specs/cnn_lr.yaml 2>&1); status=$?
check "diff lr left out vs lr: 0.01: exit 0 ($status) '$out'" test "$status$out" = 0
out=$("$netrun" diff specs/cnn.yaml multi/runs/tiny-1/resolved.yaml 2>&1); status=$?
check "diff spec vs its run's resolved.yaml: exit 0 ($status) '$out'" test "$status$out" = 0
expect_error diff-missing "nothing.yaml: error: cannot read spec" -- diff specs/cnn.yaml specs/nothing.yaml
expect_error diff-one "diff takes two specs" -- diff specs/cnn.yaml
printf 'name: bad\ndata: {train: T, test: E}\nnetwork: {layers: [relu]}\ntrain: {epoch: 3}\n' >specs/bad.yaml
expect_error diff-bad-spec "specs/bad.yaml:4:9: error: unknown key 'epoch'" -- diff specs/cnn.yaml specs/bad.yaml

# --- a 2x2 sweep into --out DIR
"$netrun" specs/cnn.yaml --set train.epochs=2 --sweep train.optimizer.sgd.lr=0.01,0.1 \
  --sweep train.batch_size=8,16 --out "$tmp/grid" >"$tmp/out" 2>"$tmp/err"; status=$?
check "sweep 2x2: exit $status $(tail -2 "$tmp/err")" test "$status" = 0
check "sweep 2x2: four run folders and the picture" test "$(names grid)" = "compare.png tiny-1 tiny-2 tiny-3 tiny-4 "
want="0.01 8;0.01 16;0.1 8;0.1 16;"
got=""
for k in 1 2 3 4; do
  got+="$(sed -n 's/^    sgd: {lr: \([^,]*\),.*/\1/p' grid/tiny-$k/resolved.yaml) $(sed -n 's/^  batch_size: //p' grid/tiny-$k/resolved.yaml);"
done
check "sweep 2x2: grid points in order ('$got')" test "$got" = "$want"
check "sweep 2x2: --set applies to every point" test "$(cat grid/tiny-*/history.csv | grep -c '^2,')" = 4
table_rows "$tmp/out" >"$tmp/rows"
check "sweep 2x2: 4 table rows" test "$(wc -l <"$tmp/rows")" = 4
check "sweep 2x2: labels" test "$(sed -E 's/  .*//' "$tmp/rows")" = "tiny: lr=0.01, batch_size=8
tiny: lr=0.01, batch_size=16
tiny: lr=0.1, batch_size=8
tiny: lr=0.1, batch_size=16"
check "sweep 2x2: compare picture" png_ok grid/compare.png 800 400
check "sweep 2x2: progress names the points" grep -q 'sweep point 4/4 of specs/cnn.yaml: train.optimizer.sgd.lr=0.1, train.batch_size=16' "$tmp/err"
out=$("$netrun" diff specs/cnn.yaml grid/tiny-1/resolved.yaml 2>&1); status=$?
check "diff spec vs sweep point: exit 1 ($status)" test "$status" = 1
check "diff spec vs sweep point: the swept values" test "$(grep -v '^$' <<<"$out")" = "train.optimizer.sgd.lr: 0.1 -> 0.01
train.batch_size: 16 -> 8
train.epochs: 3 -> 2"
expect_error sweep-out-not-empty "grid: error: the sweep folder exists and is not empty" -- \
  specs/cnn.yaml --sweep train.epochs=1,2 --out "$tmp/grid"

# --- a sweep into the default runs folder: runs/<name>-<n>, runs/compare-<name>-<n>.png
mkdir one && cd one || exit 1
"$netrun" ../specs/cnn.yaml --set train.epochs=1 --sweep 'train.optimizer.sgd.lr=0.05, 0.2' >"$tmp/out" 2>"$tmp/err"; status=$?
cd "$tmp" || exit 1
check "sweep default folder: exit $status" test "$status" = 0
check "sweep default folder: runs" test "$(names one/runs)" = "compare-tiny-1.png tiny-1 tiny-2 "
check "sweep default folder: value after ', '" grep -q 'lr: 0.2,' one/runs/tiny-2/resolved.yaml

# --- bad sweeps fail before anything trains, and leave nothing behind
mkdir bad && cd bad || exit 1
expect_error sweep-bad-value "--set train.optimizer.sgd.lr=-1:1:24: error: train.optimizer.sgd.lr: expected a number > 0" -- \
  ../specs/cnn.yaml --sweep train.optimizer.sgd.lr=0.1,-1
check "sweep-bad-value: no runs folder" test ! -e runs
expect_error sweep-bad-second-axis "--set train.batch_size=0" -- \
  ../specs/cnn.yaml --sweep train.optimizer.sgd.lr=0.1,0.2 --sweep train.batch_size=8,0
expect_error sweep-bracket-value "--set network.input=[1,8]:" -- \
  ../specs/cnn.yaml --sweep 'network.input=[1,8,8],[1,8]'
expect_error sweep-bad-key "unknown key 'lrr'" -- ../specs/cnn.yaml --sweep train.optimizer.sgd.lrr=1,2
expect_error sweep-no-equals "--sweep 'lr': expected KEY=V1,V2" -- ../specs/cnn.yaml --sweep lr
expect_error sweep-empty-value "an empty value" -- ../specs/cnn.yaml --sweep 'train.epochs=1,,2'
expect_error sweep-open-bracket "a bracket is not closed" -- ../specs/cnn.yaml --sweep 'network.input=[1,8,8'
expect_error sweep-twice "train.epochs is swept twice" -- ../specs/cnn.yaml --sweep train.epochs=1 --sweep train.epochs=2
expect_error sweep-check "--sweep is for training" -- check ../specs/cnn.yaml --sweep train.epochs=1,2
expect_error several-bad-spec "specs/bad.yaml:4:9: error" -- ../specs/cnn.yaml ../specs/bad.yaml
check "bad sweeps and specs: nothing trained, no runs folder" test ! -e runs
cd "$tmp" || exit 1

# --- report: one PDF, A4 pages
out=$("$netrun" report grid/tiny-1 grid/tiny-4 -o "$tmp/rep.pdf" 2>"$tmp/err"); status=$?
check "report: exit $status $(cat "$tmp/err")" test "$status" = 0
check "report: a PDF" test "$(head -c 5 rep.pdf)" = "%PDF-"
pages=$(pdf_pages rep.pdf)
check "report: overview + 2 pages per run = 5 ($pages)" test "$pages" = 5
check "report: says '$out'" test "$out" = "$tmp/rep.pdf: 5 pages, 2 runs"
check "report: A4 media box" grep -aq 'MediaBox \[ *0 0 595.27[0-9]* 841.8[0-9]* *\]' rep.pdf
check "report: pictures embedded" test "$(grep -ac '/Subtype /Image' rep.pdf)" -ge 7
check "report: no temporary file left" test -z "$(find . -maxdepth 1 -name '.rep.pdf.tmp-*')"
out=$("$netrun" report multi/runs/tiny_adam-1 -o one.pdf 2>&1); status=$?
check "report one run: 2 pages ($status '$out')" test "$status $(pdf_pages one.pdf)" = "0 2"
(cd multi && "$netrun" report runs/tiny-1 >/dev/null 2>&1); status=$?
check "report: default report.pdf ($status)" test "$(head -c 5 multi/report.pdf 2>/dev/null)" = "%PDF-"
expect_error report-not-a-run "gray: error: not a run folder" -- report grid/tiny-1 gray -o bad.pdf
check "report-not-a-run: no PDF" test ! -e bad.pdf
expect_error report-unwritable "nowhere/r.pdf: error: cannot write" -- report grid/tiny-1 -o "$tmp/nowhere/r.pdf"

# --- help
help=$("$netrun" --help)
check "--help mentions compare" grep -q 'netrun compare RUN_DIR' <<<"$help"
check "--help mentions diff" grep -q 'netrun diff A.yaml B.yaml' <<<"$help"
check "--help mentions report" grep -q 'netrun report RUN_DIR' <<<"$help"
check "--help mentions --sweep" grep -q -- '--sweep KEY=V1,V2' <<<"$help"

cli_finish
