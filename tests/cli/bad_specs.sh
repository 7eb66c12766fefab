#!/usr/bin/env bash
# The bad-input corpus: every case of tests/bad_specs/EXPECTED (malformed
# specs, --set assignments, data and output folders) and a set of broken PNG
# files in dataset folders must give exit status 2 and exactly one error line
# (FILE:LINE:COL: error: ... or PATH: error: ...) with the expected words,
# print nothing on stdout, create no run folder, and never crash (a status
# >= 128 is a signal: a crash or a sanitizer abort).
# usage: tests/cli/bad_specs.sh PATH/TO/netrun   (NETRUN_BINARY_DIR: the build dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init bad_specs "${1:-}"
corpus=$src/tests/bad_specs
need_tools "$synth" "$pngcraft"

# An AddressSanitizer build cannot run under `ulimit -v` (its shadow memory
# is terabytes of address space); there, an allocation above 256 MiB aborts
# the process instead, which the status check below reports as a crash.
asan=0
grep -q '^NETRUN_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null && asan=1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=0:max_allocation_size_mb=256
# one BLAS thread: OpenBLAS threads reserve memory of their own at start
export OPENBLAS_NUM_THREADS=1
# the normal build's address-space limit for every case: room for netrun and
# its threads, but not for the pixels a forged PNG header claims (16384 x
# 16384 RGB, twice: 1.6 GB) nor for a 1 GiB chunk
vlimit_kb=1000000

mkdir -p "$tmp/cwd" "$tmp/gen" "$tmp/out"
"$synth" "$tmp/data" --classes 3 --size 12x12 --train 4 --test 2 >/dev/null || {
  echo "FAIL: netrun-synth" >&2; echo "0 passed, 1 failed"; exit 1; }
"$synth" "$tmp/data4" --classes 4 --size 12x12 --train 4 --test 2 >/dev/null || {
  echo "FAIL: netrun-synth" >&2; echo "0 passed, 1 failed"; exit 1; }
# one class: the first class folder of each
mkdir -p "$tmp/data1/Train" "$tmp/data1/Test"
cp -r "$tmp/data/Train/0" "$tmp/data1/Train/" && cp -r "$tmp/data/Test/0" "$tmp/data1/Test/"
echo "not a folder" >"$tmp/regular-file"

# run_case NAME WORDS PREFIX MODE -- ARGS...: `netrun ARGS` in $tmp/cwd under
# the memory limit. PREFIX: the error line must start with it; "-" = with
# "PATH: error: " where PATH has no :LINE:COL. MODE "train" tolerates
# "netrun: loading ..." lines before the error.
run_case() {
  local name=$1 words=$2 prefix=$3 mode=$4; shift 5
  local status out errline head word
  (
    cd "$tmp/cwd" || exit 99
    ((asan)) || ulimit -v "$vlimit_kb"
    exec timeout 300 "$netrun" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  )
  status=$?
  out=$(cat "$tmp/stdout")
  if ((status == 124)); then fail "$name: timed out"; return; fi
  if ((status >= 128)); then fail "$name: crashed (status $status): $(head -c 2000 "$tmp/stderr")"; return; fi
  if ((status != 2)); then fail "$name: exit $status, expected 2: $(head -c 2000 "$tmp/stderr")"; return; fi
  if [[ -n $out ]]; then fail "$name: printed on stdout: ${out:0:300}"; return; fi
  local lines
  if [[ $mode == train ]]; then
    lines=$(grep -v '^netrun: loading ' "$tmp/stderr")
  else
    lines=$(cat "$tmp/stderr")
  fi
  if [[ -z $lines || $(printf '%s\n' "$lines" | wc -l) != 1 ]]; then
    fail "$name: not exactly one error line on stderr: $(head -c 2000 "$tmp/stderr")"; return
  fi
  errline=$lines
  if [[ $prefix == - ]]; then
    head=${errline%%: error: *}
    if [[ $head == "$errline" || -z $head || $head =~ :[0-9]+:[0-9]+$ ]]; then
      fail "$name: '$errline' does not start with 'PATH: error: '"; return
    fi
  elif [[ $errline != "$prefix"* ]]; then
    fail "$name: '$errline' does not start with '$prefix'"; return
  fi
  for word in $words; do
    if [[ $errline != *"$word"* ]]; then fail "$name: '$errline' lacks '$word'"; return; fi
  done
  if [[ -e $tmp/cwd/runs ]]; then fail "$name: created a runs folder"; rm -rf "$tmp/cwd/runs"; return; fi
  ok
}

