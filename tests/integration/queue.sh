#!/bin/sh
# queue.sh — multi-process stress of the segment store: 2 writers (with
# crashing children and reopens) and 2 claimants on one directory for 10 s,
# then recovery, drain and an exactly-once check (tests/tools/queue_hammer.c).
. "$(dirname "$0")/lib.sh"

HAMMER="$BUILD/tests/queue_hammer"
if [ ! -x "$HAMMER" ]; then
	fail "queue hammer: $HAMMER not built"
	exit 0
fi
if "$HAMMER" 10 "$T" >"$T/hammer.out" 2>"$T/hammer.err"; then
	ok "queue hammer: $(sed -n 's/^queue_hammer: //p' "$T/hammer.out")"
else
	fail "queue hammer: $(cat "$T/hammer.out" "$T/hammer.err" |
	    tr "\\n" " ")"
fi
# Nothing may be left in the queue directory after the final drain.
left=$(find "$T/queue" -type f 2>/dev/null | wc -l)
check "queue hammer leaves an empty queue directory" [ "$left" -eq 0 ]

# A fallback close costs one journal commit: the segment is fsynced before
# its rename, the directory is not (a lost rename leaves a managed partial,
# which recovery promotes).
export ATOMCODE_HOME="$T/fb"
mkdir -m 700 "$ATOMCODE_HOME"
printf '0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4' >"$ATOMCODE_HOME/device_id"
if command -v strace >/dev/null 2>&1; then
	strace -f -qq -e trace=fsync,fdatasync -o "$T/fb.strace" \
	    "$BUILD/tests/example" -A -n 3 >"$T/fb.out" 2>&1
	n=$(grep -c 'sync(' "$T/fb.strace")
	check "a fallback close does exactly one fsync ($n)" [ "$n" -eq 1 ]
	check "... and leaves one ready segment of 4 events" \
	    sh -c "[ \$(cat '$ATOMCODE_HOME'/telemetry/queue/*.ndjson | wc -l) -eq 4 ]"
else
	fail "strace is not installed (.ci/run installs it)"
fi
