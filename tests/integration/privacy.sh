#!/bin/sh
# Privacy firewall: the leak corpus (exact stored values) and the canary
# corpus (no canary anywhere in a stored record: "leaks: N of M") through
# the agent and through the library's fallback path; the benign corpus keeps
# at least 90 % of its words; status counts redactions by kind; unknown
# fields never reach the disk. (README "Privacy firewall".)
. "$(dirname "$0")/lib.sh"
printf '[queue]\nroll_interval_ms = 50\n' >"$ATOMCODE_HOME/telemetryd.conf"
P="python3 $TOP/tests/privacy_corpus.py"

check "agent starts" start_agent
$P agent "$ATOMCODE_HOME/telemetry.sock" >"$T/send.out" 2>&1
cat "$T/send.out"
check "the agent accepted every corpus record" test ! -s "$T/send.out"
"$CLI" flush >/dev/null 2>&1
wait_for "'$CLI' status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"queue\"][\"active_events\"] == 0 else 1)'"
"$CLI" dump --last 100000 >"$T/agent.dump"
$P verify "$T/agent.dump" >"$T/agent.verify" 2>&1
cat "$T/agent.verify"
check "agent path: $(tail -n 1 "$T/agent.verify")" grep -q ', 0 wrong' "$T/agent.verify"
red=$("$CLI" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(s["redactions_by_kind"].values()))')
check "redactions are counted by kind in status ($red)" test "$red" -gt 100
"$CLI" status >"$T/status.txt"
check "status prints the redactions by kind" \
    grep -q '^Redacted:  .*path [1-9]' "$T/status.txt"

# the canary corpus through the agent (records told apart by ts)
$P leaks-agent "$ATOMCODE_HOME/telemetry.sock" >"$T/lsend.out" 2>&1
cat "$T/lsend.out"
check "the agent accepted every canary record" test ! -s "$T/lsend.out"
"$CLI" flush >/dev/null 2>&1
wait_for "'$CLI' status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"queue\"][\"active_events\"] == 0 else 1)'"
"$CLI" dump --last 100000 >"$T/lagent.dump"
$P leaks-verify "$T/lagent.dump" >"$T/lagent.verify" 2>&1
cat "$T/lagent.verify"
check "agent path: $(tail -n 1 "$T/lagent.verify")" \
    grep -q '^leaks: 0 of [5-9][0-9][0-9]* (0 not stored)$' "$T/lagent.verify"

# unknown fields are dropped before the disk, counted by name
python3 "$TOP/tests/atc.py" send "$ATOMCODE_HOME/telemetry.sock" \
    "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["prompt"]="SECRET PROMPT TEXT"; r["file_contents"]="x"; print(json.dumps(r))' "$GOLDEN/use_command.json")" >/dev/null
sleep 0.3
"$CLI" dump --last 100000 >"$T/agent2.dump"
check "an unknown field's value never reaches the disk" sh -c "! grep -q 'SECRET PROMPT' '$T/agent2.dump'"
check "dropped field names are counted in status" \
    sh -c "'$CLI' status --json | grep -q '\"prompt\":1'"
stop_agent

"$CLI" clear >/dev/null
$P fallback "$CLI" >"$T/fb.out" 2>&1
cat "$T/fb.out"
check "fallback path: every emit succeeded" test ! -s "$T/fb.out"
check "no agent ran" test ! -S "$ATOMCODE_HOME/telemetry.sock"
"$CLI" dump --last 100000 >"$T/fb.dump"
$P verify "$T/fb.dump" >"$T/fb.verify" 2>&1
cat "$T/fb.verify"
check "fallback path: $(tail -n 1 "$T/fb.verify")" grep -q ', 0 wrong' "$T/fb.verify"

$P leaks-fallback "$CLI" >"$T/lfb.out" 2>&1
cat "$T/lfb.out"
check "fallback path: every canary emit succeeded" test ! -s "$T/lfb.out"
check "still no agent ran" test ! -S "$ATOMCODE_HOME/telemetry.sock"
"$CLI" dump --last 100000 >"$T/lfb.dump"
$P leaks-verify "$T/lfb.dump" >"$T/lfb.verify" 2>&1
cat "$T/lfb.verify"
check "fallback path: $(tail -n 1 "$T/lfb.verify")" \
    grep -q '^leaks: 0 of [5-9][0-9][0-9]* (0 not stored)$' "$T/lfb.verify"

$P benign "$BUILD/tests/scrub_lines" >"$T/benign.out" 2>&1
cat "$T/benign.out"
check "$(tail -n 1 "$T/benign.out") (at least 90 %)" \
    $P benign "$BUILD/tests/scrub_lines"

# dump --explain: which fields were reduced, and to what
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["ts"]=9999999999999; r["name"]="acme_tool"; r["error_data"]="open /etc/x/y failed: password=hunter2 for bob@example.com"; print(json.dumps(r))' \
    "$GOLDEN/tool_call.json" | "$CLI" emit --raw
"$CLI" dump --explain --last 1 >"$T/explain.out"
cat "$T/explain.out"
check "dump --explain names the reduced fields and kinds" grep -q \
    '^#1 tool_call ts=9999999999999: name custom 1; error_data path 1 email 1 secret 1$' \
    "$T/explain.out"
check "dump --explain sums up" grep -q \
    '^explain: 1 record(s), 1 reduced; path 1, email 1, secret 1, custom 1$' \
    "$T/explain.out"
check "dump --explain prints no stored value" \
    sh -c "! grep -q 'open\|failed' '$T/explain.out'"
