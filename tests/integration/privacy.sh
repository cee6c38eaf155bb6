#!/bin/sh
# Privacy firewall (README "Privacy firewall"): the leak corpus through the agent and through
# the library's fallback path; each stored value must be exactly the
# expected scrubbed text. Also: unknown fields never reach the disk.
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
