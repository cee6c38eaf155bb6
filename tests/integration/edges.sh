#!/bin/sh
# Sharp edges a new user hits (each with a private ATOMCODE_HOME): argument
# checking, opt-out values and the one config.toml resolution, disable that
# cannot succeed, status wording and what it shows, error messages that
# name the field and the rule, the agent's endpoint and config reloads.
# The numbers only group the checks.
. "$(dirname "$0")/lib.sh"
REC=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/tool_call.json")
Q="$ATOMCODE_HOME/telemetry/queue"
: >"$ATOMCODE_HOME/.telemetry_notice_shown"	# keep stderr to the point

# newhome NAME: a fresh private ATOMCODE_HOME.
newhome() {
	export ATOMCODE_HOME="$T/$1"
	mkdir -m 700 "$ATOMCODE_HOME"
	: >"$ATOMCODE_HOME/.telemetry_notice_shown"
	Q="$ATOMCODE_HOME/telemetry/queue"
}

# --- 1. every command refuses unknown arguments (before doing anything) -----
echo "$REC" | "$CLI" emit --raw
for cmd in clear check recover enable disable flush version "status --json" "flush --wait" dump; do
	"$CLI" $cmd --bogus >/dev/null 2>"$T/e1"
	rc=$?
	check "1: '$cmd --bogus' exits 2 and names the argument ($rc: $(cat "$T/e1"))" \
	    sh -c "[ $rc = 2 ] && grep -q -- '--bogus' '$T/e1'"
done
check "1: 'clear --bogus' deleted nothing" test "$("$CLI" dump 2>/dev/null | grep -c tool_call)" = 1
check "1: 'disable --bogus' changed nothing" test ! -e "$ATOMCODE_HOME/config.toml"

# --- 2. a disable that cannot succeed queues nothing -------------------------
newhome d2
printf '[providers\nbroken = \n' >"$ATOMCODE_HOME/config.toml"
for i in 1 2 3; do "$CLI" disable >/dev/null 2>"$T/e2"; done
check "2: disable of an unparseable config.toml fails and says why" \
    grep -q "is not valid TOML" "$T/e2"
check "2: ... and queued no telemetry_disabled (3 tries)" \
    sh -c "! '$CLI' dump 2>/dev/null | grep -q telemetry_disabled"
rm -f "$ATOMCODE_HOME/config.toml"
mkdir "$ATOMCODE_HOME/config.toml"
"$CLI" status >"$T/s2"
"$CLI" disable >/dev/null 2>"$T/e2b"
rc=$?
check "2: disable with config.toml a directory fails ($rc: $(cat "$T/e2b"))" test "$rc" != 0
check "2: ... and queued nothing" sh -c "! '$CLI' dump 2>/dev/null | grep -q ."

# --- 10. one resolution for an unreadable / unparseable config.toml ---------
check "10: config.toml a directory: status says disabled (reason: config)" \
    test "$(head -n 1 "$T/s2")" = "Telemetry: disabled (reason: config)"
check "10: ... and warns that it cannot be read" \
    grep -q "^Warning:   config.toml cannot be read" "$T/s2"
echo "$REC" | "$CLI" emit --raw 2>/dev/null
check "10: ... and the library sends nothing either" test ! -d "$Q"
start_agent
check "10: ... and the agent agrees (disabled)" \
    sh -c "'$CLI' status --json | grep -q '\"telemetry\":\"disabled\"'"
stop_agent
rmdir "$ATOMCODE_HOME/config.toml"
printf 'x = "unterminated\n[telemetry]\nendpoint = "https://e.example"\n' \
    >"$ATOMCODE_HOME/config.toml"
"$CLI" status >"$T/s10"
check "10: unparseable config.toml stays enabled, as upstream" \
    test "$(head -n 1 "$T/s10")" = "Telemetry: enabled"
check "10: ... and status warns that it does not parse" \
    grep -q "^Warning:   config.toml does not parse (.*line 1.*telemetry is on" "$T/s10"
printf 'x = "unterminated\n[telemetry]\nenabled = false\n' >"$ATOMCODE_HOME/config.toml"
"$CLI" status >"$T/s10b"
check "10: unparseable, but it says enabled = false: disabled (reason: config)" \
    test "$(head -n 1 "$T/s10b")" = "Telemetry: disabled (reason: config)"
check "10: ... warned too" grep -q "^Warning:   config.toml does not parse" "$T/s10b"
echo "$REC" | "$CLI" emit --raw 2>/dev/null
check "10: ... and the library agrees (nothing queued)" \
    test -z "$("$CLI" dump 2>/dev/null)"
