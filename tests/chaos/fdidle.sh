#!/bin/sh
# Chaos 7: out of descriptors with idle connections. The agent runs with a
# low descriptor limit while a process holds far more idle connections
# than it has descriptors (2,000 at 256; 1,100 at 1,024). Meanwhile a
# client sends 1,000 events and waits for its ack (two new segments), and
# 4 × 1,000 short clients connect, send one event and close without
# waiting. Every event must be stored exactly once, no storage error may
# occur, the agent must keep answering status and must not spin. Prints
# sent / stored / lost / duplicated per phase.
. "$(dirname "$0")/lib.sh"
STORM="$BUILD/tests/storm"
STORM_PROCS=4
STORM_N=1000
RT_N=1000		# events of the acked client
STATUS_BOUND_MS=3000	# status answered within this, idle table full
SPIN_TICKS=30		# CPU ticks (1/100 s) over 1 s of idleness: not spinning

# phase NAME FDS IDLE BASE: one agent at FDS descriptors, IDLE connections.
phase() {
	name=$1 fds=$2 idle=$3 base=$4
	export ATOMCODE_HOME="$T/$name"
	mkdir -m 700 "$ATOMCODE_HOME"
	SOCK="$ATOMCODE_HOME/telemetry.sock"
	Q="$ATOMCODE_HOME/telemetry/queue"
	if ! start_agent; then
		fail "$name: agent starts"
		return
	fi
	prlimit --pid "$AGENT_PID" --nofile="$fds:$fds"
	rm -f "$T/$name.stop" "$T/$name.held"
	python3 - "$SOCK" "$TOP" "$idle" "$T/$name.held" "$T/$name.stop" \
	    >"$T/$name.idle.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
held = []
for i in range(int(sys.argv[3])):
    s = atc.connect(sys.argv[1], timeout=10)
    atc.hello(s)
    held.append(s)
open(sys.argv[4], "w").write("%d\n" % len(held))
t0 = time.time()
while not os.path.exists(sys.argv[5]) and time.time() - t0 < 120:
    time.sleep(0.1)
print("held", len(held))
PY
	IPID=$!
	PIDS="$PIDS $IPID"
	poll 300 test -s "$T/$name.held"
	check "$name: $idle idle connections opened at a $fds-descriptor limit" \
	    test "$(cat "$T/$name.held" 2>/dev/null)" = "$idle"
	sleep 2		# the backlog cycles through the client limit
	t0=$(cpu_ms "$AGENT_PID")
	sleep 1
	t1=$(cpu_ms "$AGENT_PID")
	check "$name: the agent does not spin with its table full ($((t1 - t0)) ms CPU in 1 s)" \
	    test $((t1 - t0)) -lt $((SPIN_TICKS * 10))
	s0=$(now_ms)
	"$CLI" status --json >"$T/$name.s1" 2>&1
	s1=$(now_ms)
	check "$name: status answers in $((s1 - s0)) ms (bound $STATUS_BOUND_MS)" \
	    sh -c "grep -q '\"running\":true' '$T/$name.s1' && [ $((s1 - s0)) -le $STATUS_BOUND_MS ]"

	# 1,000 events from one client that waits for its ack: two new segments.
	python3 - "$SOCK" "$TOP" "$GOLDEN/open_atomcode.json" "$base" "$RT_N" \
	    >"$T/$name.rt.out" 2>&1 <<'PY'
import json, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
rec = json.load(open(sys.argv[3]))
base, n = int(sys.argv[4]), int(sys.argv[5])
s = atc.connect(sys.argv[1], timeout=10)
s.settimeout(20)
atc.hello(s)
for i in range(0, n, 100):
    b = b""
    for k in range(i, min(n, i + 100)):
        rec["ts"] = base + k
        b += atc.frame(rec)
    s.sendall(b)
s.sendall(atc.frame({"op": "flush"}))
r = atc.replies_until(s, "ack", seq=n)
print("acked", max([f["seq"] for f in r if f.get("op") == "ack"] or [0]),
      "errors", sum(1 for f in r if f.get("op") == "error"))
PY
	rt=$(cat "$T/$name.rt.out")
	check "$name: $RT_N events acked, no error ($rt)" \
	    test "$rt" = "acked $RT_N errors 0"

	# 4 × 1,000 short clients: connect, hello, one event, close.
	"$STORM" seq "$SOCK" "$STORM_PROCS" "$STORM_N" $((base + RT_N)) \
	    >"$T/$name.storm.out" 2>&1
	st=$(cat "$T/$name.storm.out")
	sent=$(( RT_N + $(kv sent "$(echo "$st" | sed 's/ \([0-9]\)/=\1/g')") ))
	check "$name: every short client's write accepted ($st)" \
	    grep -q "^sent $((STORM_PROCS * STORM_N)) failed 0 " "$T/$name.storm.out"

	ctr=$(sfield '" ".join("%s=%s" % (k, s["counters"][k]) for k in ("persisted","write_errors","storage_dropped","conns_evicted"))')
	echo "# $name counters: $ctr"
	check "$name: no storage error ($ctr)" \
	    sh -c "[ '$(kv write_errors "$ctr")' = 0 ] && [ '$(kv storage_dropped "$ctr")' = 0 ]"
	: >"$T/$name.stop"
	wait "$IPID" 2>/dev/null
	forget_pid "$IPID"
	stop_agent_forget
	total=$((RT_N + STORM_PROCS * STORM_N))
	"$STORM" count "$base" "$total" "$Q" >"$T/$name.count" 2>&1
	c=$(cat "$T/$name.count")
	stored=$(echo "$c" | awk '{print $2}')
	lost=$(echo "$c" | awk '{print $4}')
	dup=$(echo "$c" | awk '{print $6}')
	echo "# $name: sent $sent stored $stored lost $lost duplicated $dup"
	check "$name: sent $sent, stored $stored, lost $lost, duplicated $dup" \
	    test "$sent" = "$total" -a "$stored" = "$total" -a "$lost" = 0 -a \
	    "$dup" = 0
	SUMMARY="$SUMMARY $name: sent=$sent stored=$stored lost=$lost dup=$dup evicted=$(kv conns_evicted "$ctr");"
}

SUMMARY=""
phase fd256 256 2000 100000000
phase fd1024 1024 1100 200000000
result "$SUMMARY"
