#!/bin/sh
# Version hello (proto/PROTOCOL.md §9): a newer library asks an older agent to step down;
# an agent of the same version is left alone; the agent honours "shutdown"
# by persisting everything and exiting.
. "$(dirname "$0")/lib.sh"
SOCK="$ATOMCODE_HOME/telemetry.sock"

# A fake agent that says it is version 0.0.1 and notes a shutdown request.
python3 - "$SOCK" "$T/fake.log" <<'PY' &
import json, os, socket, struct, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1]); srv.listen(8)
log = open(sys.argv[2], "a")
srv.settimeout(10)
def frames(c):
    buf = b""
    while True:
        d = c.recv(65536)
        if not d:
            return
        buf += d
        while len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if len(buf) < 4 + n:
                break
            yield json.loads(buf[4:4 + n]); buf = buf[4 + n:]
def send(c, o):
    p = json.dumps(o).encode()
    try:
        c.sendall(struct.pack(">I", len(p)) + p)
    except OSError:
        pass
try:
    while True:
        c, _ = srv.accept()
        c.settimeout(5)
        seq = 0
        try:
            for f in frames(c):
                op = f.get("op")
                if op == "hello":
                    send(c, {"op": "hello", "proto": 1, "agent": "0.0.1", "pid": os.getpid(), "telemetry": "enabled"})
                elif op == "flush":
                    send(c, {"op": "ack", "seq": seq})
                elif op == "shutdown":
                    log.write("shutdown\n"); log.flush()
                    send(c, {"op": "shutdown", "ok": True})
                    sys.exit(0)
                elif op is None:
                    seq += 1
        except socket.timeout:
            pass
        c.close()
except socket.timeout:
    pass
PY
FAKE=$!
PIDS="$PIDS $FAKE"
wait_for "test -S '$SOCK'"
"$CLI" emit open_atomcode >/dev/null 2>&1
wait_for "grep -q shutdown '$T/fake.log'" 30
check "a newer library asks an older agent to step down" grep -q shutdown "$T/fake.log"
kill "$FAKE" 2>/dev/null
wait "$FAKE" 2>/dev/null
rm -f "$SOCK"

check "the real agent starts" start_agent
"$CLI" emit open_atomcode >/dev/null 2>&1
sleep 0.2
check "an agent of the same version is not asked to step down" kill -0 "$AGENT_PID"
python3 "$TOP/tests/atc.py" send "$SOCK" "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/use_command.json")" '{"op":"shutdown"}' >"$T/sd.out" 2>&1
wait_for "! kill -0 $AGENT_PID 2>/dev/null" 30
check "the agent exits on {\"op\":\"shutdown\"}" sh -c "! kill -0 $AGENT_PID 2>/dev/null"
check "... after persisting what it had" sh -c "'$CLI' dump | grep -q '\"event_id\":\"use_command\"'"
