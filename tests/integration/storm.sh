#!/bin/sh
# Client storms (accept with backpressure): short-lived clients that send
# and close without waiting for an ack, as fast as they can, and many at
# once. Every event must be stored exactly once: counted by its unique ts
# in the queue and in what the collector received (tests/tools/storm.c).
# Also: at the client limit only truly idle clients are closed, and what
# an evicted client sent is stored; low descriptor limits with many idle
# connections never make storage fail.
. "$(dirname "$0")/lib.sh"
STORM="$BUILD/tests/storm"
Q="$ATOMCODE_HOME/telemetry/queue"
SOCK="$ATOMCODE_HOME/telemetry.sock"
printf '[upload]\nbackoff_scale_pct = 1\n' >"$ATOMCODE_HOME/telemetryd.conf"

# counter NAME: one counter from the agent's status.
counter() {
	"$CLI" status --json | python3 -c \
	    'import json,sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"
}

check "collector starts" start_collector
check "agent starts" start_agent

# --- 4 × 5,000 unpaced connect/hello/event/close ------------------------------
"$STORM" seq "$SOCK" 4 5000 1000000 >"$T/seq.out" 2>&1
check "4 × 5,000 unpaced clients: every write accepted ($(cat "$T/seq.out"))" \
    grep -q '^sent 20000 failed 0 ' "$T/seq.out"
check "... and the agent received all 20,000 frames" \
    wait_for "[ \$(\"$CLI\" status --json | grep -o '\"persisted\":[0-9]*' | cut -d: -f2) -ge 20000 ]" 300
# --- 1,000 concurrent clients, each sending then closing ----------------------
"$STORM" conc "$SOCK" 10 100 2000000 >"$T/conc.out" 2>&1
check "1,000 concurrent clients: every write accepted ($(cat "$T/conc.out"))" \
    grep -q '^sent 1000 failed 0 ' "$T/conc.out"
check "... and the agent received all 1,000 frames" \
    wait_for "[ \$(\"$CLI\" status --json | grep -o '\"persisted\":[0-9]*' | cut -d: -f2) -ge 21000 ]" 100
ev=$(counter conns_evicted)
check "no client with unread data was evicted (conns_evicted $ev)" test "$ev" = 0
# Stop once the uploads are done: one cut mid-upload is re-sent later with
# the same Idempotency-Key (README "Queue on disk"), not counted here.
check "the agent uploads all 21,000" wait_for "[ \$(\"$CLI\" status --json | grep -o '\"uploaded_events\":[0-9]*' | cut -d: -f2) -ge 21000 ]" 300
stop_agent
"$STORM" count 1000000 20000 "$Q" "$T/collector.log" >"$T/count1" 2>&1
check "storm: every event stored exactly once ($(cat "$T/count1"))" \
    grep -q '^stored 20000 lost 0 duplicated 0$' "$T/count1"
"$STORM" count 2000000 1000 "$Q" "$T/collector.log" >"$T/count2" 2>&1
check "concurrent: every event stored exactly once ($(cat "$T/count2"))" \
    grep -q '^stored 1000 lost 0 duplicated 0$' "$T/count2"

# --- the same storm through a small client limit (64 descriptors) -------------
# 48 clients at most: most connections wait in the listen backlog while the
# agent is at its limit; none may be closed with its event unread.
check "agent starts (64 descriptors)" start_agent
prlimit --pid "$AGENT_PID" --nofile=64:64
"$STORM" seq "$SOCK" 4 2000 3000000 >"$T/seq64.out" 2>&1
"$STORM" conc "$SOCK" 4 100 4000000 >"$T/conc64.out" 2>&1
check "64 descriptors: every write accepted ($(cat "$T/seq64.out"); $(cat "$T/conc64.out"))" \
    sh -c "grep -q '^sent 8000 failed 0 ' '$T/seq64.out' && grep -q '^sent 400 failed 0 ' '$T/conc64.out'"
ev=$(counter conns_evicted)
check "... no busy client was evicted (conns_evicted $ev)" test "$ev" = 0
check "... the agent uploads all 8,400" wait_for "[ \$(\"$CLI\" status --json | grep -o '\"uploaded_events\":[0-9]*' | cut -d: -f2) -ge 8400 ]" 300
stop_agent
"$STORM" count 3000000 8000 "$Q" "$T/collector.log" >"$T/count3" 2>&1
"$STORM" count 4000000 400 "$Q" "$T/collector.log" >"$T/count4" 2>&1
check "64 descriptors: every event stored exactly once ($(cat "$T/count3"); $(cat "$T/count4"))" \
    sh -c "grep -q '^stored 8000 lost 0 duplicated 0$' '$T/count3' && grep -q '^stored 400 lost 0 duplicated 0$' '$T/count4'"

