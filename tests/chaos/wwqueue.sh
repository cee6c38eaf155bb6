#!/bin/sh
# Chaos: a world-writable queue directory. Another user (uid 65534) plants
# ready segments, a managed partial and an old claim there, full of
# records, while 2 library clients emit and the agent uploads. The agent
# restricts the directory to 0700 and says so; it never uploads, promotes,
# restores or removes the other user's files; every event of ours arrives
# once. Needs root (to act as another uid); skipped otherwise.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	skip "acting as another uid needs root and setpriv"
	result "skipped (not root)"
	exit 0
fi
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
mkdir -p -m 700 "$Q"
chmod 0711 "$T" "$ATOMCODE_HOME" "$ATOMCODE_HOME/telemetry"
chmod 0777 "$Q"
# Records of a session no emitter uses: any of them at the collector is
# "foreign" in verify.py's count.
python3 - "$T" "$TOP/tests/compat/llm_chat.json" <<'PY'
import json, sys
t, rec = sys.argv[1], json.load(open(sys.argv[2]))
rec["session_id"] = "00000000-0000-4000-8000-999999999999"
with open(t + "/planted", "w") as f:
    for i in range(100):
        rec["duration_ms"] = i
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
PY
: >"$T/empty"
stem=20250101-000000-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9
as_nobody() { # as_nobody NAME SRC
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    sh -c 'cat >"$1"' sh "$Q/$1" <"$2"
}
as_nobody "${stem}01.ndjson" "$T/planted"
as_nobody "${stem}02.ndjson" "$T/planted"
as_nobody "${stem}03.partial" "$T/planted"
as_nobody "${stem}03.partial.owner" "$T/empty"
claim="${stem}04.ndjson.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4"
as_nobody "$claim" "$T/planted"
touch -d "5 minutes ago" "$Q/$claim"
check "uid 65534 planted 5 files" test "$(stat -c %u "$Q"/* | grep -c 65534)" = 5

check "collector starts" start_collector
check "agent starts" start_agent
check "the directory is restricted to 0700" test "$(stat -c %a "$Q")" = 700
check "... and the agent says so" grep -q "writable by others" "$T/agent.err"
start_emitter 0 -r 200 -f 250 -d 5
start_emitter 1 -r 200 -f 250 -d 5
sleep 5
stop_emitters
drained() { ! ls "$Q" | grep -v "^$stem" | grep -q '\.ndjson$\|\.sending-\|\.partial$'; }
check "the queue drains" poll 300 drained
check "the other user's files are all still there, untouched" \
    test "$(stat -c %u "$Q"/* | grep -c 65534)" = 5
stop_agent_forget
res=$(verify "$T/collector.log" "$T/ids.0" "$T/ids.1")
echo "# $res"
check "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res"); uploaded of theirs: $(kv foreign "$res")" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0 -a "$(kv foreign "$res")" = 0
result "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res"); another uid's 400 records uploaded: $(kv foreign "$res")"
