#!/usr/bin/env bash
# CLI end-to-end for the C API (include/netrun/netrun.h) as users get it:
# `cmake --install` of this build into a private prefix (what it installs,
# the shared library's exports and SONAME, netrun.pc), then README's example
# program ("### The C API", between its markers: the test compiles exactly
# what the README shows) built with pkg-config against the shared library
# and against the static one, run on trained models: README's output, the
# count of correct predictions equal to `netrun eval`'s, errors.
# In the ASan build netrun.pc adds the sanitizers to Libs, so the example is
# linked with them (and its leaks are checked) like any user of that build.
# usage: tests/cli/c_api.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init c_api "${1:-}"
need_tools "$synth"
cc=${CC:-cc}
cd "$tmp" || exit 1

# ---- install into a private prefix (ctest runs tests in parallel)
prefix=$tmp/prefix
out=$(cmake --install "$bin" --prefix "$prefix" 2>&1); status=$?
check "cmake --install: $status ${out: -300}" test "$status" = 0
for f in bin/netrun lib/libnetrun.so lib/libnetrun.so.0 lib/libnetrun.a \
         include/netrun/netrun.h lib/pkgconfig/netrun.pc; do
  check "installed $f" test -e "$prefix/$f"
done
check "installed headers: netrun.h only" test "$(names "$prefix/include/netrun")" = "netrun.h "
check "installed netrun runs" grep -q '^netrun ' <<<"$("$prefix/bin/netrun" --version 2>&1)"
so=$prefix/lib/libnetrun.so.0
check "SONAME libnetrun.so.0" grep -q 'SONAME.*\[libnetrun\.so\.0\]' <<<"$(readelf -d "$so")"
exports=$(nm -D --defined-only "$so" | awk '{ print $NF }')
check "exports netrun_model_open" grep -qx netrun_model_open <<<"$exports"
others=$(grep -v '^netrun_' <<<"$exports" | head -5)
check "exports only netrun_*: ${others//$'\n'/ }" test -z "$others"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cflags=$(pkg-config --cflags netrun) libs=$(pkg-config --libs netrun)
static_libs=$(pkg-config --static --libs netrun)
check "pkg-config --modversion" test "$(pkg-config --modversion netrun)" = \
  "$(sed -n 's/^#define NETRUN_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/netrun/netrun.h")"
check "pkg-config --libs: -lnetrun ($libs)" grep -qw -- '-lnetrun' <<<"$libs"
for lib in -lyaml -lpng16 -lcairo -lopenblas -lm -lpthread; do
  check "pkg-config --static --libs has $lib" grep -qw -- "$lib" <<<"$static_libs"
done
# the header alone, strictly (self-contained: no other netrun header installed)
printf '#include <netrun/netrun.h>\nint main(void) { return netrun_version() != NETRUN_VERSION_NUMBER; }\n' \
  >header.c
check "netrun.h compiles alone (C99, pedantic)" \
  "$cc" -std=c99 -pedantic -Wall -Wextra -Werror $cflags -c header.c -o header.o
# and from C++ (extern "C": the names link unmangled), when a C++ compiler is here
if command -v "${CXX:-c++}" >/dev/null; then
  printf '#include <netrun/netrun.h>\nint main() { netrun_model *m = nullptr;\n%s\n}\n' \
    '  return netrun_model_open("nope", 0, &m, nullptr, 0) == NETRUN_ERR_INPUT && !m ? 0 : 1;' \
    >header.cc
  # shellcheck disable=SC2086
  "${CXX:-c++}" -std=c++11 -pedantic -Wall -Wextra -Werror $cflags -o header_cxx header.cc \
    $libs 2>cxx.err
  check "netrun.h from C++: $(head -c 300 cxx.err)" env LD_LIBRARY_PATH="$prefix/lib" ./header_cxx
fi