# --- at the client limit: only truly idle clients make room -----------------
# 64 descriptors: as many idle clients as the agent takes (hello answered,
# quiet), then a newcomer: the longest-idle one is closed for it, and a
# write the closed client tries afterwards fails (EPIPE): it is told, never
# silently dropped.
export ATOMCODE_HOME="$T/idle"
mkdir -m 700 "$ATOMCODE_HOME"
SOCK="$ATOMCODE_HOME/telemetry.sock"
check "agent starts (idle clients)" start_agent
prlimit --pid "$AGENT_PID" --nofile=64:64
python3 - "$SOCK" "$TOP" "$GOLDEN/open_atomcode.json" >"$T/idle.out" 2>&1 <<'PY'
import json, socket, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
rec = json.load(open(sys.argv[3]))
s = atc.connect(sys.argv[1])
s.sendall(atc.frame({"op": "status"}))
limit = atc.replies_until(s, "status")[-1]["clients_max"]
s.close()
print("limit", limit)
time.sleep(0.1)
held = []
for i in range(limit):
    s = atc.connect(sys.argv[1])
    atc.hello(s)
    assert atc.recv_frame(s)["op"] == "hello"
    held.append(s)
time.sleep(0.4)                       # all quiet past the eviction age
s = atc.connect(sys.argv[1])
atc.hello(s)
rec["ts"] = 42
s.sendall(atc.frame(rec) + atc.frame({"op": "flush"}))
acks = [f for f in atc.replies_until(s, "ack", seq=1) if f.get("op") == "ack"]
print("newcomer", acks[-1]["seq"] if acks else None)
gone = 0
for h in held:
    h.setblocking(False)
    try:
        if h.recv(1) == b"":
            gone += 1
            try:
                h.send(atc.frame(rec))
                print("write-after-evict accepted")
            except (BrokenPipeError, ConnectionResetError):
                print("write-after-evict EPIPE")
    except BlockingIOError:
        pass
print("evicted", gone)
PY
check "a newcomer at the client limit is served ($(grep newcomer "$T/idle.out"))" \
    grep -q '^newcomer 1$' "$T/idle.out"
check "... one truly idle client made room ($(grep '^evicted' "$T/idle.out"))" \
    grep -q '^evicted 1$' "$T/idle.out"
check "... and a write it tries afterwards fails with EPIPE" \
    grep -q '^write-after-evict EPIPE$' "$T/idle.out"
stop_agent

# --- out of descriptors with many idle connections: storage goes on ----------
# 200 idle connections at a 64-descriptor limit; then a client sends 2,000
# events (four new segments) and waits for its ack: all stored, no storage
# error (before, the agent filled its table with clients and refused every
# event once it needed a new segment).
export ATOMCODE_HOME="$T/fds"
mkdir -m 700 "$ATOMCODE_HOME"
SOCK="$ATOMCODE_HOME/telemetry.sock"
check "agent starts (fd exhaustion)" start_agent
prlimit --pid "$AGENT_PID" --nofile=64:64
records 2000 5000000 >"$T/fds.ndjson"
python3 - "$SOCK" "$TOP" "$T/fds.ndjson" >"$T/fds.out" 2>&1 <<'PY'
import sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
held = []
for i in range(200):
    s = atc.connect(sys.argv[1])
    atc.hello(s)
    held.append(s)
time.sleep(2)                         # the backlog cycles through the limit
s = atc.connect(sys.argv[1], timeout=10)
atc.hello(s)
errors = 0
lines = open(sys.argv[3], "rb").read().splitlines()
for i in range(0, len(lines), 100):
    s.sendall(b"".join(atc.frame(l) for l in lines[i:i + 100]))
    time.sleep(0.01)
s.sendall(atc.frame({"op": "flush"}))
r = atc.replies_until(s, "ack", seq=2000)
print("acked", max([f["seq"] for f in r if f.get("op") == "ack"] or [0]),
      "errors", sum(1 for f in r if f.get("op") == "error"))
s.sendall(atc.frame({"op": "status"}))
st = atc.replies_until(s, "status")[-1]
print("counters", " ".join("%s %s" % (k, st["counters"][k]) for k in
      ("persisted", "write_errors", "storage_dropped", "conns_evicted")))
for h in held:
    h.close()
PY
check "2,000 events at a 64-descriptor limit with 200 idle connections: acked, no error ($(grep '^acked' "$T/fds.out"))" \
    grep -q '^acked 2000 errors 0$' "$T/fds.out"
check "... none refused by storage ($(grep '^counters' "$T/fds.out"))" \
    grep -q '^counters persisted 2000 write_errors 0 storage_dropped 0 ' "$T/fds.out"
# Stop only after the uploads: a batch cut mid-upload by the stop is re-sent
# later with the same Idempotency-Key and would count here as a duplicate.
check "... the agent uploads all 2,000" wait_for "[ \$(\"$CLI\" status --json | grep -o '\"uploaded_events\":[0-9]*' | cut -d: -f2) -ge 2000 ]" 300
stop_agent
"$STORM" count 5000000 2000 "$ATOMCODE_HOME/telemetry/queue" "$T/collector.log" >"$T/count5" 2>&1
check "... every event in the queue exactly once ($(cat "$T/count5"))" \
    grep -q '^stored 2000 lost 0 duplicated 0$' "$T/count5"
