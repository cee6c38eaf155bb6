#!/bin/sh
# The agent's lifecycle and robustness: single instance,
# stale socket, long paths, hostile input, stalled clients, signals, reload,
# socket activation, idle exit.
. "$(dirname "$0")/lib.sh"
ATC="python3 $TOP/tests/atc.py"
SOCK="$ATOMCODE_HOME/telemetry.sock"
printf '[agent]\nstall_timeout_s = 1\n[queue]\nroll_interval_ms = 50\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
REC=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/llm_chat.json")

status_field() { # status_field PYEXPR
	"$CLI" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# --- single instance -------------------------------------------------------
check "agent starts" start_agent
first=$AGENT_PID
"$AGENTD" >"$T/second.out" 2>"$T/second.err"
rc=$?
check "a second agent exits 0 while one is live" test "$rc" = 0
check "... and says it is already running" grep -q "already running" "$T/second.err"
check "... and the first still answers" test "$(status_field 's["agent"]["pid"]')" = "$first"
stop_agent

# 20 concurrent starts on a fresh home: exactly one survives.
export ATOMCODE_HOME="$T/race"
mkdir -m 700 "$ATOMCODE_HOME"
pids=""
i=0
while [ $i -lt 20 ]; do
	"$AGENTD" >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
PIDS="$PIDS $pids"
sleep 3
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "20 concurrent starts leave exactly one agent (alive: $alive)" test "$alive" = 1
check "... which answers" sh -c "\"$CLI\" status --json >/dev/null"
for p in $pids; do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
export ATOMCODE_HOME="$T/home"

# --- stale socket ------------------------------------------------------------
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
check "a stale socket node exists before start" test -S "$SOCK"
check "the agent replaces a stale socket" start_agent
check "socket is mode 0600" test "$(stat -c %a "$SOCK")" = 600
check "state directory is mode 0700" test "$(stat -c %a "$ATOMCODE_HOME")" = 700
if [ "$PORTABLE" = 1 ]; then
	check "portable build: the agent keeps the normal scheduling class (no SCHED_BATCH off Linux)" \
	    sh -c "chrt -p $AGENT_PID | grep -q SCHED_OTHER"
else
	check "the agent runs as background work (SCHED_BATCH: never preempts on wake-up)" \
	    sh -c "chrt -p $AGENT_PID | grep -q SCHED_BATCH"
fi
check "status names the queue watcher ($WATCHER)" \
    sh -c "'$CLI' status --json | grep -q '\"watcher\":\"$WATCHER\"'"

# --- hostile input -----------------------------------------------------------
out=$($ATC raw "$SOCK" 00010001)
check "oversize length → bad_frame and the connection is closed" \
    sh -c "echo '$out' | grep -q bad_frame && echo '$out' | grep -q EOF"
python3 - "$SOCK" "$TOP" "$REC" >"$T/badack.out" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
s = atc.connect(sys.argv[1])
atc.hello(s)
s.sendall(atc.frame(sys.argv[3]) * 3 + b"\x00\x00\x00\x00")
print(" ".join("%s:%s" % (f.get("code") or f.get("op"), f.get("seq")) for f in atc.replies_until(s, "never")))
EOF
check "events before a framing error are stored and acked before the close ($(cat "$T/badack.out"))" \
    grep -q "ack:3 bad_frame:None" "$T/badack.out"
out=$($ATC raw "$SOCK" 00000000)
check "zero length → bad_frame and close" \
    sh -c "echo '$out' | grep -q bad_frame && echo '$out' | grep -q EOF"
python3 - "$SOCK" "$TOP" >"$T/garbage.out" 2>&1 <<'EOF'
import sys, json, socket
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
s = atc.connect(sys.argv[1])
for p in [b"garbage!", b"[1,2]", b"{\"a\":", b"\xff\xfe{}", b"{\"event_id\":\"nope\"}"]:
    s.sendall(atc.frame(p))
s.sendall(atc.frame(b'{"op":"status","x":1,"x":2}'))
s.sendall(atc.frame(b'{"op":"st\xffus"}'))
s.sendall(atc.frame({"op": "bogus"}))
s.sendall(atc.frame({"op": "status"}))
codes = []
for f in atc.replies_until(s, "status"):
    codes.append(f.get("code") or f.get("op"))
print(" ".join(codes))
EOF
check "garbage payloads get error frames and the connection survives" \
    grep -q "bad_json not_object bad_json bad_utf8 unknown_event duplicate_field bad_utf8 unknown_op status" "$T/garbage.out"

# half a frame, then silence: cut off after stall_timeout_s (1 s here)
python3 - "$SOCK" "$TOP" >"$T/half.out" 2>&1 <<'EOF'
import sys, time, socket
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
s = atc.connect(sys.argv[1], timeout=5)
s.sendall(b"\x00\x00\x01\x00{\"event")
t = time.time()
try:
    d = s.recv(100)
except ConnectionError:
    d = b""
print("closed" if d == b"" else "data", round(time.time() - t, 1))
EOF
check "a half frame then silence is cut off ($(cat "$T/half.out"))" grep -q closed "$T/half.out"

# slowloris: bytes keep coming, but the frame never completes: cut off;
# a busy client streaming for longer than the timeout is never cut off.
python3 - "$SOCK" "$TOP" "$REC" >"$T/slow.out" 2>&1 <<'EOF'
import sys, time, socket
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
s = atc.connect(sys.argv[1], timeout=5)
f = atc.frame(sys.argv[3])
cut = False
t = time.time()
for b in f:
    try:
        s.send(bytes([b]))
    except OSError:
        cut = True
        break
    time.sleep(0.1)
    if time.time() - t > 4:
        break
print("slow-cut" if cut else "slow-NOT-cut", round(time.time() - t, 1))
busy = atc.connect(sys.argv[1], timeout=5)
atc.hello(busy)
t = time.time()
n = 0
ok = True
while time.time() - t < 2.5:
    try:
        busy.sendall(f * 50 + f[:100])      # ends mid-frame on purpose
        busy.sendall(f[100:])
        n += 51
    except OSError:
        ok = False
        break
busy.sendall(atc.frame({"op": "flush"}))
last = None
while True:      # acks arrive after every write; wait for the one covering n
    f = atc.recv_frame(busy)
    if f is None or f.get("op") == "error":
        break
    if f.get("op") != "ack":
        continue
    last = f.get("seq")
    if last == n:
        break
ok = ok and last == n
print("busy-ok" if ok else "busy-CUT", n)
EOF
check "a client trickling one frame is cut off ($(head -n 1 "$T/slow.out"))" grep -q slow-cut "$T/slow.out"
check "a busy client streaming past the timeout is not ($(tail -n 1 "$T/slow.out"))" grep -q busy-ok "$T/slow.out"

# 500 idle connections and a client that never reads its replies; a
# well-behaved client still gets answers.
python3 - "$SOCK" "$TOP" >"$T/idle.out" 2>&1 <<'EOF'
import sys, socket, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
idle = [atc.connect(sys.argv[1]) for _ in range(500)]
hog = atc.connect(sys.argv[1])
hog.setblocking(False)
sent = 0
try:
    for _ in range(200000):
        hog.send(atc.frame({"op": "status"}))
        sent += 1
except (BlockingIOError, ConnectionError):
    pass
good = atc.connect(sys.argv[1])
atc.hello(good)
good.sendall(atc.frame({"op": "status"}))
r = atc.replies_until(good, "status")
ok = r and r[-1].get("op") == "status"
print("good-client-ok" if ok else "good-client-FAILED", "clients=%s" % (r[-1].get("clients") if ok else "?"))
time.sleep(1.6)
hog.setblocking(True); hog.settimeout(3)
try:
    while hog.recv(65536):
        pass
    print("hog-closed")
except ConnectionError:
    print("hog-closed")
except socket.timeout:
    print("hog-still-open")
EOF
check "500 idle connections + a non-reading client: others still served" \
    grep -q good-client-ok "$T/idle.out"
check "the client that never reads is cut off" grep -q hog-closed "$T/idle.out"
check "agent still alive after hostile clients" kill -0 "$AGENT_PID"

# --- another uid is refused (root only: needs setpriv) -----------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -x /usr/bin/python3 ]; then
	chmod 711 "$T" "$ATOMCODE_HOME"
	chmod 666 "$SOCK"
	before=$(status_field 's["counters"]["peers_rejected"]')
	# Inline client: the repository may not be readable by uid 65534.
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
p = b"{\"op\":\"status\"}"
try:
    s.sendall(struct.pack(">I", len(p)) + p)
    d = s.recv(100)
except OSError as e:
    d = b""
print("connected; reply bytes:", len(d))
' "$SOCK" >"$T/foreign.out" 2>&1
	after=$(status_field 's["counters"]["peers_rejected"]')
	check "a client of another uid is rejected and counted ($before -> $after)" \
	    test "$after" = $((before + 1))
	check "... it connected but got no reply" grep -q "reply bytes: 0" "$T/foreign.out"
	chmod 700 "$T" "$ATOMCODE_HOME"
	chmod 600 "$SOCK"
else
	ok "# skip: foreign uid test needs root, setpriv and /usr/bin/python3"
fi

# --- SIGHUP with a broken settings file keeps the old settings ---------------
cp "$ATOMCODE_HOME/telemetryd.conf" "$T/conf.good"
printf '[queue]\nfsync = sometimes\n' >"$ATOMCODE_HOME/telemetryd.conf"
kill -HUP "$AGENT_PID"
sleep 0.3
check "SIGHUP with a bad file: agent keeps running" kill -0 "$AGENT_PID"
check "... and says why" grep -q "keeping the old ones.*fsync" "$T/agent.err"
check "... and the old fsync policy stays" test "$(status_field 's["agent"]["fsync"]')" = roll
printf '[queue]\nfsync = always\nroll_interval_ms = 50\n[agent]\nstall_timeout_s = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
kill -HUP "$AGENT_PID"
sleep 0.3
check "SIGHUP with a good file applies it" test "$(status_field 's["agent"]["fsync"]')" = always
cp "$T/conf.good" "$ATOMCODE_HOME/telemetryd.conf"
kill -HUP "$AGENT_PID"

# --- SIGTERM with a backlog loses nothing --------------------------------------
"$CLI" clear >/dev/null
python3 - "$SOCK" "$TOP" "$REC" >"$T/burst.out" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
s = atc.connect(sys.argv[1], timeout=30)
atc.hello(s)
f = atc.frame(sys.argv[3])
s.sendall(f * 8000)
print("sent")
EOF
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
while kill -0 "$AGENT_PID" 2>/dev/null; do sleep 0.01; done
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "SIGTERM with 8000 events just sent exits promptly (${ms} ms)" test "$ms" -lt 2000
n=$("$CLI" dump --last 100000 | wc -l)
check "... and every event sent is on disk ($n of 8000)" test "$n" = 8000
check "... in ready segments (no partial left)" \
    sh -c "! ls '$ATOMCODE_HOME/telemetry/queue' | grep -q partial"

# --- long ATOMCODE_HOME (socket path longer than sun_path) -------------------
long="$T/$(printf 'd%.0s' $(seq 1 150))/$(printf 'e%.0s' $(seq 1 40))"
mkdir -p "$long"
chmod 700 "$long"
export ATOMCODE_HOME="$long"
printf '[queue]\nroll_interval_ms = 50\n' >"$ATOMCODE_HOME/telemetryd.conf"
check "agent starts with a ${#long}-byte ATOMCODE_HOME" start_agent
check "... the CLI reaches it" test "$(status_field 's["agent"]["running"]')" = True
echo "$REC" | "$CLI" emit --raw
sleep 0.3
check "... and it persisted the event" test "$(status_field 's["counters"]["persisted"]')" = 1
stop_agent
export ATOMCODE_HOME="$T/home"

# --- systemd socket activation (LISTEN_FDS) ------------------------------------
export ATOMCODE_HOME="$T/sa"
mkdir -m 700 "$ATOMCODE_HOME"
python3 - "$ATOMCODE_HOME/telemetry.sock" "$AGENTD" >"$T/sa.out" 2>&1 <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600); s.listen(16)
pid = os.fork()
if pid == 0:
    os.dup2(s.fileno(), 3)
    os.set_inheritable(3, True)
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = "1"
    os.execv(sys.argv[2], [sys.argv[2]])
