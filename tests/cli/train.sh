#!/usr/bin/env bash
# CLI end-to-end: training on tiny synthetic datasets (tools/synth/netrun-synth),
# the run folder contract of netrun/run.h, determinism, `netrun eval`, the
# reference backend, default run folders, and exit status 2 with one error
# line for bad data and output folders.
# usage: tests/cli/train.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init train "${1:-}"
need_tools "$synth"

# field FILE COLUMN: the named column of a CSV file's last row
field() {
  awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                        { v = $c } END { print v }' "$1"
}

# at_least A B: A >= B (numbers)
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# batches_numbered FILE N: rows after the header are epoch e, batch 1..N, in order
batches_numbered() {
  awk -F, -v n="$2" 'NR > 1 { if ($1 != int((NR - 2) / n) + 1 || $2 != (NR - 2) % n + 1) exit 1 }' "$1"
}

# tree_digest DIR: name, type, size, mode and mtime of everything under DIR,
# and a checksum of the files' contents
tree_digest() {
  (cd "$1" && find . -printf '%p %y %s %m %T@\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 -r cat | cksum)
}

# --- the synthetic data: 3 classes of 12x12 gray, 60 train / 20 test per class
cd "$tmp" || exit 1
out=$("$synth" gray --classes 3 --size 12x12 --train 60 --test 20 --seed 7 2>&1); status=$?
check "synth gray: $status $out" test "$status" = 0
check "synth gray: 180 train images" test "$(find gray/Train -name '*.png' | wc -l)" = 180
check "synth gray: 60 test images" test "$(find gray/Test -name '*.png' | wc -l)" = 60
check "synth gray: classes 0 1 2" test "$(names gray/Train)" = "0 1 2 "
check "synth gray: no temporary folder left" test -z "$(find . -maxdepth 1 -name '*.tmp-*')"
"$synth" gray2 --classes 3 --size 12x12 --train 60 --test 20 --seed 7 >/dev/null
check "synth: same seed, same files" diff -r gray gray2
"$synth" gray3 --classes 3 --size 12x12 --train 60 --test 20 --seed 8 >/dev/null
check "synth: another seed, other files" test -n "$(cmp gray/Train/0/0000.png gray3/Train/0/0000.png)"
"$synth" gray >/dev/null 2>"$tmp/stderr"; status=$?
check "synth: existing OUT refused with exit 2" test "$status" = 2
check "synth: existing OUT: one line" test "$(wc -l <"$tmp/stderr")" = 1
check "synth: existing OUT: message" grep -q '^netrun-synth: error: gray: already exists' "$tmp/stderr"
"$synth" bad --channels 2 >/dev/null 2>"$tmp/stderr"; status=$?
check "synth: --channels 2 exit 2" test "$status" = 2
check "synth: --channels 2 one line" test "$(wc -l <"$tmp/stderr")" = 1
check "synth: --channels 2 leaves nothing" test ! -e bad
check "synth --help" grep -q "usage: netrun-synth OUT" <<<"$("$synth" --help)"

cnn_spec() {  # cnn_spec FILE NAME DATA: a small CNN over DATA (relative paths)
  cat >"$1" <<EOF
# small CNN for the synthetic bars
name: $2
seed: 3
data:
  train: $3/Train
  test: $3/Test
network:
  input: [1, 12, 12]
  layers:
    - conv: {filters: 6, size: 3, stride: 1, pad: 1}
    - relu
    - maxpool: {size: 2, stride: 2}
    - dense: {units: 3}
    - softmax
train:
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  batch_size: 16
  epochs: 4
EOF
}
mkdir specs
cnn_spec specs/cnn.yaml tiny_cnn ../gray
epochs=4 batch=16 train_images=180

# --- train: exit 0, >= 95% test accuracy, the run folder
out=$("$netrun" specs/cnn.yaml --out "$tmp/run1" 2>"$tmp/stderr"); status=$?
check "train cnn: exit $status: $(cat "$tmp/stderr")" test "$status" = 0
check "train cnn: final line names the run folder" grep -q "run folder $tmp/run1" <<<"$out"
acc=$(field run1/history.csv test_acc)
check "train cnn: test accuracy $acc >= 0.95" at_least "$acc" 0.95
check "run folder: spec.yaml byte-identical" cmp -s specs/cnn.yaml run1/spec.yaml
"$netrun" check specs/cnn.yaml >"$tmp/check.spec"; status=$?
check "check spec: exit $status" test "$status" = 0
"$netrun" check run1/resolved.yaml >"$tmp/check.resolved"; status=$?
check "check resolved.yaml: exit $status" test "$status" = 0
check "resolved.yaml: same table as the spec" diff <(tail -n +2 "$tmp/check.spec") <(tail -n +2 "$tmp/check.resolved")
check "resolved.yaml: defaults written out" grep -q "shuffle: true" run1/resolved.yaml
total=$(grep '^total: ' "$tmp/check.spec")
params=$(sed -E 's/^total: ([0-9,]+) learnable.*/\1/; s/,//g' <<<"$total")
check "check: parameter total '$params'" test "$params" = 711
check "summary.txt: parameter total" grep -qF "$total" run1/summary.txt
check "summary.txt: machine-readable params: $params" grep -qx "params: $params" run1/summary.txt
check "summary.txt: final results" grep -q "final test accuracy: " run1/summary.txt
# the startup time: a number, below the whole run's wall time, and the first
# batch done after training started
startup=$(sed -E -n "s/^startup: ([0-9.]+) s from the command's start to the first training batch .*; first batch done at ([0-9.]+) s$/\1 \2/p" run1/summary.txt)
check "summary.txt: startup and first batch times" test -n "$startup"
check "summary.txt: 0 < startup <= first batch < 60 s" awk -v s="${startup% *}" -v f="${startup#* }" 'BEGIN { exit !(s > 0 && s <= f && f < 60) }'
check "history.csv: header" test "$(head -1 run1/history.csv)" = "epoch,train_cost,train_acc,test_cost,test_acc,lr,seconds"
check "history.csv: one row per epoch" test "$(tail -n +2 run1/history.csv | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 4 "
check "history.csv: 7 fields per row" awk -F, 'NF != 7 { exit 1 }' run1/history.csv
check "history.csv: lr column" test "$(field run1/history.csv lr)" = 0.1
check "batches.csv: header" test "$(head -1 run1/batches.csv)" = "epoch,batch,cost,acc"
per_epoch=$(( (train_images + batch - 1) / batch ))
rows=$(tail -n +2 run1/batches.csv | wc -l)
check "batches.csv: $rows rows, expected $((epochs * per_epoch))" test "$rows" = $((epochs * per_epoch))
check "batches.csv: batches 1..$per_epoch of each epoch" batches_numbered run1/batches.csv "$per_epoch"
size=$(stat -c %s run1/weights.bin)
# header 40, model section 33 (shape 12, pixel scale and shift 8, class
# count 4, the names '0' '1' '2' with their 2-byte lengths 9), parameters,
# checksum 8
check "weights.bin: $size bytes, expected $((40 + 33 + 4 * params + 8))" test "$size" = $((40 + 33 + 4 * params + 8))
check "weights.bin: magic" test "$(head -c 8 run1/weights.bin)" = NRWEIGHT
check "run folder: exactly the documented files" test "$(names run1)" = "batches.csv checkpoint.bin confusion.csv confusion.png curves.png curves.svg history.csv metrics.csv misclassified.csv misclassified.png resolved.yaml spec.yaml summary.txt weights.bin "
# the confusion matrix counts every test image once; its diagonal is the accuracy
test_images=60
total=$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) s += $i } END { print s }' run1/confusion.csv)
diagonal=$(awk -F, 'NR > 1 { s += $(NR) } END { print s }' run1/confusion.csv)
check "confusion.csv: total $total = $test_images test images" test "$total" = "$test_images"
check "confusion.csv: diagonal $diagonal / $test_images = test_acc $acc" \
  within "$(awk -v d="$diagonal" -v n="$test_images" 'BEGIN { print d / n }')" "$acc" 0.00001