"$AGENTD" -n >/dev/null 2>"$T/n10"
check "10: ... and the agent agrees (-n)" grep -q "telemetry is off" "$T/n10"

# --- 9. --no-telemetry status says what emit does ------------------------------
newhome d9
check "9: --no-telemetry status: disabled (reason: cli:--no-telemetry)" \
    test "$("$CLI" --no-telemetry status | head -n 1)" = "Telemetry: disabled (reason: cli:--no-telemetry)"

# --- 12. opt-out values ---------------------------------------------------------
for v in "DO_NOT_TRACK=true" "DO_NOT_TRACK=yes" "ATOMCODE_TELEMETRY=false" \
    "ATOMCODE_TELEMETRY=off" "ATOMCODE_TELEMETRY=no" "ATOMCODE_TELEMETRY=OFF"; do
	env "$v" "$CLI" emit open_atomcode 2>/dev/null
	check "12: $v: emit touches no file" test ! -d "$Q"
	check "12: $v: status says disabled" \
	    sh -c "env '$v' '$CLI' status | head -n 1 | grep -q '^Telemetry: disabled (reason: env:'"
done
check "12: DO_NOT_TRACK=0 does not opt out" \
    test "$(DO_NOT_TRACK=0 "$CLI" status | head -n 1)" = "Telemetry: enabled"

# --- 13. errors that say what is wrong ----------------------------------------
"$CLI" dump --last 2>"$T/e13a"
check "13: dump --last without a value says so ($(cat "$T/e13a"))" \
    grep -q -- "--last needs a value" "$T/e13a"
"$CLI" emit tool_call --payload '{"name":"read","success":"yes","duration_ms":1}' 2>"$T/e13b"
check "13: a payload refused by the schema names the field and the rule ($(cat "$T/e13b"))" \
    sh -c "grep -q 'field \"success\"' '$T/e13b' && grep -q 'true or false' '$T/e13b' && ! grep -q 'by the agent' '$T/e13b'"
"$CLI" emit open_atomcode --mode bogus 2>"$T/e13c"
check "13: --mode bogus lists the modes ($(cat "$T/e13c"))" grep -q "headless, tui, ide" "$T/e13c"
python3 -c 'import json; print(json.dumps({"message_head": "a" * 70000}))' >"$T/big.json"
"$CLI" emit panic --payload "$(cat "$T/big.json")" 2>"$T/e13d"
check "13: a 70 KB payload: its size and the limit ($(cat "$T/e13d"))" \
    grep -q "at most 65536 bytes" "$T/e13d"
newhome d13
: >"$ATOMCODE_HOME/telemetry"		# the queue cannot be created
"$CLI" emit open_atomcode 2>"$T/e13e"
rc=$?
check "13: no agent and no writable queue: says which directory ($rc: $(cat "$T/e13e"))" \
    sh -c "[ $rc != 0 ] && grep -q 'telemetry/queue could not be written' '$T/e13e'"

# --- 15. usual spellings --------------------------------------------------------
newhome d15
check "15: atomcode-telemetryd --help on stdout, exit 0" \
    sh -c "'$AGENTD' --help 2>/dev/null | grep -q '^usage: atomcode-telemetryd'"
for v in -V --version version; do
	check "15: atomcode-telemetry $v" sh -c "'$CLI' $v | grep -q '^atomcode-telemetry [0-9]'"
done
check "15: atomcode-telemetryd -V" sh -c "'$AGENTD' -V | grep -q '^atomcode-telemetryd [0-9]'"
echo "$REC" | "$CLI" emit tool_call --raw >/dev/null 2>"$T/e15"
rc=$?
check "15: emit EVENT --raw is refused, not EVENT dropped ($rc)" \
    sh -c "[ $rc = 2 ] && grep -q 'no EVENT_ID' '$T/e15'"

# --- 14. two errors in telemetryd.conf: the first error, its own text ---------
printf '[agent]\nidle_exit_s = x\n[queue]\nfsync = bogus\n' >"$ATOMCODE_HOME/telemetryd.conf"
"$AGENTD" -n >/dev/null 2>"$T/e14"
check "14: first error's line with its own text ($(cat "$T/e14"))" \
    grep -q 'telemetryd.conf:2: bad value for \[agent\] idle_exit_s: "x"' "$T/e14"
printf '[agent]\nnot a line\nfsync = bogus\n' >"$ATOMCODE_HOME/telemetryd.conf"
"$AGENTD" -n >/dev/null 2>"$T/e14b"
check "14: a syntax error first is called one ($(cat "$T/e14b"))" \
    grep -q 'telemetryd.conf:2: syntax error' "$T/e14b"
