#!/usr/bin/env bash
# CLI end-to-end: `netrun predict MODEL IMAGE_OR_FOLDER... [-o FILE.csv]
# [--top K]` on a tiny model trained on synthetic data: a Test folder of
# class folders gives exactly `netrun eval`'s accuracy and confusion matrix;
# one line per image with --top pairs; the CSV's columns and rows (quoted
# paths, one row per image predicted) and its confusion files; a broken PNG
# and an image of another shape among good ones are named while the others
# are predicted (exit 2); a run folder and a weights file as MODEL; images
# given as files; the refused command lines.
# usage: tests/cli/predict.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init predict "${1:-}"
need_tools "$synth" "$pngcraft"

cd "$tmp" || exit 1
"$synth" bars --classes 4 --size 12x12 --train 40 --test 15 --seed 5 >/dev/null &&
  "$synth" rgb --classes 2 --size 12x12 --channels 3 --train 1 --test 1 >/dev/null &&
  "$synth" big --classes 2 --size 16x16 --train 1 --test 1 >/dev/null ||
  { fail "netrun-synth"; cli_finish; exit 1; }
cat >tiny.yaml <<'EOF'
name: tiny
seed: 2
data: {train: bars/Train, test: bars/Test}
network:
  layers:
    - conv: {filters: 4, size: 3, pad: 1}
    - relu
    - maxpool: {size: 2, stride: 2}
    - dense: {units: 4}
train:
  optimizer: {adam: {lr: 0.01}}
  batch_size: 16
  epochs: 2
EOF
"$netrun" tiny.yaml --out run >/dev/null 2>"$tmp/stderr"; status=$?
check "train the tiny model: exit $status $(tail -2 "$tmp/stderr")" test "$status" = 0

# --- a Test folder of class folders: eval's accuracy exactly
eval_line=$("$netrun" eval tiny.yaml --weights run/weights.bin)
eval_correct=$(sed -n 's|.*(\([0-9]*\)/60)$|\1|p' <<<"$eval_line")
check "eval: $eval_line" test -n "$eval_correct"
# the checks below need right and wrong predictions both
check "the tiny model gets some right, some wrong: $eval_line" test "${eval_correct:-0}" -gt 0 -a "${eval_correct:-60}" -lt 60
"$netrun" predict run bars/Test >out.txt 2>"$tmp/stderr"; status=$?
check "predict Test: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "predict Test: one line per image + accuracy + matrix" test "$(grep -c '^bars/Test/' out.txt)" = 60
percent=$(awk -v c="$eval_correct" 'BEGIN { printf "%.2f%%", 100 * c / 60 }')
check "predict Test: accuracy = eval's ($eval_line): $(grep accuracy out.txt)" \
  grep -qx "accuracy: $percent ($eval_correct of 60 images in class folders)" out.txt
check "predict Test: stderr is the timing line: $(cat "$tmp/stderr")" \
  grep -qx 'netrun: predicted 60 images in [0-9.]* s (model loaded in [0-9.]* s)' "$tmp/stderr"
check "predict Test: one stderr line" test "$(wc -l <"$tmp/stderr")" = 1
# the lines: path, predicted, p, the top 3 pairs (the predicted first), the
# true class when wrong; sorted as the loader sorts
line='^bars/Test/[0-3]/00[0-9][0-9]\.png  [0-3]  [01]\.[0-9]{4}   top 3:(  [0-3] [01]\.[0-9]{4}){3}(  \(true [0-3]\))?$'
check "predict Test: line format: $(head -1 out.txt)" \
  test "$(grep -cE "$line" out.txt)" = 60
check "predict Test: sorted" diff <(grep '^bars/' out.txt | cut -d' ' -f1) <(find bars/Test -name '*.png' | sort)
check "predict Test: top pair 1 is the prediction" \
  test "$(grep '^bars/' out.txt | awk '$2 != $6 || $3 != $7' | wc -l)" = 0
check "predict Test: (true X) on the wrong ones only" \
  test "$(grep '^bars/' out.txt | awk '{ split($1, p, "/") } ($2 != p[3]) != /true/' | wc -l)" = 0
check "predict Test: wrong = 60 - correct" \
  test "$(grep -c '(true ' out.txt)" = $((60 - eval_correct))
# the confusion matrix printed (no file written): 4 rows,
# its trace is eval's count, and it is the run's confusion.csv
check "predict Test: matrix header" grep -qE '^true\\predicted +0 +1 +2 +3$' out.txt
awk '/^true\\predicted/ { on = 1; next } on && NF == 5' out.txt >matrix.txt
check "predict Test: 4 rows" test "$(wc -l <matrix.txt)" = 4
check "predict Test: trace = eval's correct" \
  test "$(awk '{ t += $($1 + 2) } END { print t }' matrix.txt)" = "$eval_correct"
check "predict Test: = the run's confusion.csv" \
  diff <(tr -s ' ' ',' <matrix.txt) <(tail -n +2 run/confusion.csv)