print(pid, flush=True)
os.waitpid(pid, 0)
EOF
PIDS="$PIDS $!"
wait_for 'test -s "$T/sa.out" && "$CLI" status --json | grep -q "\"running\":true"'
sapid=$(head -n 1 "$T/sa.out")
PIDS="$PIDS $sapid"
check "socket-activated agent answers on the inherited socket (pid $sapid)" \
    test -n "$sapid" -a "$(status_field 's["agent"].get("pid")')" = "$sapid"
sa=$("$CLI" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("agent",{}).get("running"))')
check "... status says running" test "$sa" = True
kill -TERM "$sapid" 2>/dev/null
sleep 0.3
check "... it does not unlink the socket it was given" test -S "$ATOMCODE_HOME/telemetry.sock"

# --- idle exit in auto-spawn mode --------------------------------------------------
export ATOMCODE_HOME="$T/idle"
mkdir -m 700 "$ATOMCODE_HOME"
printf '[agent]\nidle_exit_s = 1\n' >"$ATOMCODE_HOME/telemetryd.conf"
"$AGENTD" --detach
wait_for '"$CLI" status --json | grep -q "\"running\":true"'
check "detached agent is running" sh -c "\"$CLI\" status --json >/dev/null"
dpid=$(status_field 's["agent"]["pid"]')
PIDS="$PIDS $dpid"
wait_for "! kill -0 $dpid 2>/dev/null"
check "detached agent exits after idle_exit_s with nothing queued" sh -c "! kill -0 $dpid 2>/dev/null"
check "... and removed its socket" test ! -e "$ATOMCODE_HOME/telemetry.sock"
check "... and logged to telemetry/agent.log" grep -q "idle for 1 s" "$ATOMCODE_HOME/telemetry/agent.log"