rm -f "$ATOMCODE_HOME/telemetryd.conf"

# --- 19. endpoints that are not http(s) URLs are refused at start and in -n ----
for ep in "not a url" "ftp://example.com/x" "file:///etc/passwd"; do
	ATOMCODE_TELEMETRY_ENDPOINT="$ep" "$AGENTD" -n >/dev/null 2>"$T/e19"
	rc=$?
	check "19: -n refuses endpoint '$ep' ($rc: $(cat "$T/e19"))" \
	    sh -c "[ $rc = 1 ] && grep -q 'not an http:// or https:// URL' '$T/e19'"
done
ATOMCODE_TELEMETRY_ENDPOINT="ftp://example.com/x" timeout 5 "$AGENTD" >/dev/null 2>"$T/e19b"
rc=$?
check "19: the agent refuses to start with it ($rc)" test "$rc" = 1
check "19: ... and made no socket" test ! -e "$ATOMCODE_HOME/telemetry.sock"

# --- 17. LANG=C.UTF-8 is C: locale en-US ---------------------------------------
newhome d17
LANG=C.UTF-8 LC_ALL= "$CLI" emit open_atomcode 2>/dev/null
check "17: LANG=C.UTF-8 gives \"locale\":\"en-US\"" \
    sh -c "'$CLI' dump 2>/dev/null | grep -q '\"locale\":\"en-US\"'"

# --- 11. a relative ATOMCODE_HOME is the same directory for the agent ---------
rel="atc-rel-$$-$(basename "$T")"
mkdir -m 700 "$T/$rel"
: >"$T/$rel/.telemetry_notice_shown"
(cd "$T" && ATOMCODE_HOME="$rel" ATOMCODE_TELEMETRYD="$AGENTD" "$CLI" emit open_atomcode 2>/dev/null)
check "11: relative ATOMCODE_HOME: the spawned agent listens in that directory" \
    wait_for "test -S '$T/$rel/telemetry.sock'" 50
pid=$(head -n 1 "$T/$rel/telemetry.lock" 2>/dev/null)
[ -n "$pid" ] && PIDS="$PIDS $pid"
check "11: ... and nothing appeared in / (the agent's working directory)" \
    test ! -e "/$rel"
