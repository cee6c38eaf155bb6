#!/bin/sh
# Chaos 6: a corrupt queue. While the agent runs and a library client emits,
# truncated, garbage and zero-length segments, foreign files, a directory and
# a FIFO named like segments, and symlinks named like segments (pointing at
# files outside the queue) are dropped into the queue directory. The agent
# keeps running and persisting, `atomcode-telemetry check` names the bad
# files, a restart (recovery) copes with them, the symlinks are never
# followed (targets untouched, never uploaded) and, once a collector is up,
# every event the client was told ATC_OK for is delivered.
. "$(dirname "$0")/lib.sh"
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = 1\ntimeout_s = 2\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
# rec SESSION_NO: the golden llm_chat record with a recognisable session_id.
rec() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["session_id"]="00000000-0000-4000-8000-0000000000" + sys.argv[2]; print(json.dumps(r, separators=(",",":")))' \
	    "$GOLDEN/llm_chat.json" "$1"
}
REC=$(rec 98)		# in the dropped files
REC_OUT=$(rec 97)	# only behind the symlinks

check "agent starts (collector down: the queue stays on disk)" start_agent
start_emitter 0 -r 200 -f 250 -d 120
poll 50 counter_ge persisted 100

# --- drop the bad files --------------------------------------------------------
now=$(date -u +%Y%m%d-%H%M%S)
stem() { echo "$now-$(python3 -c 'import uuid; print(uuid.uuid4())')"; }
TRUNC="$(stem).ndjson"
{ echo "$REC"; echo "$REC"; printf '%s' "$REC" | head -c 200; } >"$Q/$TRUNC"
GARB="$(stem).ndjson"
head -c 8192 /dev/urandom >"$Q/$GARB"
EMPTY="$(stem).ndjson"
: >"$Q/$EMPTY"
EMPTYP="$(stem).partial"
: >"$Q/$EMPTYP"
: >"$Q/$EMPTYP.owner"
TORNP="$(stem).partial"
{ echo "$REC"; printf '%s' "$REC" | head -c 100; } >"$Q/$TORNP"
: >"$Q/$TORNP.owner"
GARBP="$(stem).partial"
head -c 4096 /dev/urandom >"$Q/$GARBP"
: >"$Q/$GARBP.owner"
echo "not a segment" >"$Q/notes.txt"
echo '{"event_id":"llm_chat"}' >"$Q/segment.tmp"
mkdir "$Q/$(stem).ndjson"
FIFO="$(stem).ndjson"
mkfifo "$Q/$FIFO"
mkdir "$T/outside"
for k in 1 2 3; do
	{ echo "$REC_OUT"; echo "$REC_OUT"; } >"$T/outside/target$k"
	touch -d '2 minutes ago' "$T/outside/target$k"
