#!/bin/sh
# Uploads end to end (docs/ARCHITECTURE.md): agent → test collector on loopback. Every
# event delivered and counted by record, outages, SIGKILL mid-upload,
# Retry-After across a restart, SIGTERM with a hung collector.
. "$(dirname "$0")/lib.sh"
printf '[queue]\nroll_interval_ms = 50\n[upload]\nbackoff_scale_pct = 1\ntimeout_s = 2\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
Q="$ATOMCODE_HOME/telemetry/queue"

# delivered_check FILE: every line of FILE was received; prints dup count.
delivered_check() {
	python3 - "$T/collector.log" "$1" <<'PY'
import json, sys, collections
got = collections.Counter()
for line in open(sys.argv[1]):
    req = json.loads(line)
    if req.get("status") in (200, 202, 204):
        for r in req["records"]:
            got[json.dumps(r, sort_keys=True)] += 1
want = [json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[2])]
missing = [w for w in want if got[w] == 0]
dups = sum(got[w] - 1 for w in set(want) if got[w] > 1)
print("missing=%d dups=%d" % (len(missing), dups))
sys.exit(1 if missing else 0)
PY
}

check "collector starts" start_collector
check "agent starts" start_agent

records 1200 1000 >"$T/batch1"
check "emit --raw of 1200 records" sh -c "'$CLI' emit --raw <'$T/batch1'"
check "all 1200 records reach the collector" wait_for "[ \$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])') -ge 1200 ]"
res=$(delivered_check "$T/batch1")
check "every record delivered, counted one by one ($res)" test "$res" = "missing=0 dups=0"
check "the queue is empty afterwards" wait_for "! ls '$Q' | grep -q ndjson"
python3 - "$T/collector.log" >"$T/hdr.out" <<'PY'
import json, sys
req = json.loads(open(sys.argv[1]).readline())
h = req["headers"]
ok = (h["content-type"] == "application/x-ndjson" and h["content-encoding"] == "gzip"
      and h["x-atomcode-schema"] == "1" and "x-atomcode-dropped" in h
      and h["user-agent"].startswith("atomcode-telemetry/")
      and "idempotency-key" in h and int(h["x-atomcode-sent-at"]) > 0
      and req["path"] == "/v1/events")
print("headers-ok" if ok else "headers-BAD %r" % h)
PY
check "request headers as documented ($(cat "$T/hdr.out"))" grep -q headers-ok "$T/hdr.out"
check "status shows the uploaded events" wait_for "'$CLI' status --json | grep -q '\"uploaded_events\":1200'"
check "health.json is written in the upstream format" python3 -c '
import json,sys; h=json.load(open(sys.argv[1]))
assert h["segments_posted"] >= 3 and h["bytes_sent"] > 0 and h["last_post_unix_ms"] > 0 and "T" in h["last_post_iso"]
' "$ATOMCODE_HOME/telemetry/health.json"

# --- an outage with events arriving throughout, then recovery -------------------
ctl '{"mode": {"status": 503, "seconds": 3}}'
: >"$T/outage"
i=0
while [ $i -lt 6 ]; do
	records 100 $((100000 + i * 100)) >"$T/part"
	cat "$T/part" >>"$T/outage"
	"$CLI" emit --raw <"$T/part"
	sleep 0.5
	i=$((i + 1))
done
check "after the outage every event is delivered" wait_for "python3 -c 'import json,urllib.request as u; import sys; sys.exit(0 if json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"] >= 1800 else 1)'" 150
res=$(delivered_check "$T/outage")
check "outage: nothing lost ($res)" sh -c "echo '$res' | grep -q missing=0"
fails=$("$CLI" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["upload_failures"])')
check "outage: failures were counted and backed off ($fails failures in ~3 s)" test "$fails" -ge 1 -a "$fails" -lt 60