check "metrics.csv: accuracy row = test_acc" \
  within "$(awk -F, '$1 == "accuracy" { print $2 }' run1/metrics.csv)" "$acc" 0.00001
check "misclassified.csv: header" test "$(head -1 run1/misclassified.csv)" = "index,file,true,predicted,probability"
check "misclassified.csv: at most one row per class" \
  awk -F, 'NR > 1 { if (seen[$3]++) exit 1 }' run1/misclassified.csv
check "curves.png is a PNG" test "$(head -c 8 run1/curves.png | od -An -c | tr -d ' ')" = '211PNG\r\n032\n'

# --- determinism: same spec, same history but the seconds column
"$netrun" specs/cnn.yaml --out "$tmp/run2" >/dev/null 2>&1
check "determinism: history.csv equal but seconds" diff <(cut -d, -f1-6 run1/history.csv) <(cut -d, -f1-6 run2/history.csv)
check "determinism: batches.csv equal" cmp -s run1/batches.csv run2/batches.csv
check "determinism: weights.bin equal" cmp -s run1/weights.bin run2/weights.bin

# --- eval: the saved weights give the history's final test accuracy and cost
out=$("$netrun" eval specs/cnn.yaml --weights run1/weights.bin 2>"$tmp/stderr"); status=$?
check "eval: exit $status $(cat "$tmp/stderr")" test "$status" = 0
want=$(printf 'test accuracy %.4f (' "$(field run1/history.csv test_acc)")
check "eval: '$out' has '$want'" grep -qF "$want" <<<"$out"
want=$(printf 'test cost %.6f ' "$(field run1/history.csv test_cost)")
check "eval: '$out' has '$want'" grep -qF "$want" <<<"$out"
out=$("$netrun" eval specs/cnn.yaml --weights run1/weights.bin --backend reference 2>&1)
check "eval --backend reference: '$out'" grep -qF "$(printf 'test accuracy %.4f (' "$acc")" <<<"$out"
# weights of another network: a smaller one (4 filters) and a larger one (8)
expect_error eval-other-network "run1/weights.bin" -- \
  eval specs/cnn.yaml --weights run1/weights.bin --set network.layers.0.conv.filters=4
