#!/bin/sh
# foreign.sh — a queue directory others could write to: the agent restricts
# it to 0700 and says so, and never uploads, promotes or removes the files
# another user (uid 65534) planted in it, while uploading its own events.
# Needs root (to act as another uid); otherwise only the mode repair runs.
. "$(dirname "$0")/lib.sh"
REC=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/llm_chat.json")
Q="$ATOMCODE_HOME/telemetry/queue"
mkdir -p -m 700 "$Q"
chmod 0777 "$Q"
stem=20250101-000000-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9
nforeign=0
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 0711 "$T" "$ATOMCODE_HOME" "$ATOMCODE_HOME/telemetry"
	python3 - "$T" "$REC" <<'PY'
import json, sys
t, rec = sys.argv[1], json.loads(sys.argv[2])
for k, n in ((1, 5), (2, 3), (3, 2)):
    with open("%s/body%d" % (t, k), "w") as f:
        for i in range(n):
            r = dict(rec); r["duration_ms"] = 900000 + k * 10 + i
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
	: >"$T/body0"
	as_nobody() { # as_nobody NAME SRC: write SRC into $Q/NAME as uid 65534
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		    sh -c 'cat >"$1"' sh "$Q/$1" <"$2"
	}
	as_nobody "${stem}01.ndjson" "$T/body1"
	as_nobody "${stem}02.partial" "$T/body2"
	as_nobody "${stem}02.partial.owner" "$T/body0"
	as_nobody "${stem}03.ndjson.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4" "$T/body3"
	touch -d "2 minutes ago" "$Q/${stem}03.ndjson.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4"
	check "uid 65534 planted 4 files" test "$(stat -c %u "$Q"/* | grep -c 65534)" = 4
	nforeign=4
else
	skip_msg="not root: no file of another uid"
	echo "# $skip_msg"
fi
# One of ours that everyone may write: not trusted either.
echo "$REC" | sed 's/"duration_ms":[0-9]*/"duration_ms":999999/' >"$Q/${stem}04.ndjson"
chmod 0666 "$Q/${stem}04.ndjson"
nforeign=$((nforeign + 1))

start_collector
check "the agent starts with a world-writable queue directory" start_agent
check "... restricts it to 0700" test "$(stat -c %a "$Q")" = 700
check "... and says so in its log" grep -q "writable by others (mode 0777)" "$T/agent.err"
echo "$REC" | "$CLI" emit --raw
check "its own event is uploaded" \
    wait_for "test \"\$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])')\" -ge 1" 100
sleep 1.5	# a retry or a late recovery would show now
got=$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen("http://127.0.0.1:'"$CPORT"'/_stats"))["records"])')
check "nothing else was uploaded (collector has $got record(s))" test "$got" = 1
check "the untrusted files are all still there ($nforeign)" \
    test "$(ls "$Q" | grep -c "^$stem")" -ge "$nforeign"
check "status counts them as ignored" \
    sh -c "\"$CLI\" status | grep -q '^Ignored:   $nforeign file'"
stop_agent
