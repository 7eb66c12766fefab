#!/usr/bin/env bash
# CLI end-to-end: the spec's data preparation (issue 14): data.size with each
# fit on mixed sizes, data.channels, the errors that suggest them,
# data.normalize: standardize (mean/std against an independent computation
# from the pixel values written, and the weights' scale/shift),
# data.test_fraction (split counts per class), predict resizing as training.
# usage: tests/cli/data_prep.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init data_prep "${1:-}"
need_tools "$synth"
command -v python3 >/dev/null || { fail "python3 not found (tools/setup installs it)"; cli_finish; exit 1; }

cd "$tmp" || exit 1
"$synth" mixed --classes 3 --sizes 12x12,16x10,9x14 --train 6 --test 3 --seed 2 >/dev/null &&
  "$synth" rgb --classes 3 --channels 3 --size 12x12 --train 10 --test 3 --seed 4 >/dev/null ||
  { fail "netrun-synth"; cli_finish; exit 1; }

spec() {  # spec NAME DATA_KEYS [TRAIN_KEYS]
  cat >"$tmp/$1.yaml" <<EOT
name: $1
data: {$2}
network: {layers: [dense: {units: 3}]}
train: {epochs: 1, batch_size: 4${3:+, $3}}
EOT
  echo "$tmp/$1.yaml"
}
resolved() { sed -n "s/^  $2: //p" "$1/resolved.yaml"; }   # resolved RUN KEY: data.KEY

# --- data.size: without it, mixed sizes are refused with the suggestion
s=$(spec nosize "train: mixed/Train, test: mixed/Test")
expect_error "mixed sizes without data.size" "same shape|data.size: [12, 12]" -- "$s"
for fit in stretch crop pad; do
  s=$(spec "size_$fit" "train: mixed/Train, test: mixed/Test, size: [8, 10], fit: $fit")
  out=$("$netrun" check "$s" 2>&1)
  check "check $fit: prepared shape: $out" grep -q "^images: prepared to 1x8x10 (channels x height x width), resized with fit $fit$" <<<"$out"
  "$netrun" "$s" --out "run_$fit" >/dev/null 2>&1
  check "train with fit $fit" test -s "run_$fit/weights.bin"
  check "fit $fit: input [1, 8, 10] in resolved.yaml" grep -q "^  input: \[1, 8, 10\]$" "run_$fit/resolved.yaml"
done
# the cache of another preparation is not reused: size_pad's load after
# size_crop (same folder) must give other pixels, so its own result
check "caches per preparation" test "$(cmp -s run_crop/weights.bin run_pad/weights.bin; echo $?)" = 1
# predict resizes images of another size, as training did
out=$("$netrun" predict run_stretch mixed/Test 2>/dev/null)
check "predict resizes: 9 images classified" test "$(grep -c '^mixed/Test/' <<<"$out")" = 9

# --- data.channels: RGB made gray; mixed channel counts refused without it
s=$(spec gray "train: rgb/Train, test: rgb/Test, channels: 1")
out=$("$netrun" check "$s" 2>&1)
check "channels 1 on RGB: $out" grep -q "^images: prepared to 1x12x12" <<<"$out"
"$netrun" "$s" --out run_gray >/dev/null 2>&1
check "channels 1: input [1, 12, 12]" grep -q "^  input: \[1, 12, 12\]$" run_gray/resolved.yaml
mkdir -p chmix && cp -r mixed/Train chmix/Train && cp -r mixed/Test chmix/Test &&
  for f in chmix/Train/*/*.png; do rm "$f"; done &&
  for c in 0 1 2; do cp "rgb/Train/$c/0000.png" "chmix/Train/$c/a.png"; cp "rgb/Train/$c/0001.png" "chmix/Train/$c/b.png"; done
"$synth" gray12 --classes 3 --size 12x12 --train 1 --test 1 >/dev/null && cp gray12/Train/1/0000.png chmix/Train/1/c.png
s=$(spec chmix "train: chmix/Train, test: rgb/Test")
expect_error "mixed channels without data.channels" "same shape|data.channels" -- "$s"

# --- standardize: PNGs of known pixels (written here with zlib), mean/std
# computed from those values with awk, against resolved.yaml and weights.bin
python3 - <<'EOF' || fail "writing the known-pixel PNGs"
import os, struct, zlib
def png(path, w, h, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
with open("known.txt", "w") as values:
    for split, n in (("Train", 4), ("Test", 2)):
        for c in range(3):
            os.makedirs(f"known/{split}/{c}", exist_ok=True)
            for i in range(n):
                rows = [[(37 * (c + 1) + 11 * i + 5 * y + 3 * x * x) % 256 for x in range(6)] for y in range(5)]
                png(f"known/{split}/{c}/{i}.png", 6, 5, rows)
                if split == "Train":
                    values.write("\n".join(str(v) for r in rows for v in r) + "\n")
EOF
s=$(spec std "train: known/Train, test: known/Test, normalize: standardize")
"$netrun" "$s" --out run_std >/dev/null 2>&1
check "standardize trains" test -s run_std/weights.bin
read -r want_mean want_std < <(awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; printf "%.9g %.9g\n", m, sqrt(q / n - m * m) }' known.txt)
got_mean=$(resolved run_std mean | tr -d '[]'); got_std=$(resolved run_std std | tr -d '[]')
check "data.mean $got_mean = $want_mean" within "$got_mean" "$want_mean" 0.0001
check "data.std $got_std = $want_std" within "$got_std" "$want_std" 0.0001
# weights.bin: 40-byte header, 3 int32 (shape), then scale[1], shift[1]
read -r scale shift < <(od -An -t f4 -j 52 -N 8 run_std/weights.bin)
check "pixel_scale $scale = 1/std" within "$scale" "$(awk -v s="$want_std" 'BEGIN { print 1 / s }')" 0.000001
check "pixel_shift $shift = -mean/std" within "$shift" "$(awk -v m="$want_mean" -v s="$want_std" 'BEGIN { print -m / s }')" 0.00001
# normalize none: scale 1, shift 0; the default: 1/255
s=$(spec raw "train: known/Train, test: known/Test, normalize: none")
"$netrun" "$s" --out run_raw >/dev/null 2>&1
read -r scale shift < <(od -An -t f4 -j 52 -N 8 run_raw/weights.bin)
check "normalize none: scale $scale shift $shift" test "$scale $shift" = "1 0"

# --- test_fraction: round(0.3 * 10) = 3 test images per class, disjoint
# from the validation split (round(0.2 * 7) = 1 per class)
s=$(spec split "train: rgb/Train, test_fraction: 0.3" "validation: {fraction: 0.2}")
out=$("$netrun" check "$s" 2>&1)
check "check: split counts: $out" grep -q "^data: 18 training images (3 classes), 9 test images (data.test_fraction 0.3 of Train)$" <<<"$out"
"$netrun" "$s" --out run_split >/dev/null 2>&1
rows=$(tail -n +2 run_split/confusion.csv | awk -F, '{ t = 0; for (i = 2; i <= NF; i++) t += $i; printf "%s ", t }')
check "test split per class: $rows" test "$rows" = "3 3 3 "
check "summary names the split" grep -q "test 9 images (.*rgb/Train (data.test_fraction 0.3))" run_split/summary.txt
s=$(spec neither "train: rgb/Train")
expect_error "no data.test, no test_fraction" "no test set|data.test_fraction" -- check "$s"

cli_finish
