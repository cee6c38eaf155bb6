#!/bin/sh
# Chaos scenarios (README "Reliability"): build the C helpers against the libraries in
# BUILD_DIR, run every scenario script in a fixed order, each bounded by a
# timeout and with its own private ATOMCODE_HOME, print its ok/not ok lines
# and its result line, then "N passed, N failed" (exit 1 on any failure).
# Usage: tests/chaos/run.sh BUILD_DIR [filter]
#   CHAOS_SEED=n   seed of the kill schedule (kill9)
#   CHAOS_KILLS=n  number of SIGKILLs (kill9, default 100)
set -u
build=$(cd "${1:-build}" && pwd)
filter=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD="$build" TOP="$top" CHAOS_BIN="$build/chaos"
SCENARIOS="kill9 diskfull outage hostile spawn50 corrupt fdidle clockskew offline stall diskroll planted wwqueue"
passed=0
failed=0
failures=""
log=$(mktemp /tmp/atc-chaos-log.XXXXXX)
trap 'rm -f "$log"' EXIT

# C helpers: against the static libraries plus the pkg-config libraries.
mkdir -p "$CHAOS_BIN"
for src in "$top"/tests/chaos/*.c; do
	[ -f "$src" ] || continue
	bin="$CHAOS_BIN/$(basename "$src" .c)"
	if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
	    -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	    ${CHAOS_CFLAGS:--O2 -g} -I"$top/include" -I"$top/proto" \
	    -o "$bin" "$src" "$build/libagent.a" \
	    "$build/libatomcode-telemetry.a" \
	    $(pkg-config --libs libevent jansson inih libcurl uuid zlib) \
	    -lpthread; then
		echo "not ok - build $(basename "$src")"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

for name in $SCENARIOS; do
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	t="$top/tests/chaos/$name.sh"
	echo "=== $name"
	t0=$(date +%s)
	timeout -k 10 "${CHAOS_TIMEOUT:-420}" sh "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited $rc" >>"$log"
	fi
	grep -q "^result $name:" "$log" || \
	    echo "result $name: $p passed, $f failed; (no result line: exit $rc)" >>"$log"
	cat "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" != 0 ] && failures="$failures $name"
	echo "=== $name: $p passed, $f failed (${secs} s)"
done

[ -n "$failures" ] && echo "failing:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