# ---- README's example program, exactly as shown
awk '/<!-- c_api example: begin/ { on = 1; next } /<!-- c_api example: end/ { on = 0 }
     on && !/^```/' "$src/README.md" >classify.c
check "README example extracted" grep -q 'netrun_model_predict' classify.c
# shellcheck disable=SC2086  # pkg-config's words
"$cc" -std=c11 -Wall -Wextra -Werror -o classify classify.c $cflags $libs 2>cc.err
check "example builds against the shared library: $(head -c 300 cc.err)" test -x classify
check "example needs libnetrun.so.0" grep -q 'NEEDED.*\[libnetrun\.so\.0\]' \
  <<<"$(readelf -d classify 2>/dev/null)"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o classify_static classify.c $cflags \
  ${static_libs//-lnetrun/-l:libnetrun.a} 2>cc.err
check "example builds against the static library: $(head -c 300 cc.err)" test -x classify_static
check "static example needs no libnetrun.so" test -z "$(readelf -d classify_static 2>/dev/null |
                                                         grep 'NEEDED.*libnetrun')"
shared() { LD_LIBRARY_PATH=$prefix/lib ./classify "$@"; }
static() { env -u LD_LIBRARY_PATH ./classify_static "$@"; }

# ---- README's run: the data and model it shows
"$synth" bars --classes 3 --names horizontal,vertical,diagonal --seed 7 >/dev/null
cat >bars.yaml <<'EOF'
# a small CNN for the synthetic bars (README, "The C API")
name: bars
seed: 3
data:
  train: bars/Train
  test: bars/Test
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
threads: 1
EOF
"$netrun" bars.yaml --out runs/bars >/dev/null 2>&1
check "bars model trained" test -f runs/bars/weights.bin
# README shows the commands and the program's output; the probabilities
# (last digits may differ with the CPU's BLAS kernels) are compared masked
readme_run=$(awk '/<!-- c_api output: begin/ { on = 1; next } /<!-- c_api output: end/ { on = 0 }
                  on && !/^```/' "$src/README.md")
command=$(grep '^\$ \./classify ' <<<"$readme_run")
expected=$(grep -v '^\$ ' <<<"$readme_run")
check "README shows the example's run" test -n "$command" -a -n "$expected"
read -ra words <<<"${command#\$ ./classify }"
args=()
for word in "${words[@]}"; do
  for file in $word; do args+=("$file"); done   # the shell's globbing, as in README
done
mask() { sed 's/(p = [0-9.]*)/(p = P)/'; }
got=$(shared "${args[@]}" 2>&1); status=$?
check "shared: README's run exits 0 ($got)" test "$status" = 0
check "shared: README's output" test "$(mask <<<"$got")" = "$(mask <<<"$expected")"
got_static=$(static "${args[@]}" 2>&1)
check "static: the same output" test "$got_static" = "$got"
check "probabilities in 0..1" test -z "$(grep -o 'p = [0-9.]*' <<<"$got" |
                                        awk '$3 < 0 || $3 > 1')"

# ---- every test image of a harder model: correct predictions = netrun eval's
"$synth" hard --classes 8 --size 10x10 --train 30 --test 20 --seed 5 >/dev/null
sed -e 's#bars/#hard/#; s#\[1, 12, 12\]#[1, 10, 10]#; s#units: 3#units: 8#; s#epochs: 4#epochs: 1#;
        s#lr: 0.1#lr: 0.02#' bars.yaml >hard.yaml
"$netrun" hard.yaml --out runs/hard >/dev/null 2>&1
eval_line=$("$netrun" eval hard.yaml --weights runs/hard/weights.bin 2>/dev/null)
eval_correct=$(sed -n 's/.*(\([0-9]*\)\/160)$/\1/p' <<<"$eval_line")
check "eval counts some, not all, of 160 ($eval_line)" test -n "$eval_correct" -a \
  "${eval_correct:-0}" -gt 0 -a "${eval_correct:-160}" -lt 160
# the model given as its weights file; 160 images in one call (10 batches)
mapfile -t images < <(find hard/Test -name '*.png' | sort)
for run in shared static; do
  got=$($run runs/hard/weights.bin "${images[@]}" 2>&1); status=$?
  check "$run: 160 images exit 0" test "$status" = 0
  check "$run: one line per image" test "$(grep -c ': [0-9] (p = ' <<<"$got")" = 160
  correct=$(awk -F'[/:]' 'NR > 1 { split($5, w, " "); if ($3 == w[1]) n++ } END { print n + 0 }' <<<"$got")
  check "$run: $correct correct, eval $eval_correct" test "$correct" = "$eval_correct"
done

# ---- errors: one line naming the path, exit 2, nothing on stdout
expect_example_error() {  # NAME WORDS ARGS...
  local name=$1 words=$2 status; shift 2
  shared "$@" >stdout 2>stderr; status=$?
  check "$name: exit 2 ($status)" test "$status" = 2
  check "$name: one line: $(cat stderr)" test "$(wc -l <stderr)" = 1
  check "$name: names '$words': $(cat stderr)" grep -qF -- "$words" stderr
}
expect_example_error "no model" "nope: error: no such file or folder" nope bars/Test/vertical/0000.png
check "no model: nothing on stdout" test ! -s stdout
mkdir empty
expect_example_error "no weights" "empty: error: no weights.bin" empty bars/Test/vertical/0000.png
expect_example_error "other size" "hard/Test/0/0000.png: error: a 1x10x10 image" \
  runs/bars hard/Test/0/0000.png
check "other size: names the model's shape" grep -q 'takes 1x12x12 images' stderr
printf 'not a png' >bad.png
expect_example_error "not a PNG" "bad.png: error:" runs/bars bad.png

cli_finish
