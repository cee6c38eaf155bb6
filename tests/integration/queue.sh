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
