#!/bin/sh
# stall.sh — a stalled agent (SIGSTOP) costs a CLI `emit` the library's
# close bound (~100 ms), not a second; what it could not confirm goes to a
# fallback segment.
. "$(dirname "$0")/lib.sh"

# ms CMD...: run CMD, print its wall time in ms.
ms() {
	python3 -c 'import subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(int((time.monotonic() - t) * 1000))' "$@"
}

check "agent starts" start_agent
"$CLI" emit open_atomcode >/dev/null 2>&1	# first-run notice, device_id
kill -STOP "$AGENT_PID"
t1=$(ms "$CLI" emit open_atomcode)
t2=$(ms "$CLI" emit tool_call --payload '{"name":"read","success":true,"duration_ms":1}')
kill -CONT "$AGENT_PID"
check "emit against a stopped agent returns within the close bound ($t1 ms, $t2 ms; bound 100 ms + process start)" \
    test "$t1" -lt 600 -a "$t2" -lt 600
stop_agent