check "eval-other-network (smaller): says so: $(cat "$tmp/stderr")" grep -q "another network" "$tmp/stderr"
expect_error eval-other-network-larger "run1/weights.bin: error: weights are for another network" -- \
  eval specs/cnn.yaml --weights run1/weights.bin --set network.layers.0.conv.filters=8
expect_error eval-not-weights "specs/cnn.yaml" -- eval specs/cnn.yaml --weights specs/cnn.yaml
expect_error eval-no-weights "--weights" -- eval specs/cnn.yaml
# test images of another size than network.input: refused, not read past the end
"$synth" gray10 --classes 3 --size 10x10 --train 2 --test 5 >/dev/null
expect_error eval-image-size "network.input" -- \
  eval specs/cnn.yaml --weights run1/weights.bin --set data.test="$tmp/gray10/Test"

# --- an MLP on RGB images with named classes; network.input from the data
"$synth" rgb --channels 3 --names cat,dog,emu --train 40 --test 15 --seed 2 >/dev/null
check "synth rgb: class folders" test "$(names rgb/Test)" = "cat dog emu "
cat >specs/mlp.yaml <<'EOF'
name: tiny_mlp
data: {train: ../rgb/Train, test: ../rgb/Test}
network:
  layers:
    - dense: {units: 32}
    - relu
    - dense: {units: 3}
    - softmax
train:
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  batch_size: 16
  epochs: 6