# ---- generated cases (binary, huge or deep files; not kept in the repo)
base_head=$'data:\n  train: a\n  test: b\nnetwork:\n  input: [1, 4, 4]\n'
base_tail=$base_head$'  layers: [relu]\n'
generate() {  # generate NAME FILE: writes the case NAME to FILE; 1 if unknown
  local f=$2
  case $1 in
  binary_garbage.yaml)   # the start of an ELF executable
    printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000>\000' >"$f" ;;
  non_utf8.yaml)         # Latin-1 e-acute
    printf '# Latin-1, not UTF-8\nname: non_utf8\ndescription: caf\351 au lait\n%s' "$base_tail" >"$f" ;;
  nul_byte.yaml)
    printf '# a NUL byte\nname: a\000b\n%s' "$base_tail" >"$f" ;;
  control_char.yaml)     # an ANSI escape sequence
    printf '# ESC\ndescription: red \033[31mtext\033[0m\nname: x\n%s' "$base_tail" >"$f" ;;
  huge_string.yaml)
    { printf '# one value of 70000 bytes\nname: huge_string\ndescription: '
      head -c 70000 /dev/zero | tr '\0' x; printf '\n%s' "$base_tail"; } >"$f" ;;
  huge_key.yaml)
    { printf '# one key of 70000 bytes (explicit: libyaml limits implicit keys to 1024)\nname: huge_key\n? '
      head -c 70000 /dev/zero | tr '\0' k; printf '\n: 1\n%s' "$base_tail"; } >"$f" ;;
  huge_file.yaml)        # 1.1 MiB of comments
    { printf 'name: huge_file\n%s' "$base_tail"
      for ((i = 0; i < 18000; i++)); do printf '# %061d\n' "$i"; done; } >"$f" ;;
  deep_nesting_huge.yaml)  # 100000 nested lists
    { printf '# 100000 nested lists\ndescription: '
      head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'
      printf '\n'; } >"$f" ;;
  too_many_layers.yaml)
    { printf '# 1001 layers (the limit is 1000)\nname: too_many_layers\n%s' "$base_head"
      printf '  layers:\n'; for ((i = 0; i < 1001; i++)); do printf '  - relu\n'; done; } >"$f" ;;
  spec_is_directory.yaml)
    mkdir -p "$f" ;;
  missing_spec.yaml)
    rm -rf "$f" ;;
  *) return 1 ;;
  esac
}

# ---- the spec corpus
if [[ ! -f $corpus/EXPECTED ]]; then
  echo "FAIL: $corpus/EXPECTED missing" >&2; echo "0 passed, 1 failed"; exit 1
fi
declare -A listed=()
cases=0
while IFS=$'\t' read -r file position words extra; do
  [[ -z $file || $file == \#* ]] && continue
  if [[ -z $position || -z $words || -n ${extra:-} ]]; then
    fail "EXPECTED: malformed line for '$file' (want FILE<TAB>POSITION<TAB>WORDS)"; continue
  fi
  if [[ -n ${listed[$file]:-} ]]; then fail "EXPECTED: '$file' listed twice"; continue; fi
  listed[$file]=1
  cases=$((cases + 1))
  name=${file%.yaml}
  if [[ -e $corpus/$file ]]; then
    spec=$corpus/$file
  else
    spec=$tmp/gen/$file
    if ! generate "$file" "$spec"; then fail "$file: not in $corpus and no generator"; continue; fi
  fi
  mode=check
  args=()
  if [[ -f $corpus/$name.args ]]; then
    mapfile -t args <"$corpus/$name.args"
    mode=${args[0]}
    args=("${args[@]:1}")
  fi
  for i in "${!args[@]}"; do
    args[i]=${args[i]//@DATA@/$tmp/data}
    args[i]=${args[i]//@DATA1@/$tmp/data1}
    args[i]=${args[i]//@DATA4@/$tmp/data4}
    args[i]=${args[i]//@FILE@/$tmp/regular-file}
  done
  case $position in
  -) prefix=- ;;
  set:[0-9]*:[0-9]*)
    assignment=
    for i in "${!args[@]}"; do
      if [[ ${args[i]} == --set ]]; then assignment=${args[i + 1]:-}; break; fi
    done
    prefix="--set $assignment:${position#set:}: error: " ;;
  [0-9]*:[0-9]*) prefix="$spec:$position: error: " ;;
  *) fail "$file: bad position '$position'"; continue ;;
  esac
  case $mode in
  check) run_case "$file" "$words" "$prefix" check -- check "${args[@]}" "$spec" ;;
  train)
    has_out=0
    for a in "${args[@]}"; do [[ $a == --out || $a == -o ]] && has_out=1; done
    out_args=()
    ((has_out)) || out_args=(--out "$tmp/out/$name")
    run_case "$file" "$words" "$prefix" train -- "$spec" --set train.epochs=1 --set threads=1 \
      --set train.batch_size=4 "${args[@]}" "${out_args[@]}"
    if [[ -e $tmp/out/$name ]]; then fail "$file: created its run folder"; fi ;;
  *) fail "$file: unknown mode '$mode' in $name.args" ;;
  esac
