#!/usr/bin/env bash
# CLI end-to-end: the training progress on a terminal and in a log. Under
# script(1) (util-linux, Debian package bsdutils) stderr and stdout are a
# terminal of 60 columns (stty), then one of no width with COLUMNS=50: no
# bar draw and no epoch line is wider than the width - 1. Without a
# terminal the epoch line is the whole line (<= 80 columns); with a
# validation split it shows the val cost and accuracy, history.csv's
# values, and summary.txt the final and (early stopping) best val results.
# usage: tests/cli/progress.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init progress "${1:-}"
need_tools "$synth"

# field FILE ROW COLUMN: a named column of a CSV file's data row ROW (1-based)
field() {
  awk -F, -v row="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                                    NR == row + 1 { print $c }' "$1"
}
# rows FILE: the data rows of a CSV file
rows() { tail -n +2 "$1" | wc -l; }

# segments FILE: what a terminal shows of a raw capture, one piece per line:
# ESC[K removed, split at \r and \n, empty pieces dropped
segments() { sed 's/\x1b\[K//g' "$1" | tr '\r' '\n' | grep -v '^$'; }
# widest FILE: the widest bar draw ("epoch N ...") or epoch line ("ep N/M ...")
widest() { segments "$1" | grep -E '^(epoch |ep +[0-9]+/)' | awk '{ if (length > w) w = length } END { print w + 0 }'; }

cd "$tmp" || exit 1
"$synth" "$tmp/data" --classes 3 --size 12x12 --train 40 --test 10 >/dev/null 2>&1
check "synth: data" test -d "$tmp/data/Train/2"

spec() {  # spec FILE NAME [TRAIN-EXTRA]: a small MLP over the data, 3 epochs
  cat >"$1" <<EOF
name: $2
seed: 3
data: {train: data/Train, test: data/Test}
network:
  layers:
    - dense: {units: 16}
    - relu
    - dense: {units: 3}
    - softmax
train:
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  batch_size: 16
  epochs: 3
${3:-}
EOF
}
spec plain.yaml plain
spec val.yaml val "  validation: {fraction: 0.25}
  early_stopping: {patience: 5, monitor: val_acc}"

# --- on a terminal of 60 columns: every bar draw and epoch line in 59
if ! command -v script >/dev/null; then
  fail "script(1) not found (Debian package bsdutils): the terminal cases cannot run"
else
  # on_tty COLS ENV OUT SPEC: runs netrun SPEC --out OUT under script with the
  # terminal set to COLS columns (stty) and the environment ENV; the raw
  # output in OUT.raw, the status returned
  on_tty() {
    local cmd
    cmd="stty cols $1 && exec env $2 $(printf '%q' "$netrun") $(printf '%q' "$4") --out $(printf '%q' "$3")"
    script -qec "$cmd" /dev/null </dev/null >"$3.raw" 2>&1
  }
  on_tty 60 "" "$tmp/tty60" val.yaml; status=$?
  check "tty 60: exit $status" test "$status" = 0
  draws=$(segments tty60.raw | grep -c '^epoch [0-9]* \[')
  check "tty 60: the bar is drawn ($draws draws)" test "$draws" -ge 3
  lines=$(segments tty60.raw | grep -cE '^ep +[0-9]+/3 ')
  check "tty 60: one epoch line per epoch ($lines)" test "$lines" = 3
  w=$(widest tty60.raw)
  check "tty 60: the widest bar or epoch line is $w <= 59 columns" test "$w" -le 59
  check "tty 60: the bar keeps batch and cost" \
    test "$(segments tty60.raw | grep '^epoch [0-9]* \[' | grep -cvE ' [0-9]+/[0-9]+  cost [0-9.]+')" = 0
  check "tty 60: the epoch line keeps val and test" \
    test "$(segments tty60.raw | grep -E '^ep +[0-9]+/' | grep -cvE ' val .* test ')" = 0
  # a terminal that reports no width: $COLUMNS
  on_tty 0 COLUMNS=50 "$tmp/tty0" plain.yaml; status=$?
  check "tty of no width: exit $status" test "$status" = 0
  w=$(widest tty0.raw)
  check "tty of no width, COLUMNS=50: the widest line is $w <= 49 columns" test "$w" -le 49
  check "tty of no width: the bar is drawn" segments tty0.raw | grep -q '^epoch 1 \['
  # a wide terminal: the whole bar, with img/s and ETA
  on_tty 200 "" "$tmp/tty200" plain.yaml; status=$?
  check "tty 200: exit $status" test "$status" = 0
  check "tty 200: the whole bar" \
    segments tty200.raw | grep -qE '^epoch 1 \[[=> ]{24}\] [0-9]+/8  cost [0-9.]+  acc [0-9.]+%  [0-9]+ img/s  ETA [0-9]+s$'
fi

