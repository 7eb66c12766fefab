#!/usr/bin/env bash
# CLI end-to-end for issue 14's image formats: folders of JPEGs, RGBA PNGs
# and 16-bit PNGs made by netrun-synth load with `netrun data` (the pixels
# are checked in tests/test_data.c and tests/test_image.c), a
# 1-epoch run trains on JPEGs and predicts them, and a truncated or corrupt
# JPEG in a class folder is refused naming the file (exit 2).
# usage: tests/cli/image_formats.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init image_formats "${1:-}"
need_tools "$synth"
cd "$tmp" || exit 1

common=(--classes 3 --train 6 --test 3 --seed 5)
"$synth" jpeg --format jpeg --channels 3 --size 16x16 "${common[@]}" >/dev/null &&
  "$synth" rgba --alpha --channels 3 "${common[@]}" >/dev/null &&
  "$synth" gray8 "${common[@]}" >/dev/null &&
  "$synth" gray16 --depth 16 "${common[@]}" >/dev/null &&
  "$synth" mixed --format jpeg --sizes 12x12,16x10 "${common[@]}" >/dev/null ||
  { fail "netrun-synth"; cli_finish; exit 1; }
check "synth: .jpg files" test -f jpeg/Train/0/0000.jpg
check "synth: JPEG magic" bash -c '[[ $(head -c 2 jpeg/Train/0/0000.jpg | od -An -tx1 | tr -d " ") == ffd8 ]]'
check "synth: the mixed folder has a 16x10 image" bash -c \
  'head -c 200 mixed/Train/0/0001.jpg | od -An -tx1 | tr -d " \n" | grep -q "ffc0000b080010000a"'

for d in jpeg rgba gray16; do
  "$netrun" data "$d/Train" >"$tmp/out" 2>&1; status=$?
  check "netrun data $d/Train (exit $status: $(head -1 "$tmp/out"))" test "$status" = 0
done
"$netrun" data jpeg/Train | grep -q '18 images, 3x16x16, 3 classes' && ok || fail "jpeg: 3x16x16"
"$netrun" data rgba/Train | grep -q '18 images, 3x12x12, 3 classes' && ok || fail "rgba: 3x12x12 (alpha dropped)"
"$netrun" data gray16/Train | grep -q '18 images, 1x12x12, 3 classes' && ok || fail "gray16: 1x12x12"

# PNG kinds refused before issue 14 now load (tests/cli/bad_specs.sh had them)
if [[ -x $pngcraft ]]; then
  cp -r gray8/Train kinds
  for kind in 16bit gray-alpha trns; do "$pngcraft" "$kind" "kinds/1/_$kind.png"; done
  "$netrun" data kinds >"$tmp/out" 2>&1; status=$?
  check "16-bit, gray+alpha and tRNS PNGs load (exit $status: $(head -1 "$tmp/out"))" test "$status" = 0
else
  fail "no $pngcraft"
fi

# mixed sizes without data.size: today's clear error
expect_error "mixed sizes" "mixed/Train/0/0001.jpg: error: image is 1x16x10|mixed/Train/0/0000.jpg is 1x12x12" \
  -- data mixed/Train

# a 1-epoch run on JPEGs, then predict on them
cat >jpeg.yaml <<SPEC
name: jpeg
data: {train: jpeg/Train, test: jpeg/Test}
network:
  layers: [{dense: {units: 8}}, relu, {dense: {units: 3}}, softmax]
train: {batch_size: 6, epochs: 1}
SPEC
"$netrun" jpeg.yaml --set threads=1 --out run >"$tmp/out" 2>&1; status=$?
check "train on JPEGs (exit $status: $(tail -1 "$tmp/out"))" test "$status" = 0
"$netrun" predict run jpeg/Test >"$tmp/out" 2>&1; status=$?
check "predict JPEGs (exit $status)" test "$status" = 0
check "predict lists a .jpg" grep -q 'jpeg/Test/0/0000.jpg' "$tmp/out"

# broken JPEGs in a class folder: named, exit 2
cp -r jpeg/Train trunc && head -c 200 jpeg/Train/1/0002.jpg >trunc/1/0002.jpg
expect_error "truncated JPEG" "trunc/1/0002.jpg: error: truncated JPEG" -- data trunc
cp -r jpeg/Train text && echo "not a jpeg" >text/0/0001.JPEG
expect_error "text named .JPEG" "text/0/0001.JPEG: error: not a JPEG file" -- data text
cli_finish