done <"$corpus/EXPECTED"

# every file of the corpus is a listed case
for f in "$corpus"/*; do
  base=${f##*/}
  case $base in
  EXPECTED) ;;
  *.args) [[ -n ${listed[${base%.args}.yaml]:-} ]] || fail "$base: no case ${base%.args}.yaml in EXPECTED" ;;
  *) [[ -n ${listed[$base]:-} ]] || fail "$base: not listed in EXPECTED" ;;
  esac
done
if ((cases < 40)); then fail "only $cases spec cases (want at least 40)"; fi

# ---- broken PNG files in a dataset folder: the error names the file.
# Each kind is put (1) after the good images of class 1 and loaded with
# `netrun data`, and (2) before them, as the first image, which `netrun SPEC`
# probes for the input shape and then decodes. KIND<TAB>WORDS:
png_cases=$(cat <<'EOF'
truncated	truncated PNG
no-iend	truncated PNG
signature	truncated PNG
huge-chunk	truncated PNG
bad-crc	corrupt PNG CRC error
bad-zlib	corrupt PNG
short-data	corrupt PNG Not enough image data
huge	100000x100000 larger than the 16384x16384 limit
claims-max	truncated PNG 16384x16384 cannot fit
zero-width	corrupt PNG IHDR
bad-ihdr	corrupt PNG IHDR
palette-oob	palette index 5 out of range
no-plte	corrupt PNG PLTE
rgb	3x12x12 all images of a dataset must have the same shape
smaller	1x10x12 all images of a dataset must have the same shape
empty	empty file (0 bytes)
text	not a PNG file
folder	a folder, not an image file
fifo	not a regular file
EOF
)
make_bad() {  # make_bad KIND FILE
  case $1 in
  empty) : >"$2" ;;
  text) echo "hello, not an image" >"$2" ;;
  folder) mkdir "$2" ;;
  fifo) mkfifo "$2" ;;
  smaller) "$pngcraft" good "$2" 12 10 ;;
  *) "$pngcraft" "$1" "$2" ;;
  esac
}
png_count=0
while IFS=$'\t' read -r kind words; do
  png_count=$((png_count + 1))
  last=$tmp/png-$kind-last
  cp -r "$tmp/data/Train" "$last"
  if ! make_bad "$kind" "$last/1/_bad.png"; then fail "png $kind: cannot make the file"; continue; fi
  run_case "png $kind (last image, netrun data)" "$words" "$last/1/_bad.png: error: " check -- data "$last"

  first=$tmp/png-$kind-first
  cp -r "$tmp/data/Train" "$first"
  make_bad "$kind" "$first/0/+bad.png"
  cat >"$tmp/png-$kind.yaml" <<EOF
name: png_$kind
data: {train: $first, test: $tmp/data/Test}
network:
  layers: [{dense: {units: 3}}, softmax]
EOF
  # an image of another shape than the rest is named with both shapes; when
  # it comes first, the error line names the next image, the first odd one
  first_prefix="$first/0/+bad.png: error: " first_words=$words
  if [[ $kind == rgb || $kind == smaller ]]; then
    # the first images' headers (read before decoding) already disagree with Test's
    first_words="first image $tmp/data/Test/0/0000.png same shape"
  fi
  run_case "png $kind (first image, netrun SPEC)" "$first_words" "$first_prefix" train -- \
    "$tmp/png-$kind.yaml" --set train.epochs=1 --set threads=1 --set train.batch_size=4 \
    --out "$tmp/out/png-$kind"
  if [[ -e $tmp/out/png-$kind ]]; then fail "png $kind: created its run folder"; fi
done <<<"$png_cases"

echo "cli bad_specs: $cases spec cases, $png_count PNG kinds ($((2 * png_count)) runs)$( ((asan)) && echo ', ASan build' || echo ", ulimit -v $vlimit_kb")"
cli_finish
