#!/bin/sh
# Golden round trip: the upstream golden records, sent unchanged
# with `emit --raw`, come back byte for byte from `dump --pretty` — through
# the agent and through the library's fallback (no agent). The few whose
# values the privacy firewall reduces come back as recorded in
# tests/compat/expected/ (see its README).
. "$(dirname "$0")/lib.sh"

printf '[queue]\nroll_interval_ms = 50\n' >"$ATOMCODE_HOME/telemetryd.conf"
ls "$GOLDEN"/*.json | sort >"$T/list"
n=$(wc -l <"$T/list")
: >"$T/expected"
: >"$T/input"
: >"$T/stored"
while read -r f; do
	e="$GOLDEN/expected/$(basename "$f")"
	[ -f "$e" ] || e=$f
	cat "$e" >>"$T/expected"
	python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$f" >>"$T/input"
	python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$e" >>"$T/stored"
done <"$T/list"

wait_events() { # wait_events N: until the ready queue holds N events
	i=0
	while [ $i -lt 100 ]; do
		"$CLI" status --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["queue"]["events"]==int(sys.argv[1]) else 1)' "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

check "agent starts and prints the status line" start_agent
check "startup line is exactly 'Telemetry: enabled'" \
    test "$(cat "$T/agent.out")" = "Telemetry: enabled"
check "emit --raw of $n golden records succeeds" sh -c "'$CLI' emit --raw <'$T/input'"
check "all $n records reach a ready segment" wait_events "$n"
persisted=$("$CLI" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["persisted"])')
check "the agent persisted all $n records itself (got $persisted)" test "$persisted" = "$n"
"$CLI" dump --last "$n" --pretty >"$T/got"
check "dump --pretty reproduces every golden file (agent path)" cmp "$T/expected" "$T/got"
"$CLI" dump --last 1 >"$T/raw1"
tail -n 1 "$T/stored" >"$T/last1"
check "dump (raw) prints the stored line as it is" cmp "$T/last1" "$T/raw1"
stop_agent
check "agent exited on SIGTERM" sh -c "! kill -0 $AGENT_PID 2>/dev/null"

"$CLI" clear >/dev/null
check "queue cleared" test "$("$CLI" dump 2>&1)" = "(no queued events)"
check "emit --raw with no agent succeeds (fallback)" sh -c "'$CLI' emit --raw <'$T/input'"
check "no agent was started" test ! -S "$ATOMCODE_HOME/telemetry.sock"
"$CLI" dump --last "$n" --pretty >"$T/got2"
check "dump --pretty reproduces every golden file (fallback path)" cmp "$T/expected" "$T/got2"