# --- -n checks and prints the effective settings -------------------------------
export ATOMCODE_HOME="$T/conf"
mkdir -m 700 "$ATOMCODE_HOME"
printf '[queue]\nfsync = never\n' >"$ATOMCODE_HOME/telemetryd.conf"
"$AGENTD" -n >"$T/n.out" 2>&1
check "-n prints the effective settings" grep -q "^fsync = never$" "$T/n.out"
check "-n shows defaults for unset keys" grep -q "^timeout_s = 10$" "$T/n.out"
printf '[queue]\nfsync = sometimes\n' >"$ATOMCODE_HOME/telemetryd.conf"
"$AGENTD" -n >"$T/n2.out" 2>&1
rc=$?
check "-n with a bad file exits non-zero ($rc) and names the line" \
    sh -c "test $rc != 0 && grep -q 'telemetryd.conf:2: bad value for \[queue\] fsync' '$T/n2.out'"
"$AGENTD" >"$T/bad.out" 2>&1
check "the agent refuses to start with a bad settings file" test $? != 0

# --- unsafe state paths are refused ----------------------------------------------
mkdir -m 700 "$T/real"
ln -s "$T/real" "$T/link"
ATOMCODE_HOME="$T/link" "$AGENTD" >"$T/sym.out" 2>&1
rc=$?
check "a symlinked ATOMCODE_HOME is refused (exit $rc)" \
    sh -c "test $rc != 0 && grep -qi 'symbolic link' '$T/sym.out'"