# --- not a terminal: the whole epoch line, <= 80 columns, no val without a split
"$netrun" plain.yaml --out "$tmp/plain" >plain.out 2>plain.err; status=$?
check "plain: exit $status $(cat plain.err)" test "$status" = 0
check "plain: no bar without a terminal" test "$(grep -c 'epoch 1 \[' plain.err)" = 0
check "plain: 3 epoch lines" test "$(grep -cE '^ep +[0-9]+/3 ' plain.out)" = 3
check "plain: the whole line, train, test, lr, seconds" \
  test "$(grep -cE '^ep [1-3]/3 train [0-9.]+ [0-9.]+% test [0-9.]+ [0-9.]+% lr 0\.1 [0-9.]+s$' plain.out)" = 3
check "plain: epoch lines <= 80 columns" awk '/^ep / && length > 80 { exit 1 }' plain.out
check "plain: no val on the line" test "$(grep -c ' val ' plain.out)" = 0
check "plain: no val in summary.txt" test "$(grep -c ' val ' plain/summary.txt)" = 0

# --- a validation split: val cost and accuracy on the line and in summary.txt
"$netrun" val.yaml --out "$tmp/val" >val.out 2>val.err; status=$?
check "val: exit $status $(cat val.err)" test "$status" = 0
epochs=$(rows val/history.csv)
check "val: one epoch line per history row ($epochs)" test "$(grep -cE '^ep +[0-9]+/3 ' val.out)" = "$epochs"
check "val: epoch lines <= 80 columns" awk '/^ep / && length > 80 { exit 1 }' val.out
n=0
while read -r line; do
  n=$((n + 1))
  if [[ ! $line =~ ^ep\ +$n/3\ train\ [0-9.]+\ [0-9.]+%\ val\ ([0-9.]+)\ ([0-9.]+)%\ test\ [0-9.]+\ [0-9.]+%\ lr\ [0-9.e-]+\ [0-9.]+s$ ]]; then
    fail "val: epoch line $n: '$line'"
    continue
  fi
  cost=${BASH_REMATCH[1]} acc=${BASH_REMATCH[2]}
  want_cost=$(field val/history.csv "$n" val_cost) want_acc=$(field val/history.csv "$n" val_acc)
  check "val: epoch $n: val cost $cost = history's $want_cost" within "$cost" "$want_cost" 0.00006
  check "val: epoch $n: val acc $acc% = history's $want_acc" \
    within "$acc" "$(awk -v a="$want_acc" 'BEGIN { print 100 * a }')" 0.006
done < <(grep -E '^ep ' val.out)
last_acc=$(field val/history.csv "$epochs" val_acc) last_cost=$(field val/history.csv "$epochs" val_cost)
check "summary.txt: final val accuracy $last_acc of epoch $epochs" \
  grep -qx "final val accuracy: $(printf '%.4f' "$last_acc") (epoch $epochs)" val/summary.txt
check "summary.txt: final val cost $last_cost" \
  grep -qx "final val cost: $(printf '%.6f' "$last_cost")" val/summary.txt
# early stopping on val_acc: the best epoch's val accuracy, the column's
# highest (its first epoch: an improvement must be strict)
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_acc") c = i; next }
                $c > m || NR == 2 { m = $c; e = $1 } END { print e }' val/history.csv)
best_acc=$(field val/history.csv "$best" val_acc)
check "summary.txt: best val accuracy $best_acc (epoch $best)" \
  grep -qx "best val accuracy: $(printf '%.4f' "$best_acc") (epoch $best)" val/summary.txt
check "summary.txt: best epoch $best" grep -qx "best epoch (validation): $best" val/summary.txt

# early stopping on val_cost (the default monitor): the best epoch's val cost,
# the column's lowest; its weights restored unless it is the last epoch (with
# lr 0.5, 6 epochs: epoch 4 of 6 at the time of writing)
spec valcost.yaml valcost "  validation: {fraction: 0.25}
  early_stopping: {patience: 2}"
"$netrun" valcost.yaml --set train.optimizer.sgd.lr=0.5 --set train.epochs=6 --out "$tmp/valcost" \
  >/dev/null 2>valcost.err; status=$?
check "valcost: exit $status $(cat valcost.err)" test "$status" = 0
epochs=$(rows valcost/history.csv)
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_cost") c = i; next }
                $c < m || NR == 2 { m = $c; e = $1 } END { print e }' valcost/history.csv)
best_cost=$(field valcost/history.csv "$best" val_cost)
check "summary.txt: best val cost $best_cost (epoch $best)" \
  grep -qx "best val cost: $(printf '%.6f' "$best_cost") (epoch $best)" valcost/summary.txt
restored=$(grep -c "^restored weights of epoch $best: " valcost/summary.txt)
check "summary.txt: weights of epoch $best restored ($restored) iff it is not the last ($epochs)" \
  test "$restored" = "$([[ $best == "$epochs" ]] && echo 0 || echo 1)"

cli_finish