done
ln -s "$T/outside/target1" "$Q/$(stem).ndjson"
ln -s "$T/outside/target2" "$Q/$(stem).partial"
ln -s "$T/outside/target3" "$Q/$(stem).ndjson.sending-1-$(python3 -c 'import uuid; print(uuid.uuid4())')"
touch -h -d '2 minutes ago' "$Q"/*.sending-* 2>/dev/null
stat -c '%n %s %Y %i %h' "$T"/outside/target* >"$T/targets.before"
sha_before=$(cat "$T"/outside/target* | sha256sum)
echo "# dropped: truncated, garbage, zero-length .ndjson; empty, torn, garbage managed .partial; notes.txt, segment.tmp, a directory and a FIFO named *.ndjson; symlinks named .ndjson, .partial, .ndjson.sending-*"

p0=$(sfield 's["counters"]["persisted"]')
sleep 2
p1=$(sfield 's["counters"]["persisted"]')
check "the agent keeps running and persisting next to them (persisted $p0 -> $p1)" \
    test -n "$p1" -a "${p1:-0}" -gt "${p0:-0}"
"$CLI" check >"$T/check1.out" 2>&1
rc=$?
sed 's/^/# check: /' "$T/check1.out" | head -n 12
named() { grep -q "^$1:" "$T/check1.out"; }
check "check exits 1 and names the truncated segment" sh -c "[ $rc = 1 ] && grep -q '^$TRUNC:' '$T/check1.out'"
check "check names the garbage segment" named "$GARB"
# The running agent sees those partials closed (inotify) and recovers them
# within about a second, without a restart.
ls "$Q" >"$T/live-recovery"
check "the running agent recovered the closed partials: torn promoted, garbage quarantined" \
    sh -c "grep -q '^${TORNP%.partial}.ndjson\$' '$T/live-recovery' && grep -q '^${GARBP%.partial}.invalid\$' '$T/live-recovery'"
zero=$(grep -c "^$EMPTY:\|^$EMPTYP:" "$T/check1.out")
echo "# check lists zero-length files: $zero (they hold no bad line), foreign files and symlinks: $(grep -c 'notes.txt\|segment.tmp' "$T/check1.out")"

# --- a restart runs recovery over them --------------------------------------------
stop_agent_forget
check "agent restarts over the corrupt queue (recovery)" start_agent
sleep 1
check "... and is still running a second later" kill -0 "$AGENT_PID"
ls "$Q" >"$T/after-recovery"
check "recovery: the garbage partial is quarantined (.invalid)" grep -q "^${GARBP%.partial}.invalid\$" "$T/after-recovery"
check "recovery: the torn partial is promoted (.ndjson)" grep -q "^${TORNP%.partial}.ndjson\$" "$T/after-recovery"
check "recovery: the empty managed partial is deleted" sh -c "! grep -q '^$EMPTYP' '$T/after-recovery'"
stop_emitters
check "the client stored every event ($(emitter_kv 0 ok) ok, lost $(emitter_kv 0 lib_lost))" test "$EMIT_RC" = 0

# --- the collector comes up: upload everything uploadable -------------------------
stop_agent_forget
check "collector starts" start_collector
check "agent starts with the collector" start_agent
"$CLI" flush >/dev/null 2>&1
# regular ready/claimed/partial files left (symlinks, FIFO, directory excluded)
pending() {
	python3 - "$Q" <<'PY'
import os, stat, sys
q = sys.argv[1]
n = 0
for name in os.listdir(q):
    st = os.lstat(os.path.join(q, name))
    if stat.S_ISREG(st.st_mode) and (name.endswith(".ndjson") or name.endswith(".partial") or ".sending-" in name):
        n += 1
print(n)
PY
}
drained() { [ "$(pending)" = 0 ]; }
check "every regular segment is uploaded" poll 300 drained
res=$(verify "$T/collector.log" "$T/ids.0")
echo "# $res"
check "every accepted event delivered (lost=$(kv lost "$res") of $(kv accepted "$res"), dups $(kv dups "$res"))" \
    test "$(kv lost "$res")" = 0
stat -c '%n %s %Y %i %h' "$T"/outside/target* >"$T/targets.after"
sha_after=$(cat "$T"/outside/target* | sha256sum)
check "symlink targets' content untouched" test "$sha_before" = "$sha_after"
check "symlink targets' size, mtime, inode and link count untouched" \
    cmp -s "$T/targets.before" "$T/targets.after"
check "the symlinks are still there, still symlinks" test "$(find "$Q" -maxdepth 1 -type l | wc -l)" = 3
outside=$(python3 -c '
import json,sys
n=0
for l in open(sys.argv[1]):
    q=json.loads(l)
    n+=sum(1 for r in q.get("records",[]) if r.get("session_id","").endswith("000000000097"))
print(n)' "$T/collector.log")
check "nothing behind a symlink was uploaded ($outside of its records reached the collector)" test "$outside" = 0
check "the FIFO and the directory are left alone" sh -c "[ -p '$Q/$FIFO' ] && [ \$(find '$Q' -mindepth 1 -maxdepth 1 -type d | wc -l) = 1 ]"
check "notes.txt and segment.tmp are left alone" test -f "$Q/notes.txt" -a -f "$Q/segment.tmp"
check "the agent is still running" kill -0 "$AGENT_PID"
inv=$(kv invalid "$res")
garb=$(python3 -c '
import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("headers",{}).get("idempotency-key")==sys.argv[2]))' \
    "$T/collector.log" "${GARB%.ndjson}")
echo "# note: the garbage .ndjson was POSTed $garb time(s) as is: $inv unparseable line(s) reached the collector (the agent does not validate ready segments it did not write; a real server would answer 400 → .invalid)"
"$CLI" check >"$T/check2.out" 2>&1
echo "# check after the drain: $(tail -n 1 "$T/check2.out")"
stop_agent_forget
result "agent_alive=yes check_named=$(grep -c ':[0-9]*:' "$T/check1.out")_bad_lines symlinks_followed=0 lost=$(kv lost "$res") dups=$(kv dups "$res") garbage_lines_uploaded=$inv"