check "... and nothing was created behind the link" test -z "$(ls -A "$T/real")"
if [ "$(id -u)" = 0 ]; then
	mkdir -m 700 "$T/foreign"
	chown 65534 "$T/foreign"
	ATOMCODE_HOME="$T/foreign" "$AGENTD" >"$T/own.out" 2>&1
	rc=$?
	check "a foreign-owned ATOMCODE_HOME is refused (exit $rc)" \
	    sh -c "test $rc != 0 && grep -qi 'owned by' '$T/own.out'"
	mkdir -m 700 "$T/fq" "$T/fq/telemetry"
	mkdir -m 700 "$T/fq/telemetry/queue"
	chown 65534 "$T/fq/telemetry/queue"
	ATOMCODE_HOME="$T/fq" "$AGENTD" >"$T/fq.out" 2>&1
	rc=$?
	check "a foreign-owned queue directory is refused (exit $rc)" test "$rc" != 0
else
	ok "# skip: foreign-owner checks need root"
fi

# --- "shutdown" in the middle of a write: everything before and after it in
#     that write is stored exactly once, and the agent exits cleanly ----------
export ATOMCODE_HOME="$T/sd"
mkdir -m 700 "$ATOMCODE_HOME"
check "agent starts (shutdown op test)" start_agent
python3 - "$ATOMCODE_HOME/telemetry.sock" "$TOP" "$GOLDEN/llm_chat.json" >"$T/sd.out" 2>&1 <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
r = json.load(open(sys.argv[3]))
def rec(i):
    r["ts"] = 1000 + i
    return atc.frame(json.dumps(r, separators=(",", ":")))
