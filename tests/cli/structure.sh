#!/usr/bin/env bash
# The code's structure has no cycle (issue 12): no two modules (object
# files: netspec, the engine, the command line) need each other, directly or
# through others, and no header includes itself through others
# (tools/structure). First the tool itself is shown to find a cycle in two
# made-up objects, so this test can fail.
# usage: tests/cli/structure.sh PATH/TO/netrun
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
cli_init structure "${1:-}"
tool=$src/tools/structure

# --- the tool finds a cycle, and passes the same code without it
mkdir -p "$tmp/cyc" "$tmp/acyc"
printf 'int b(void);\nint a(void) { return b() + 1; }\n' >"$tmp/a.c"
printf 'int a(void);\nint b(void) { return a() + 1; }\n' >"$tmp/b.c"
printf 'int b(void) { return 1; }\n' >"$tmp/b_leaf.c"
cc -c "$tmp/a.c" -o "$tmp/cyc/a.c.o" && cc -c "$tmp/b.c" -o "$tmp/cyc/b.c.o" &&
  cc -c "$tmp/a.c" -o "$tmp/acyc/a.c.o" && cc -c "$tmp/b_leaf.c" -o "$tmp/acyc/b.c.o" || exit 1
"$tool" "$tmp/cyc" >"$tmp/out" 2>&1; status=$?
check "a made-up cycle is found (exit $status)" test "$status" = 1
check "the cycle names both modules and the symbols" grep -q '^  a -> b: b$' "$tmp/out"
"$tool" "$tmp/acyc" >"$tmp/out" 2>&1; status=$?
check "without the cycle: exit $status" test "$status" = 0
mkdir -p "$tmp/inc"
printf '#include "y.h"\n' >"$tmp/inc/x.h"
printf '#include "x.h"\n' >"$tmp/inc/y.h"
"$tool" "$tmp/acyc" --include-root "$tmp/inc" >"$tmp/out" 2>&1; status=$?
check "a made-up include cycle is found (exit $status)" test "$status" = 1
"$tool" "$tmp/empty-none" >"$tmp/out" 2>&1; status=$?
check "no objects: exit 2 ($status)" test "$status" = 2

# --- netrun itself
objs=()
for target in netspec netrun_engine netrun; do
  objs+=("$bin/CMakeFiles/$target.dir")
done
"$tool" "${objs[@]}" --include-root "$src/include" "$src/src" "$src/netspec" >"$tmp/out" 2>&1
status=$?
check "netrun has no link or include cycle (exit $status)" test "$status" = 0
[[ $status == 0 ]] || cat "$tmp/out" >&2
check "every engine module was seen" grep -qE '^structure: ([5-9][0-9]|[1-9][0-9]{2,}) modules' "$tmp/out"

cli_finish
