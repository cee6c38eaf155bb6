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

# --- takeover: a stall produces no second copy ----------------------------------
Q="$ATOMCODE_HOME/telemetry/queue"
SOCK="$ATOMCODE_HOME/telemetry.sock"
st() { "$CLI" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
# until TENTHS CMD...: run CMD in this shell every 0.1 s until it succeeds.
until_ok() {
	_n=$1
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}
counter_is() { [ "$(st "s['counters']['$1']")" = "$2" ]; }
# once_each FIRST N: every ts FIRST..FIRST+N-1 is on disk exactly once.
once_each() {
	python3 - "$Q" "$1" "$2" <<'PY'
import collections, json, os, sys
q, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = collections.Counter()
for name in os.listdir(q):
    p = os.path.join(q, name)
    if os.path.islink(p) or not (name.endswith(".ndjson") or name.endswith(".partial")):
        continue
    for line in open(p):
        if line.strip():
            c[json.loads(line)["ts"]] += 1
want = range(first, first + n)
print("once=%d missing=%d dups=%d" % (sum(1 for t in want if c[t] == 1),
      sum(1 for t in want if c[t] == 0), sum(c[t] - 1 for t in want if c[t] > 1)))
PY
}
NONCE=0123456789abcdef0123456789abcdef
check "agent starts (takeover)" start_agent
mkdir -p "$Q"
ln -s "client:1-3" "$Q/$NONCE.takeover"
python3 - "$SOCK" "$TOP" "$GOLDEN/llm_chat.json" "$NONCE" >"$T/tko.out" 2>&1 <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
r = json.load(open(sys.argv[3]))
s = atc.connect(sys.argv[1])
atc.hello(s, nonce=sys.argv[4])
for i in range(4):
    r["ts"] = 5000 + i
    s.sendall(atc.frame(r))
s.sendall(atc.frame({"op": "flush"}))
print(atc.replies_until(s, "ack", seq=4)[-1])
PY
check "frames a library took over (marker client:1-3) are skipped, the rest stored ($(st 's["counters"]["taken_over"]') skipped)" \
    sh -c "grep -q \"'seq': 4\" '$T/tko.out'"
check "... exactly those 3 (persisted $(st 's["counters"]["persisted"]'))" \
    counter_is taken_over 3
check "... and the marker is gone with the connection" \
    wait_for "test ! -L '$Q/$NONCE.takeover'" 50
records 3 7000 | python3 -c '
import sys; sys.path.insert(0, sys.argv[2] + "/tests")
import atc, time
s = atc.connect(sys.argv[1]); atc.hello(s, nonce="fedcba9876543210fedcba9876543210")
for l in sys.stdin: s.sendall(atc.frame(l.strip()))
s.sendall(atc.frame({"op": "flush"})); atc.replies_until(s, "ack", seq=3)
import os; print(os.readlink(sys.argv[3]))' "$SOCK" "$TOP" \
    "$Q/fedcba9876543210fedcba9876543210.takeover" >"$T/claim.out" 2>&1
check "old frames make the agent claim the connection first ($(cat "$T/claim.out"))" \
    grep -qx agent "$T/claim.out"
check "... counted once" counter_is takeover_claims 1
stop_agent
"$CLI" clear >/dev/null 2>&1

# SIGSTOP: short-lived clients each time out, take their event over; the
# agent, continued, skips them: one copy of each.
check "agent starts (SIGSTOP)" start_agent
kill -STOP "$AGENT_PID"
i=0
while [ $i -lt 10 ]; do
	records 1 $((20000 + i)) | "$CLI" emit --raw 2>/dev/null
	i=$((i + 1))
done
kill -CONT "$AGENT_PID"
check "the continued agent skips the 10 taken-over events" \
    until_ok 50 counter_is taken_over 10
stop_agent
res=$(once_each 20000 10)
check "SIGSTOP: each of 10 events is on disk once ($res)" \
    test "$res" = "once=10 missing=0 dups=0"

# A slow disk (fdatasync 150 ms, fsync = always): the ack comes after the
# library gave up; the agent loses the race after writing and cuts its
# copy off again.
printf '[queue]\nfsync = always\n' >"$ATOMCODE_HOME/telemetryd.conf"
export LD_PRELOAD="$BUILD/tests/libfault.so" FAULT_MATCH=.partial FAULT_FSYNC_MS=150
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
check "agent starts (fdatasync takes 150 ms)" start_agent
unset LD_PRELOAD FAULT_MATCH FAULT_FSYNC_MS
i=0
while [ $i -lt 10 ]; do
	records 1 $((30000 + i)) | "$CLI" emit --raw 2>/dev/null
	sleep 0.3	# the agent is idle: the record arrives fresh
	"$CLI" emit tool_call --payload \
	    "{\"name\":\"read\",\"success\":true,\"duration_ms\":$((40000 + i))}" \
	    2>/dev/null
	i=$((i + 1))
done
sleep 0.5
tk=$(st 's["counters"]["taken_over"]')
cl=$(st 's["counters"]["takeover_claims"]')
stop_agent
res=$(once_each 30000 10)
check "slow disk, old records (the agent claims first): each of 10 once ($res)" \
    test "$res" = "once=10 missing=0 dups=0"
res=$(python3 - "$Q" <<'PY'
import collections, json, os, sys
q = sys.argv[1]
c = collections.Counter()
for name in os.listdir(q):
    p = os.path.join(q, name)
    if os.path.islink(p) or not (name.endswith(".ndjson") or name.endswith(".partial")):
        continue
    for line in open(p):
        r = json.loads(line)
        if r.get("event_id") == "tool_call":
            c[r["duration_ms"]] += 1
want = range(40000, 40010)
print("once=%d missing=%d dups=%d" % (sum(1 for t in want if c[t] == 1),
      sum(1 for t in want if c[t] == 0), sum(c[t] - 1 for t in want if c[t] > 1)))
PY
)
check "slow disk, fresh records (the library takes over during the write): each of 10 once ($res; $tk taken over, $cl claimed)" \
    test "$res" = "once=10 missing=0 dups=0"