s = atc.connect(sys.argv[1])
atc.hello(s)
s.sendall(rec(1) + rec(2) + rec(3) + atc.frame({"op": "shutdown"}) + rec(4) + rec(5))
print([f.get("op") for f in atc.replies_until(s, "shutdown")])
PY
wait_for "! kill -0 $AGENT_PID 2>/dev/null" 50
stop_agent
"$CLI" dump --last 100 | python3 -c 'import json,sys; ts=[json.loads(l)["ts"] for l in sys.stdin]; print(len(ts), len(set(ts)))' >"$T/sd.count"
check "shutdown mid-write: 5 records stored, each once ($(cat "$T/sd.count"))" test "$(cat "$T/sd.count")" = "5 5"

# --- an unreadable config.toml never turns telemetry on ----------------------------
export ATOMCODE_HOME="$T/cfgdir"
mkdir -m 700 "$ATOMCODE_HOME" "$ATOMCODE_HOME/config.toml"
check "agent starts with an unreadable config.toml" start_agent
check "... and telemetry stays off (reason: config)" \
    grep -q "^Telemetry: disabled (reason: config)$" "$T/agent.out"
stop_agent

# --- reload from a removed settings file goes back to the defaults ----------------
export ATOMCODE_HOME="$T/rl"
mkdir -m 700 "$ATOMCODE_HOME"
printf '[queue]\nfsync = always\n' >"$ATOMCODE_HOME/telemetryd.conf"
check "agent starts with fsync = always" start_agent
check "... status says always" test "$(status_field 's["agent"]["fsync"]')" = always
rm "$ATOMCODE_HOME/telemetryd.conf"
kill -HUP "$AGENT_PID"
check "after the file is removed, SIGHUP restores the default (roll)" \
    wait_for "'$CLI' status --json | grep -q '\"fsync\":\"roll\"'" 30
stop_agent

# --- unasked acks: coalesced per client, the held one still comes ------------
export ATOMCODE_HOME="$T/ack"
mkdir -m 700 "$ATOMCODE_HOME"
check "agent starts (ack coalescing)" start_agent
python3 - "$ATOMCODE_HOME/telemetry.sock" "$TOP" "$GOLDEN/llm_chat.json" >"$T/ack.out" 2>&1 <<'PY'
import json, socket, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
r = json.load(open(sys.argv[3]))
def rec(i):
    r["ts"] = 1000 + i
    return atc.frame(json.dumps(r, separators=(",", ":")))
s = atc.connect(sys.argv[1])
atc.hello(s)
atc.replies_until(s, "hello")
# 1. An ack held back by the interval is sent without being asked for.
s.sendall(rec(1))
a = atc.replies_until(s, "ack", seq=1)
s.sendall(rec(2))           # within the interval of the ack just read
s.settimeout(2.0)
a = atc.replies_until(s, "ack", seq=2)
print("held", a[-1].get("op"), a[-1].get("seq"))
# 2. 200 events in 200 writes about 0.1 ms apart: far fewer acks, the
#    last one covering all 200, and none asked for.
for i in range(3, 203):
    s.sendall(rec(i))
    time.sleep(0.0001)
s.settimeout(0.5)
acks = [f for f in atc.replies_until(s, "never") if f.get("op") == "ack"]
print("burst", len(acks), max(f["seq"] for f in acks))
PY
check "a held-back unasked ack arrives by itself ($(grep held "$T/ack.out"))" \
    grep -q "^held ack 2$" "$T/ack.out"
