#!/bin/sh
# Run every unit test binary (cmocka) and integration script, then print one
# summary line "N passed, N failed". Usage: tests/run.sh BUILD_DIR [filter]
set -u
build=$(cd "${1:-build}" && pwd)
filter=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
export BUILD="$build" TOP="$top" CMOCKA_MESSAGE_OUTPUT=stdout
passed=0
failed=0
failures=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	timeout 300 "$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1	# crashed, sanitizer report or timeout
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		failures="$failures $name"
		cat "$log"
	fi
	echo "unit  $name: $p passed, $f failed"
done

for t in "$top"/tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ "$name" = lib ] && continue
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	timeout 600 sh "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited $rc" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		failures="$failures $name"
		cat "$log"
	fi
	echo "integ $name: $p passed, $f failed"
done

[ -n "$failures" ] && echo "failing:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