check "predict Test: no file written" test -z "$(find . -maxdepth 1 -name '*.csv' -o -maxdepth 1 -name '*.png')"

# --- -o FILE.csv: columns, rows, quoting, confusion files beside
mkdir 'odd, "name"' && cp bars/Test/2/0003.png 'odd, "name"/x.png'
"$netrun" predict run bars/Test 'odd, "name"' -o pred.csv >out2.txt 2>"$tmp/stderr"; status=$?
check "-o: exit $status $(cat "$tmp/stderr")" test "$status" = 0
check "-o: header" test "$(head -1 pred.csv)" = "path,predicted,p,0,1,2,3"
check "-o: 61 rows" test "$(wc -l <pred.csv)" = 62
check "-o: a path with a comma and quotes is quoted" \
  grep -qxE '"odd, ""name""/x\.png",[0-3],[0-9.e-]+(,[0-9.e-]+){4}' pred.csv
check "-o: 7 fields per row" \
  test "$(grep '^bars/' pred.csv | awk -F, 'NF != 7' | wc -l)" = 0
check "-o: p is the predicted class's column" \
  test "$(grep '^bars/' pred.csv | awk -F, '$3 != $($2 + 4)' | wc -l)" = 0
check "-o: probabilities sum to 1" \
  test "$(grep '^bars/' pred.csv | awk -F, '{ s = $4 + $5 + $6 + $7; if (s < 0.9999 || s > 1.0001) print }' | wc -l)" = 0
check "-o: the printed lines agree" \
  diff <(grep '^bars/' out2.txt | awk '{ print $1 "," $2 }') <(grep '^bars/' pred.csv | cut -d, -f1,2)
check "-o: accuracy of the class folders only: $(grep accuracy out2.txt)" \
  grep -qx "accuracy: $percent ($eval_correct of 60 images in class folders)" out2.txt
check "-o: confusion files named" grep -qx 'confusion matrix: pred.confusion.csv, pred.confusion.png' out2.txt
check "-o: pred.confusion.csv = the run's" diff pred.confusion.csv run/confusion.csv
check "-o: pred.confusion.png" test -s pred.confusion.png
check "-o: no temporary file left" test -z "$(find . -maxdepth 1 -name '.*tmp*')"
# a folder outside class folders: predicted only, no accuracy, no confusion file
"$netrun" predict run 'odd, "name"' -o odd.csv >out3.txt 2>/dev/null; status=$?
check "-o outside class folders: exit $status" test "$status" = 0
check "-o outside class folders: no accuracy" test "$(grep -c 'accuracy\|confusion' out3.txt)" = 0
check "-o outside class folders: no confusion file" test ! -e odd.confusion.csv
check "-o outside class folders: one row" test "$(wc -l <odd.csv)" = 2

# --- many classes: the most frequent confusions instead of the table
"$synth" many --classes 24 --size 20x20 --train 10 --test 3 --seed 3 >/dev/null
sed -e 's/name: tiny/name: many/' -e 's#bars/#many/#g' -e 's/units: 4/units: 24/' tiny.yaml >many.yaml
"$netrun" many.yaml --out many_run >/dev/null 2>&1
"$netrun" predict many_run many/Test >many.txt 2>/dev/null; status=$?
check "24 classes: exit $status" test "$status" = 0
list=$(grep '^most frequent confusions (true -> predicted: images; the whole 24x24 matrix: -o FILE.csv):' many.txt)
check "24 classes: the confusions line: $(tail -2 many.txt)" test -n "$list"
check "24 classes: no table" test "$(grep -c 'true\\predicted' many.txt)" = 0
counts=$(sed 's/^[^)]*)://' <<<"$list" | tr ',' '\n' | sed 's/.*: //')
check "24 classes: at most 10, largest first: $counts" \
  test "$(wc -l <<<"$counts")" -le 10 -a "$(sort -rn <<<"$counts")" = "$counts"
check "24 classes: no true = predicted pair" \
  test "$(sed 's/^[^)]*)://' <<<"$list" | tr ',' '\n' | awk '$1 == $3' | wc -l)" = 0
"$netrun" predict many_run many/Test -o many.csv >/dev/null 2>&1
check "24 classes: -o: the 24x24 matrix" test "$(wc -l <many.confusion.csv)" = 25

# --- --top
"$netrun" predict run bars/Test/1/0000.png --top 1 >top1.txt 2>/dev/null
check "--top 1: $(cat top1.txt)" grep -qE '^bars/Test/1/0000\.png  [0-3]  [01]\.[0-9]{4}   top 1:  [0-3] [01]\.[0-9]{4}' top1.txt
"$netrun" predict run bars/Test/1/0000.png --top 9 >top9.txt 2>/dev/null
check "--top 9 of 4 classes: 4 pairs: $(cat top9.txt)" grep -qE 'top 4:(  [0-3] [01]\.[0-9]{4}){4}' top9.txt
check "--top 9: every class once" \
  test "$(head -1 top9.txt | sed 's/.*top 4://' | awk '{ print $1, $3, $5, $7 }' | tr ' ' '\n' | sort | tr -d '\n')" = "0123"