check "200 separate writes get at most 120 unasked acks, the last for all ($(grep burst "$T/ack.out"))" \
    python3 -c 'import sys; w=open(sys.argv[1]).read().split("burst ")[1].split(); sys.exit(not (int(w[0]) <= 120 and int(w[1]) == 202))' "$T/ack.out"
stop_agent

# --- read coalescing: a busy client is read on a timer, a quiet one is not -----
export ATOMCODE_HOME="$T/coalesce"
mkdir -m 700 "$ATOMCODE_HOME"
check "agent starts (read coalescing)" start_agent
python3 - "$ATOMCODE_HOME/telemetry.sock" "$TOP" "$GOLDEN/llm_chat.json" >"$T/coal.out" 2>&1 <<'PY'
import json, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
r = json.load(open(sys.argv[3]))
def rec(i):
    r["ts"] = 1000 + i
    return atc.frame(json.dumps(r, separators=(",", ":")))
def counters():
    c = atc.connect(sys.argv[1])
    c.sendall(atc.frame({"op": "status"}))
    st = atc.replies_until(c, "status")[-1]
    c.close()
    return st["counters"]
s = atc.connect(sys.argv[1])
atc.hello(s)
atc.replies_until(s, "hello")
c0 = counters()
# A short exchange (the CLI's: hello, a few events, flush), each frame its
# own write: never on the timer, so its flush is answered at once.
e = atc.connect(sys.argv[1])
atc.hello(e)
for i in range(5):
    time.sleep(0.0001)
    e.sendall(rec(1000 + i))
time.sleep(0.0001)
e.sendall(atc.frame({"op": "flush"}))
a = atc.replies_until(e, "ack", seq=5)
e.close()
time.sleep(0.05)
c = counters()
print("short", a[-1].get("seq"), c["coalesced_reads"] - c0["coalesced_reads"])
c0 = counters()
# 400 records, one write each, in groups of 10 about 0.5 ms apart.
for i in range(400):
    s.sendall(rec(i))
    if i % 10 == 9:
        time.sleep(0.0005)
s.sendall(atc.frame({"op": "flush"}))
a = atc.replies_until(s, "ack", seq=400)
print("acked", a[-1].get("seq"))
c1 = counters()
print("reads", c1["reads"] - c0["reads"], "coalesced",
      c1["coalesced_reads"] - c0["coalesced_reads"])
time.sleep(0.05)            # the timer's last look finds it quiet
c2 = counters()
time.sleep(0.3)
c3 = counters()
print("quiet", c3["coalesced_reads"] - c2["coalesced_reads"])
s.close()
PY
check "a short exchange (hello, 5 events, flush) is never read on the timer ($(grep short "$T/coal.out"))" \
    grep -q "^short 5 0$" "$T/coal.out"
check "a client writing 400 records back to back is acked for all 400 ($(grep acked "$T/coal.out"))" \
    grep -q "^acked 400$" "$T/coal.out"
check "... read on the coalescing timer, in fewer reads than records ($(grep reads "$T/coal.out"))" \
    python3 -c 'import sys; w=open(sys.argv[1]).read().split("reads ")[1].split(); sys.exit(not (int(w[2]) > 0 and int(w[0]) < 400))' "$T/coal.out"
check "... and once it is quiet (still connected) the timer leaves it alone ($(grep quiet "$T/coal.out"))" \
    grep -q "^quiet 0$" "$T/coal.out"
stop_agent

# --- out of file descriptors: make room, never spin ---------------------------
export ATOMCODE_HOME="$T/fd"
mkdir -m 700 "$ATOMCODE_HOME"
check "agent starts (descriptor limit)" start_agent
prlimit --pid "$AGENT_PID" --nofile=40:40
python3 - "$ATOMCODE_HOME/telemetry.sock" "$TOP" "$AGENT_PID" "$CLI" >"$T/fd.out" 2>&1 <<'PY'
import subprocess, sys, time
sys.path.insert(0, sys.argv[2] + "/tests")
import atc
def ticks(pid):
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
held = [atc.connect(sys.argv[1]) for _ in range(80)]   # twice the limit
time.sleep(0.5)
t0 = ticks(sys.argv[3])
time.sleep(1.0)
print("ticks", ticks(sys.argv[3]) - t0)
r = subprocess.run([sys.argv[4], "status", "--json"], capture_output=True, timeout=10)
print("status", r.returncode, b'"running":true' in r.stdout)
for s in held:
    s.close()