[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
wait_for "! kill -0 $pid 2>/dev/null" 50
# A broken agent would have made its state in /: not left behind.
[ -d "/$rel" ] && rm -rf "/$rel"

# --- 7. status: quarantined files and budget evictions --------------------------
newhome d7
mkdir -p -m 700 "$ATOMCODE_HOME/telemetry/queue"
echo "$REC" >"$Q/20260101-000000-11111111-2222-4333-8444-555555555555.invalid"
echo 12 >"$ATOMCODE_HOME/telemetry/queue-dropped"
"$CLI" status >"$T/s7"
check "7: a quarantined file is not 'not ready': no Partial line" sh -c "! grep -q '^Partial:' '$T/s7'"
check "7: ... but an Invalid line" grep -q "^Invalid:   1 segment(s) quarantined" "$T/s7"
check "7: budget evictions are shown" grep -q "^Evicted:   12 event(s) deleted unsent" "$T/s7"

# --- 8. dump --last N is the newest N -------------------------------------------
newhome d8
mkdir -p -m 700 "$Q"
python3 - "$GOLDEN/tool_call.json" "$Q" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def put(name, tss):
    with open(sys.argv[2] + "/" + name, "w") as f:
        for ts in tss:
            r["ts"] = ts
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
put("20260101-000005-aaaaaaaa-2222-4333-8444-555555555555.ndjson", [50, 60])
put("20260101-000005-ffffffff-2222-4333-8444-555555555555.ndjson", [10, 20])
PY
check "8: dump --last 1 of same-second segments is the newest record" \
    sh -c "'$CLI' dump --last 1 | grep -q '\"ts\":60'"

# --- 3, 4, 16: the agent's view in status; endpoint edits apply at once ---------
newhome d3
unset ATOMCODE_TELEMETRY_ENDPOINT
printf '[telemetry]\nendpoint = "http://127.0.0.1:9/first"\n' >"$ATOMCODE_HOME/config.toml"
check "agent starts (endpoint from config.toml)" start_agent
"$CLI" status >"$T/s16"
check "16: status does not count itself as a client" \
    grep -q "^Agent:     running (pid $AGENT_PID, .* 0 client(s))" "$T/s16"
printf '[telemetry]\nendpoint = "http://127.0.0.1:9/second"\n' >"$ATOMCODE_HOME/config.toml.new"
mv "$ATOMCODE_HOME/config.toml.new" "$ATOMCODE_HOME/config.toml"
check "4: an endpoint edited in config.toml applies without SIGHUP" \
    wait_for "ATOMCODE_TELEMETRY_ENDPOINT=http://127.0.0.1:9/mine '$CLI' status | grep -q '^Endpoint:  http://127.0.0.1:9/second (the agent'" 50
ATOMCODE_TELEMETRY_ENDPOINT=http://127.0.0.1:9/mine "$CLI" status >"$T/s4"
check "4: status shows the agent's endpoint, and says this shell's differs" \
    grep -q "^Endpoint:  http://127.0.0.1:9/second (the agent's; this shell resolves http://127.0.0.1:9/mine)" "$T/s4"
DO_NOT_TRACK=1 "$CLI" status >"$T/s3"
check "3: status says when the agent's state differs from the caller's" \
    grep -q "^Note:      the agent has telemetry enabled, here it is disabled (reason: env:DO_NOT_TRACK=1)" "$T/s3"
DO_NOT_TRACK=1 "$CLI" flush >"$T/f3" 2>"$T/f3e"
check "3: flush under DO_NOT_TRACK=1 does not ask the agent to upload" \
    sh -c "grep -q 'not asking the agent to upload' '$T/f3e' && ! grep -q Upload '$T/f3'"
printf '[telemetry]\nenabled = false\nendpoint = "http://127.0.0.1:9/second"\n' >"$ATOMCODE_HOME/config.toml"
check "4: enabled = false edited by hand applies at once" \
    wait_for "'$CLI' status --json | grep -q '\"agent\":{[^}]*\"telemetry\":\"disabled\"'" 50
"$CLI" status >"$T/s16b"
check "16: Uploads: disabled shows no next attempt" \
    sh -c "grep -q '^Uploads:   disabled' '$T/s16b' && ! grep -q 'next attempt' '$T/s16b'"
kill -STOP "$AGENT_PID"
"$CLI" status >"$T/s16c" 2>&1
kill -CONT "$AGENT_PID"
check "16: a stopped agent is 'not answering', not 'not running'" \
    grep -q "^Agent:     not answering (pid $AGENT_PID holds the agent lock" "$T/s16c"
stop_agent

# --- 16, 6. upload outcome wording; a 413 on one record keeps it ----------------
newhome d16
printf '[upload]\nbackoff_scale_pct = 1\n' >"$ATOMCODE_HOME/telemetryd.conf"
check "collector starts" start_collector
check "agent starts (collector)" start_agent
ctl '{"mode": {"status": 500}}'
echo "$REC" | "$CLI" emit --raw 2>/dev/null
"$CLI" flush --wait >"$T/f16" 2>&1
check "16: flush says the status once ($(cat "$T/f16"))" \
    test "$(cat "$T/f16")" = "Upload: failed (HTTP 500)"
"$CLI" status >"$T/s16d"
check "16: status says it once too ($(grep Uploads "$T/s16d"))" \
    sh -c "grep -q '^Uploads:   .*(HTTP 500)' '$T/s16d' && ! grep -q 'HTTP 500.*HTTP 500' '$T/s16d'"
ctl '{"reset": true, "max_records": 0}'
"$CLI" flush --wait >"$T/f6" 2>&1
check "6: a 413 on a one-record segment: failed, kept ($(cat "$T/f6"))" \
    grep -q "^Upload: failed (HTTP 413" "$T/f6"
check "6: ... nothing quarantined" sh -c "! ls '$Q' | grep -q invalid"
check "6: ... the record still queued" sh -c "'$CLI' dump 2>/dev/null | grep -q tool_call"
ctl '{"reset": true}'
check "6: delivered once the proxy lets it through" \
    sh -c "'$CLI' flush --wait | grep -q '^Upload: ok'"
ctl '{"mode": {"status": 429, "retry_after": "3600"}}'
echo "$REC" | "$CLI" emit --raw 2>/dev/null
"$CLI" flush --wait >"$T/f16b" 2>&1
stop_agent
check "agent restarts (429 pause kept)" start_agent
"$CLI" status >"$T/s16e"
check "16: after a restart the last attempt keeps its time ($(grep Uploads "$T/s16e"))" \
    grep -q "^Uploads:   paused; last: [0-9]*s ago (HTTP 429" "$T/s16e"
stop_agent