check "--top 9: descending after the first" \
  test "$(head -1 top9.txt | sed 's/.*top 4://' | awk '{ print ($2 >= $4 && $4 >= $6 && $6 >= $8) }')" = 1

# --- images that cannot be used: named, the others predicted, exit 2
mkdir -p mixed/3
cp bars/Test/3/000[0-5].png mixed/3/
"$pngcraft" truncated mixed/3/0002b.png 12 12 >/dev/null
cp rgb/Test/0/0000.png mixed/3/0003rgb.png
cp big/Test/0/0000.png mixed/3/0004big.png
echo notes >mixed/3/notes.txt
"$netrun" predict run mixed -o mixed.csv >out4.txt 2>"$tmp/stderr"; status=$?
check "broken among good: exit 2 (was $status)" test "$status" = 2
check "broken among good: the 6 good ones predicted" test "$(grep -c '^mixed/3/' out4.txt)" = 6
check "broken among good: CSV rows of the 6" test "$(wc -l <mixed.csv)" = 7
check "broken among good: truncated named: $(cat "$tmp/stderr")" grep -q '^mixed/3/0002b\.png: error: ' "$tmp/stderr"
check "broken among good: RGB named with what the model takes" \
  grep -qx 'mixed/3/0003rgb\.png: error: the image is 3x12x12 (RGB, 12x12 pixels) but the model takes 1x12x12 (gray, 12x12 pixels) images (channels x height x width; images are resized and converted only by the spec.s data\.size and data.channels)' "$tmp/stderr"
check "broken among good: 16x16 named" grep -q '^mixed/3/0004big\.png: error: the image is 1x16x16' "$tmp/stderr"
check "broken among good: notes.txt is no image, not read" test "$(grep -c notes "$tmp/stderr")" = 0
check "broken among good: count line" grep -qx 'netrun: 3 of 9 images could not be used (named above)' "$tmp/stderr"
check "broken among good: accuracy over the 6" grep -qE '^accuracy: [0-9.]+% \([0-6] of 6 images in class folders\)$' out4.txt

# --- MODEL: a weights file with resolved.yaml beside; images given as files
"$netrun" predict run/weights.bin bars/Test/0/0001.png bars/Test/2/0002.png >out5.txt 2>/dev/null; status=$?
check "weights file: exit $status" test "$status" = 0
check "weights file: the same lines as the run folder" \
  diff <(grep '^bars' out5.txt) <(grep -E '^bars/Test/(0/0001|2/0002)\.png ' out.txt)
check "files in class folders: accuracy of 2" grep -qE '^accuracy: .* of 2 images in class folders\)$' out5.txt

# --- refused command lines: one error line, exit 2, nothing on stdout
mkdir unfinished lonely && cp run/resolved.yaml unfinished/ && cp run/weights.bin lonely/
expect_error "missing model" "nope: error: no such file or folder|a model is a run folder" -- \
  predict nope bars/Test
expect_error "run folder without weights.bin" "unfinished: error: no weights.bin in this folder" -- \
  predict unfinished bars/Test
expect_error "weights without resolved.yaml" "lonely/resolved.yaml: error: no resolved.yaml beside the weights" -- \
  predict lonely/weights.bin bars/Test
expect_error "missing image" "nope.png: error: no such file or folder|give images (.png, .jpg or .jpeg files)" -- \
  predict run bars/Test nope.png
expect_error "folder without images" "unfinished: error: no images (.png, .jpg or .jpeg files) in this folder" -- \
  predict run unfinished
expect_error "no image" "no image or folder given|usage: netrun predict MODEL" -- predict run
expect_error "no model" "no model given|usage: netrun predict MODEL" -- predict
for bad in 0 -1 x 2x ''; do
  expect_error "--top '$bad'" "--top '$bad': expected a whole number|1 or more" -- \
    predict run bars/Test --top "$bad"
done
expect_error "unwritable -o" "nofolder/p.csv: error: cannot write" -- \
  predict run bars/Test -o nofolder/p.csv
expect_error "-o a folder" "unfinished: error: is a folder; -o names the CSV file" -- \
  predict run bars/Test -o unfinished
expect_error "--set refused" "predict does not take --set" -- predict run bars/Test --set a=b
expect_error "--top refused elsewhere" "check does not take --top" -- check tiny.yaml --top 2
expect_error "did you mean" "unknown command 'predcit' (did you mean 'predict'?)" -- predcit run
check "refused: no CSV written" test ! -e nofolder

# --- help
out=$("$netrun" predict --help); status=$?
check "help: exit $status" test "$status" = 0
check "help: usage" grep -q '^usage: netrun predict MODEL IMAGE_OR_FOLDER... \[-o FILE.csv\] \[--top K\]' <<<"$out"
check "help: --top default" grep -q -- '--top K .*default: 3' <<<"$out"
check "global help lists predict" grep -q 'netrun predict MODEL' <<<"$("$netrun" --help)"

cli_finish
