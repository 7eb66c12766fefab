#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] - build the libFuzzer harnesses (fuzz_spec,
# fuzz_png and fuzz_jpeg: one harness, fuzz_image.c, per format) with clang -fsanitize=fuzzer,address,undefined straight from the
# sources (no CMake), seed their corpora, and run each for SECONDS (default
# 30) at low priority. Exits non-zero when a harness finds a crash, a leak,
# undefined behaviour or a broken invariant (the reproducer is left in
# $work/artifacts/), or when clang cannot build a fuzzer.
#
# Environment:
#   NETRUN_FUZZ_DIR     where objects, binaries, corpora and logs go
#                       (default build-fuzz/ in the source tree; the corpora
#                       grow there from run to run)
#   NETRUN_BINARY_DIR   a normal build with netrun-synth and netrun-pngcraft,
#                       for the PNG and JPEG seeds (default build/)
#   CC                  the compiler (default clang)
#   FUZZ_JOBS           compile jobs (default: online cores)
set -euo pipefail
seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: tests/fuzz/run.sh [SECONDS]" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${NETRUN_FUZZ_DIR:-$src/build-fuzz}
bin=${NETRUN_BINARY_DIR:-$src/build}
cc=${CC:-clang}
[[ $cc == cc || $cc == gcc* ]] && cc=clang   # libFuzzer needs clang
jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p "$work/obj" "$work/artifacts" "$work/corpus-spec" "$work/corpus-png" "$work/corpus-jpeg"
work=$(cd "$work" && pwd)

die() { echo "fuzz: error: $*" >&2; exit 1; }

command -v "$cc" >/dev/null || die "$cc not found; install clang and libclang-rt-14-dev (tools/setup does)"
for tool in netrun-synth netrun-pngcraft; do
  [[ -x $bin/$tool ]] || die "$bin/$tool not built; build netrun first (tools/setup) or set NETRUN_BINARY_DIR"
done

# ---- build: every engine source once (instrumented for coverage, not
# linked with the fuzzer's main), then one binary per harness
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
read -r -a pkg_cflags <<<"$(pkg-config --cflags yaml-0.1 libpng libjpeg cairo openblas)"
read -r -a pkg_libs <<<"$(pkg-config --libs yaml-0.1 libpng libjpeg cairo openblas)"
cflags=(-std=c11 -g -O1 -Wall -Wextra -D_POSIX_C_SOURCE=200809L '-DNETRUN_VERSION="fuzz"'
        -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        -I"$src/include" -I"$src/src" -I"$src/netspec" "${pkg_cflags[@]}" "${sanitize[@]}")
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }\n' \
  >"$work/probe.c"
"$cc" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>"$work/probe.log" ||
  die "$cc cannot build a libFuzzer binary (install libclang-rt-14-dev): $(head -c 500 "$work/probe.log")"

sources=("$src"/netspec/*.c "$src"/src/*.c "$src"/src/layers/*.c "$src"/src/kernels/*.c
         "$src"/src/plot/*.c)
echo "fuzz: compiling ${#sources[@]} sources with $cc into $work/obj" >&2
# one object per source, named after its path; the engine sources change
# while other work goes on, so everything is rebuilt every time
rm -f "$work"/obj/*.o
printf '%s\n' "${sources[@]}" |
  SRC="$src" OBJ="$work/obj" CC_="$cc" xargs -P "$jobs" -I{} bash -c '
    f={}; rel=${f#$SRC/}; o=$OBJ/${rel//\//_}; o=${o%.c}.o
    "$CC_" "$@" -fsanitize=fuzzer-no-link -c "$f" -o "$o"' _ "${cflags[@]}" ||
  die "compiling the sources failed"
# fuzz_png and fuzz_jpeg are one harness (fuzz_image.c) built per format
for h in fuzz_spec fuzz_png fuzz_jpeg; do
  harness=$src/tests/fuzz/$h.c kind=()
  if [[ $h != fuzz_spec ]]; then
    harness=$src/tests/fuzz/fuzz_image.c kind=(-DFUZZ_KIND="\"${h#fuzz_}\"")
  fi
  "$cc" "${cflags[@]}" "${kind[@]}" -fsanitize=fuzzer "$harness" "$work"/obj/*.o \
    "${pkg_libs[@]}" -lm -lpthread -o "$work/$h" || die "linking $h failed"
done

# ---- seeds: the example specs, the bad-spec corpus, a few --set lines;
# PNGs from netrun-synth (gray, RGB) and netrun-pngcraft (valid and broken)
seed_spec=$work/seed-spec seed_png=$work/seed-png seed_jpeg=$work/seed-jpeg
rm -rf "$seed_spec" "$seed_png" "$seed_jpeg"
mkdir -p "$seed_spec" "$seed_png" "$seed_jpeg"
cp "$src"/specs/*.yaml "$seed_spec/"
for f in "$src"/tests/bad_specs/*.yaml; do cp "$f" "$seed_spec/bad_${f##*/}"; done
{ printf '#set train.optimizer.adam.lr=0.002\n#set network.layers.0.conv.filters=4\n'
  cat "$src/specs/ex2_cnn.yaml"; } >"$seed_spec/set_ex2.yaml"
{ printf '#set network.input=[1, 12, 12]\n#set train.schedule={cosine: {warmup_epochs: 1}}\n'
  printf '#set data.train=../x\n'; cat "$src/specs/ex5_residual.yaml"; } >"$seed_spec/set_ex5.yaml"