PY
check "80 connections at a 40-descriptor limit: the agent does not spin ($(grep ticks "$T/fd.out"))" \
    sh -c "[ \$(sed -n 's/^ticks //p' '$T/fd.out') -lt 30 ]"
check "... and still answers status" grep -q "^status 0 True$" "$T/fd.out"
check "... and after they close too" sh -c "\"$CLI\" status --json | grep -q '\"running\":true'"
stop_agent

# --- a partial another writer closed unfinished is recovered while running ----
export ATOMCODE_HOME="$T/left"
mkdir -m 700 "$ATOMCODE_HOME"
# Disabled, so that no upload retry wakes the agent during the count below.
printf '[telemetry]\nenabled = false\n' >"$ATOMCODE_HOME/config.toml"
check "agent starts (unfinished partial)" start_agent
Q="$ATOMCODE_HOME/telemetry/queue"
python3 - "$Q" "$GOLDEN/llm_chat.json" <<'PY'
import json, os, sys, time, uuid
q, rec = sys.argv[1], json.load(open(sys.argv[2]))
stem = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + str(uuid.uuid4())
open(os.path.join(q, stem + ".partial.owner"), "w").close()
with open(os.path.join(q, stem + ".partial"), "w") as f:   # no lock: a writer that gave up
    for i in range(3):
        rec["ts"] = 5000 + i
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
PY
# The poll watcher looks when a client leaves: a CLI call is that client.
[ "$WATCHER" = poll ] && "$CLI" status >/dev/null
check "the agent promotes it within a few seconds, without a restart ($WATCHER)" \
    wait_for "ls '$Q' | grep -q '\\.ndjson$' && ! ls '$Q' | grep -q partial" 50
check "... with its 3 records" test "$(cat "$Q"/*.ndjson 2>/dev/null | wc -l)" = 3
# Recovery looks at a live (locked) partial read-only: no close event of
# its own, so no recovery loop while another writer holds a segment. (The
# one recovery 2 s after start must be over before counting.)
wait_for "\"$CLI\" status --json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"agent\"][\"uptime_s\"] < 3)'" 50
python3 - "$Q" "$AGENT_PID" "$WATCHER" "$CLI" >"$T/live.out" 2>&1 <<'PY'
import fcntl, os, subprocess, sys, time, uuid
q, pid, watcher, cli = sys.argv[1:5]
def ctxt():
    n = 0
    for t in os.listdir("/proc/%s/task" % pid):
        for l in open("/proc/%s/task/%s/status" % (pid, t)):
            if l.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(l.split()[1])
    return n
def stem():
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + str(uuid.uuid4())
live = stem()
open(os.path.join(q, live + ".partial.owner"), "w").close()
f = open(os.path.join(q, live + ".partial"), "w")
fcntl.flock(f, fcntl.LOCK_EX)
f.write('{"event_id":"open_atomcode","ts":1}\n'); f.flush()
gone = stem()                 # an unfinished one closes: one recovery
open(os.path.join(q, gone + ".partial.owner"), "w").close()
with open(os.path.join(q, gone + ".partial"), "w") as g:
    g.write('{"event_id":"open_atomcode","ts":2}\n')
if watcher == "poll":
    subprocess.run([cli, "status"], stdout=subprocess.DEVNULL)
time.sleep(1.5)
c0 = ctxt()
time.sleep(4)
print("wakeups", ctxt() - c0)
print("live", os.path.exists(os.path.join(q, live + ".partial")))
f.close()
PY
# poll: looks 1, 2, 4 s apart while a writer holds a partial, so at most
# one in the 4 s counted from 1.5 s on.
check "a live partial does not make the agent recover in a loop ($WATCHER: $(tr '\n' ' ' <"$T/live.out"))" \
    sh -c "grep -q '^live True' '$T/live.out' && [ \$(sed -n 's/^wakeups //p' '$T/live.out') -lt 2 ]"
stop_agent
