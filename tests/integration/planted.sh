#!/bin/sh
# planted.sh — FIFOs and symlinks planted where state files live never make
# an open block (every state file goes through fsio_open: O_NONBLOCK,
# O_NOFOLLOW, regular file, owner). Each step is bounded by timeout(1): a
# blocking open shows up as exit 124, not as a hung test.
. "$(dirname "$0")/lib.sh"
REC=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/llm_chat.json")
Q="$ATOMCODE_HOME/telemetry/queue"
TEL="$ATOMCODE_HOME/telemetry"
mkdir -p -m 700 "$Q"

status_field() { # status_field PYEXPR
	"$CLI" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# --- telemetryd.conf ----------------------------------------------------------
mkfifo "$ATOMCODE_HOME/telemetryd.conf"
timeout 5 "$AGENTD" -n >"$T/n.out" 2>"$T/n.err"
rc=$?
check "a FIFO at telemetryd.conf: -n returns at once with an error (rc $rc)" \
    test "$rc" = 1
check "... saying it is not a regular file" grep -q "not a regular file" "$T/n.err"
timeout 5 "$AGENTD" >"$T/a.out" 2>"$T/a.err"
rc=$?
check "... and the agent refuses to start instead of hanging (rc $rc)" test "$rc" = 1
rm -f "$ATOMCODE_HOME/telemetryd.conf"
ln -s /etc/hostname "$ATOMCODE_HOME/telemetryd.conf"
timeout 5 "$AGENTD" -n >"$T/n.out" 2>"$T/n.err"
check "a symlink at telemetryd.conf is not followed (rc $?)" \
    grep -q "symbolic links" "$T/n.err"
rm -f "$ATOMCODE_HOME/telemetryd.conf"

# --- config.toml, device_id: the library (atc_open must never block) ---------
mkfifo "$ATOMCODE_HOME/config.toml" "$ATOMCODE_HOME/device_id"
timeout 5 "$CLI" emit open_atomcode >"$T/e.out" 2>"$T/e.err"
rc=$?
check "FIFOs at config.toml and device_id: emit returns (rc $rc)" test "$rc" != 124
timeout 5 "$CLI" status >"$T/s.out" 2>&1
check "... and so does status (rc $?)" test "$?" != 124

# --- config.toml: the agent at start and at reload --------------------------
check "the agent starts with a FIFO at config.toml" start_agent
check "... telemetry stays off: the file cannot be read (reason config)" \
    test "$(status_field 's["agent"]["telemetry"]')" = disabled
kill -HUP "$AGENT_PID"
sleep 0.2
check "... a reload (SIGHUP) does not block the loop" \
    timeout 5 sh -c "\"$CLI\" status --json | grep -q '\"pid\":$AGENT_PID,'"
timeout 5 python3 "$TOP/tests/atc.py" send "$ATOMCODE_HOME/telemetry.sock" '{"op":"reload"}' >"$T/reload.out" 2>&1
check "... nor does a reload op (rc $?)" test "$?" != 124
stop_agent
rm -f "$ATOMCODE_HOME/config.toml" "$ATOMCODE_HOME/device_id"

# --- queue, health, upload state, dropped counter ---------------------------
stem=20250101-000000-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4
mkfifo "$Q/$stem.ndjson" "$Q/$stem.partial" "$Q/$stem.invalid" \
    "$TEL/queue-dropped" "$TEL/upload-state.json" "$TEL/health.json"
: >"$Q/$stem.partial.owner"
ln -s /etc/hostname "$Q/20250101-000001-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4.ndjson"
start_collector
check "the agent starts with FIFOs in the queue and the state directory" start_agent
echo "$REC" | timeout 5 "$CLI" emit --raw
check "... stores an event" wait_for "\"$CLI\" status --json | grep -q '\"persisted\":1'" 50
check "... and uploads it (the symlinked segment is not sent)" \
    wait_for "test \"\$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])')\" = 1" 100
timeout 5 "$CLI" dump >"$T/dump.out" 2>&1
check "dump returns with FIFOs in the queue (rc $?)" test "$?" != 124
timeout 5 "$CLI" check >"$T/check.out" 2>&1
check "check returns too (rc $?)" test "$?" != 124
timeout 5 "$CLI" status >"$T/status.out" 2>&1
check "status skips the FIFO at health.json (rc $?)" test "$?" != 124

# health.json.tmp-<agent pid>: where an older agent wrote health.json first
# (temp names are random now: a planted one is never opened).
rm -f "$TEL/health.json"
mkfifo "$TEL/health.json.tmp-$AGENT_PID"
echo "$REC" | timeout 5 "$CLI" emit --raw
check "a FIFO at health.json.tmp-<pid> does not block the agent" \
    wait_for "test -f '$TEL/health.json'" 100
check "... which still answers" \
    timeout 5 sh -c "\"$CLI\" status --json | grep -q '\"pid\":$AGENT_PID,'"
check "... and wrote health.json after 2 uploads" \
    sh -c "grep -q '\"segments_posted\":2' '$TEL/health.json'"
check "the planted FIFOs are still there, untouched" \
    sh -c "test -p '$Q/$stem.ndjson' && test -p '$Q/$stem.partial' && test -p '$TEL/queue-dropped'"
stop_agent

# --- the log of a detached (auto-spawned) agent -------------------------------
rm -f "$TEL/health.json.tmp-"*
mkfifo "$TEL/agent.log"
timeout 5 "$AGENTD" --detach >"$T/d.out" 2>&1
check "--detach with a FIFO at agent.log returns" test "$?" != 124
if wait_for "\"$CLI\" status --json | grep -q '\"running\":true'" 50; then
	ok "... and the detached agent answers"
	dpid=$(status_field 's["agent"]["pid"]')
	PIDS="$PIDS $dpid"
	kill -TERM "$dpid"
else
	fail "... and the detached agent answers"
fi