EOF
"$netrun" specs/mlp.yaml --out "$tmp/mlp" >/dev/null 2>"$tmp/stderr"; status=$?
check "train mlp rgb: exit $status $(cat "$tmp/stderr")" test "$status" = 0
acc=$(field mlp/history.csv test_acc)
check "train mlp rgb: test accuracy $acc >= 0.95" at_least "$acc" 0.95
check "mlp: input taken from the data" grep -q 'input: \[3, 12, 12\]' mlp/resolved.yaml
check "mlp: summary names the classes' shape" grep -q 'classes: 3, images 3x12x12' mlp/summary.txt
mlp_params=$(sed -E -n 's/^total: ([0-9,]+) learnable.*/\1/p' mlp/summary.txt | tr -d ,)
check "mlp: $mlp_params = 432*32+32 + 32*3+3" test "$mlp_params" = $((432 * 32 + 32 + 32 * 3 + 3))

# --- the reference backend agrees with BLAS to within 0.02
"$netrun" specs/cnn.yaml --backend reference --out "$tmp/ref" >/dev/null 2>"$tmp/stderr"; status=$?
check "train --backend reference: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "reference: one row per epoch" test "$(tail -n +2 ref/history.csv | wc -l)" = "$epochs"
check "reference: test accuracy within 0.02 of blas" \
  within "$(field ref/history.csv test_acc)" "$(field run1/history.csv test_acc)" 0.02
check "reference: summary names the backend" grep -q '^backend: reference' ref/summary.txt

# --- default run folder runs/<name>-<n> in the current folder, never overwritten
mkdir cwd && cd cwd || exit 1
"$netrun" --set train.epochs=1 ../specs/cnn.yaml >/dev/null 2>&1; status1=$?
before=$(tree_digest runs/tiny_cnn-1 2>/dev/null)
"$netrun" --set train.epochs=1 ../specs/cnn.yaml >/dev/null 2>&1; status2=$?
check "default folder: both runs exit 0 ($status1 $status2)" test "$status1$status2" = 00
check "default folder: runs/tiny_cnn-1 and -2" test "$(names runs)" = "tiny_cnn-1 tiny_cnn-2 "
check "default folder: first run untouched" test "$before" = "$(tree_digest runs/tiny_cnn-1)"
check "--set train.epochs=1: one history row" test "$(wc -l <runs/tiny_cnn-2/history.csv)" = 2
check "--set train.epochs=1: in resolved.yaml" grep -q 'epochs: 1$' runs/tiny_cnn-2/resolved.yaml
check "--set train.epochs=1: spec.yaml still the file" cmp -s ../specs/cnn.yaml runs/tiny_cnn-2/spec.yaml
cd "$tmp" || exit 1

# --- --out at a non-empty folder: exit 2, one line, folder unchanged
mkdir full && echo keep >full/note.txt
before=$(tree_digest full)
expect_error out-not-empty "full: error: " -- specs/cnn.yaml --out "$tmp/full"
check "out-not-empty: folder unchanged" test "$before" = "$(tree_digest full)"
expect_error out-two-specs "--out" -- specs/cnn.yaml specs/mlp.yaml --out "$tmp/two"
check "out-two-specs: no folder" test ! -e two

# --- bad data: nothing is created
cnn_spec specs/missing.yaml missing ../nothing
mkdir cwd2 && cd cwd2 || exit 1
expect_error missing-train "$tmp/nothing/Train" -- ../specs/missing.yaml
check "missing-train: no runs folder" test ! -e runs
expect_error missing-train-out "$tmp/nothing/Train" -- ../specs/missing.yaml --out "$tmp/miss"
check "missing-train-out: no run folder" test ! -e "$tmp/miss"
cd "$tmp" || exit 1
"$synth" four --classes 4 --train 5 --test 2 >/dev/null
cnn_spec specs/four.yaml four ../four
expect_error class-count "units: 4" -- specs/four.yaml --out "$tmp/four-run"
check "class-count: no run folder" test ! -e "$tmp/four-run"
expect_error eval-class-count "extra folders '3'" -- eval specs/four.yaml --weights run1/weights.bin

# --- help
help=$("$netrun" --help)
check "--help mentions eval" grep -q 'netrun eval' <<<"$help"
check "--help mentions --backend" grep -q -- '--backend' <<<"$help"

cli_finish