# --- SIGKILL mid-upload, then restart: nothing lost ------------------------------
ctl '{"mode": "hang"}'
records 50 200000 >"$T/killed"
"$CLI" emit --raw <"$T/killed"
check "an upload is in flight (claimed segment)" wait_for "ls '$Q' | grep -q sending-"
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check "after SIGKILL the claim is still on disk" sh -c "ls '$Q' | grep -q sending-"
# Make the dead claim look older than 60 s (what other processes wait for).
for f in "$Q"/*.sending-*; do touch -d '2 minutes ago' "$f"; done
ctl '{"mode": "normal", "release": true}'
check "agent restarts" start_agent
check "the restored segment is delivered" wait_for "! ls '$Q' | grep -q 'ndjson\|sending'"
res=$(delivered_check "$T/killed")
check "SIGKILL mid-upload: nothing lost ($res)" sh -c "echo '$res' | grep -q missing=0"

# --- SIGTERM with a hung collector: fast, claim restored ------------------------
ctl '{"mode": "hang"}'
records 20 300000 | "$CLI" emit --raw
check "an upload hangs" wait_for "ls '$Q' | grep -q sending-"
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
while kill -0 "$AGENT_PID" 2>/dev/null; do sleep 0.01; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM with a hung collector exits promptly (${ms} ms)" test "$ms" -lt 1500
check "... and the claim was restored to .ndjson" sh -c "! ls '$Q' | grep -q sending- && ls '$Q' | grep -q ndjson"

# --- Retry-After is respected across a restart ------------------------------------
ctl '{"release": true, "reset": true}'
ctl '{"mode": {"status": 429, "retry_after": "3600"}}'
printf '[queue]\nroll_interval_ms = 50\n[upload]\ntimeout_s = 2\n' >"$ATOMCODE_HOME/telemetryd.conf"
check "agent starts again" start_agent
check "the 429 pauses uploads" wait_for "'$CLI' status --json | grep -q '\"next_reason\":\"[^\"]*\(429\|retry\|Retry\)'"
stop_agent
before=$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen("http://127.0.0.1:'"$CPORT"'/_stats"))["requests"])')
ctl '{"reset": true}'
check "agent restarts within the pause" start_agent
sleep 1
after=$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen("http://127.0.0.1:'"$CPORT"'/_stats"))["requests"])')
check "no request during the server's Retry-After after a restart ($before -> $after)" test "$before" = "$after"
"$CLI" status >"$T/status.txt"
check "status shows the next attempt and why" grep -q "next attempt in" "$T/status.txt"
stop_agent

# --- disable: telemetry_disabled goes out first, then nothing is uploaded ---------
ctl '{"reset": true}'
rm -f "$ATOMCODE_HOME/telemetry/upload-state.json"	# forget the 1 h pause above
check "agent starts for the disable test" start_agent
n0=$(collected)
"$CLI" disable >"$T/disable.out" 2>&1
check "disable says so" grep -q "^Telemetry disabled\\." "$T/disable.out"
check "telemetry_disabled reached the collector before the switch" \
    wait_for "grep -q telemetry_disabled '$T/collector.log'"
check "the agent reloaded: status says disabled (reason: config)" \
    wait_for "'$CLI' status --json | grep -q '\"reason\":\"config\"'"
n1=$(collected)
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' \
    "$GOLDEN/llm_chat.json" >"$Q/20260101-000000-00000000-0000-4000-8000-000000000001.ndjson"
"$CLI" flush --wait >"$T/flush.out" 2>&1
check "flush while disabled reports it ($(cat "$T/flush.out"))" grep -q disabled "$T/flush.out"
sleep 0.5
check "nothing was uploaded while disabled ($n1 -> $(collected))" test "$(collected)" = "$n1"
check "queued events stay on disk" test -e "$Q/20260101-000000-00000000-0000-4000-8000-000000000001.ndjson"
stop_agent
rm -f "$ATOMCODE_HOME/config.toml"
ATOMCODE_OFFLINE=1 "$AGENTD" >"$T/off.out" 2>&1 &
OFF=$!
PIDS="$PIDS $OFF"
wait_for "grep -q Telemetry '$T/off.out'"
check "offline: startup line names the reason" grep -q "^Telemetry: disabled (reason: offline)$" "$T/off.out"
sleep 0.5
check "offline: nothing uploaded" test "$(collected)" = "$n1"
kill -TERM "$OFF"

# --- a ready segment renamed in by another writer goes out without a kick ---------
rm -f "$ATOMCODE_HOME/config.toml" "$ATOMCODE_HOME/telemetry/upload-state.json"
"$CLI" clear >/dev/null
ctl '{"reset": true}'
check "agent starts (idle, empty queue)" start_agent
n0=$(collected)
records 3 900000 >"$T/foreign.tmp"
mv "$T/foreign.tmp" "$Q/20260101-000000-aaaaaaaa-0000-4000-8000-00000000000f.ndjson"
# The poll watcher looks when a client leaves: a CLI call is that client.
[ "$WATCHER" = poll ] && "$CLI" status >/dev/null
check "a segment another writer renamed into the queue is uploaded promptly ($WATCHER)" \
    wait_for "[ \$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])') -ge $((n0 + 3)) ]" 50
stop_agent

# --- an auto-spawned agent that uploaded what it had exits when idle -------------
export ATOMCODE_HOME="$T/spawned-idle"
mkdir -m 700 "$ATOMCODE_HOME"
printf '[agent]\nidle_exit_s = 3\n[queue]\nroll_interval_ms = 50\n' >"$ATOMCODE_HOME/telemetryd.conf"
records 5 950000 >"$T/idle5"
n0=$(collected)
"$AGENTD" --detach
wait_for "test -S '$ATOMCODE_HOME/telemetry.sock'"
"$CLI" emit --raw <"$T/idle5"
dpid=$(head -n 1 "$ATOMCODE_HOME/telemetry.lock")
PIDS="$PIDS $dpid"
check "the detached agent delivers what it got" wait_for "[ \$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])') -ge $((n0 + 5)) ]" 50
check "... and then exits on its own (idle, nothing queued)" wait_for "! kill -0 $dpid 2>/dev/null" 100