cat >"$seed_spec/every_kind.yaml" <<'SPEC'
# every layer kind and every train section key, so that mutations start near all of them
name: every_kind
description: 'true'
seed: 7
threads: 1
data: {train: ../d/Train, test: /d/Test, cache: false}
network:
  input: [3, 16, 16]
  layers:
    - conv: {filters: 4, size: 3, stride: 1, pad: 1, bias: false, init: he_uniform}
    - batchnorm: {momentum: 0.1, eps: 1e-5}
    - leaky_relu: {slope: 0.1}
    - residual:
        shortcut: projection
        projection_batchnorm: true
        layers: [{conv: {filters: 8, size: 3, stride: 2, pad: 1}}, relu]
    - repeat: {times: 2, layers: [{avgpool: {size: 2, stride: 1}}, sigmoid]}
    - maxpool: {size: 2, stride: 2}
    - flatten
    - dropout: {rate: 0.25}
    - dense: {units: 10, bias: true, init: glorot_normal}
    - tanh
    - dense: {units: 3}
    - softmax
train:
  loss: mse
  optimizer: {adamw: {lr: 0.002, beta1: 0.9, beta2: 0.99, eps: 1e-7, weight_decay: 0.05}}
  batch_size: 8
  epochs: 3
  shuffle: false
  schedule: {multistep: {milestones: [1, 2], gamma: 0.5}}
  label_smoothing: 0.1
  validation: {fraction: 0.2}
  early_stopping: {patience: 1, monitor: val_acc, min_delta: 0.001, restore_best: false}
  augment:
    shift: {pixels: 2, p: 0.5}
    rotate: {degrees: 10, p: 0.5}
    scale: {min: 0.9, max: 1.1, p: 0.5}
    elastic: {alpha: 34, sigma: 4, p: 0.3}
    noise: {std: 0.05, p: 0.5}
SPEC
(
  cd "$work"
  rm -rf seed-synth
  "$bin/netrun-synth" seed-synth/gray --classes 2 --size 9x7 --train 1 --test 1 >/dev/null
  "$bin/netrun-synth" seed-synth/rgb --classes 2 --size 6x5 --channels 3 --train 1 --test 1 >/dev/null
  cp seed-synth/gray/Train/0/0000.png "$seed_png/synth-gray.png"
  cp seed-synth/rgb/Train/0/0000.png "$seed_png/synth-rgb.png"
  # tiny JPEGs: gray and RGB (4:2:0), of sizes not multiples of 8 or 16
  "$bin/netrun-synth" seed-synth/jgray --classes 2 --sizes 9x7,8x8 --format jpeg --train 2 --test 1 >/dev/null
  "$bin/netrun-synth" seed-synth/jrgb --classes 2 --sizes 6x5,17x9 --channels 3 --format jpeg --train 2 --test 1 >/dev/null
  for f in seed-synth/jgray/Train/0/*.jpg seed-synth/jrgb/Train/0/*.jpg; do
    g=${f#seed-synth/}; cp "$f" "$seed_jpeg/${g//\//-}"
  done
  rm -rf seed-synth
)
for kind in good rgb truncated no-iend bad-crc bad-zlib short-data huge claims-max zero-width \
            bad-ihdr 16bit gray-alpha palette palette-gray palette-oob no-plte gray2 \
            interlaced trns huge-chunk; do
  "$bin/netrun-pngcraft" "$kind" "$seed_png/$kind.png" 6 5
done

# ---- run
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1
status=0
# malloc limits: a spec is at most a few KiB here and a graph at most 100000
# layers; a PNG of at most 4 KiB (libFuzzer's default -max_len) can hold
# at most ~4 MiB of pixels, and a JPEG of 4 KiB at most 4 M pixels (1024 a
# byte: 12 MiB as RGB, plus libjpeg's buffers), so any larger allocation is a
# finding
declare -A malloc_mb=([fuzz_spec]=512 [fuzz_png]=64 [fuzz_jpeg]=128)
for h in fuzz_spec fuzz_png fuzz_jpeg; do
  kind=${h#fuzz_}
  log=$work/$h.log
  echo "fuzz: running $h for ${seconds}s (log: $log)" >&2
  set +e
  nice -n 19 "$work/$h" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -malloc_limit_mb="${malloc_mb[$h]}" -print_final_stats=1 -dict="$src/tests/fuzz/$kind.dict" \
    -artifact_prefix="$work/artifacts/$kind-" \
    "$work/corpus-$kind" "$work/seed-$kind" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  done_line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -E -n 's/.* corp: ([0-9]+).*/\1/p' <<<"$done_line")
  echo "fuzz: $h: exit $rc, ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
  if ((rc != 0)); then
    status=1
    echo "fuzz: $h FOUND A PROBLEM; the end of its log:" >&2
    tail -n 60 "$log" >&2
    ls -1 "$work"/artifacts/"$kind"-* 2>/dev/null | sed 's/^/fuzz: reproducer: /' >&2 || true
  fi
done
exit "$status"
