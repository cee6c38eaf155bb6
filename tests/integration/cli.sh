#!/bin/sh
# The CLI (README "CLI"): upstream-compatible output of status,
# dump, clear, recover, check; enable/disable editing config.toml; the global
# --no-telemetry flag; status/dump/clear/check never start an agent.
. "$(dirname "$0")/lib.sh"
Q="$ATOMCODE_HOME/telemetry/queue"
REC=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$GOLDEN/tool_call.json")
# These may try to spawn: make any attempt visible.
export ATOMCODE_TELEMETRYD="$T/spawned"
printf '#!/bin/sh\necho x >>"%s/spawn-attempted"\n' "$T" >"$T/spawned"
chmod +x "$T/spawned"

# --- status with nothing on disk -----------------------------------------------
"$CLI" status >"$T/s0" 2>&1
cat >"$T/s0.want" <<EOF
Telemetry: enabled
Config:    enabled = default-true ($ATOMCODE_HOME/config.toml)
Queue:     (empty)
Endpoint:  http://127.0.0.1:9/v1/events
Schema:    v1
Notice:    first-run notice not shown yet
Agent:     not running
EOF
check "status on an empty home: upstream lines, then Agent" cmp "$T/s0.want" "$T/s0"
check "status created no file" test -z "$(ls -A "$ATOMCODE_HOME")"
ATOMCODE_TELEMETRY=0 "$CLI" status | head -n 1 >"$T/s1"
check "status shows the env reason" \
    test "$(cat "$T/s1")" = "Telemetry: disabled (reason: env:ATOMCODE_TELEMETRY=0)"
"$CLI" --no-telemetry status | head -n 1 >"$T/s2"
check "status applies --no-telemetry, as emit does" \
    test "$(cat "$T/s2")" = "Telemetry: disabled (reason: cli:--no-telemetry)"
"$CLI" status --json >"$T/sj"
check "status --json has the documented keys" python3 - "$T/sj" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("telemetry", "endpoint", "queue", "agent", "config"):
    assert k in s, k
assert s["agent"]["running"] is False
for k in ("events", "segments", "bytes"):
    assert k in s["queue"], k
PY
check "dump with no queue: (no queued events) on stderr, nothing on stdout" \
    sh -c "test -z \"\$('$CLI' dump 2>/dev/null)\" && test \"\$('$CLI' dump 2>&1 >/dev/null)\" = '(no queued events)'"
check "clear with no queue: (already empty)" test "$("$CLI" clear)" = "(already empty)"
check "recover with no queue" test "$("$CLI" recover)" = "(no legacy telemetry segments)"

# --- the global --no-telemetry flag, before or after the command ---------------
echo "$REC" | "$CLI" --no-telemetry emit --raw 2>/dev/null
echo "$REC" | "$CLI" emit --raw --no-telemetry 2>/dev/null
ATOMCODE_TELEMETRY=0 "$CLI" emit open_atomcode 2>/dev/null
DO_NOT_TRACK=1 "$CLI" emit open_atomcode 2>/dev/null
check "a disabled emit touches no file (flag before/after, env)" test -z "$(ls -A "$ATOMCODE_HOME")"

# --- queue contents ---------------------------------------------------------------
for i in 1 2 3; do echo "$REC" | "$CLI" emit --raw; done
# Spawns are detached: wait until the marker stops growing, then clear it.
check "emit with no agent attempted a spawn" wait_for "test -s '$T/spawn-attempted'"
prev=-1
i=0
while [ $i -lt 40 ]; do
	cur=$(wc -c <"$T/spawn-attempted")
	[ "$cur" = "$prev" ] && break
	prev=$cur
	sleep 0.5
	i=$((i + 1))
done
rm -f "$T/spawn-attempted"
"$CLI" status >"$T/s3"
check "status: Queue line counts the ready events" grep -q "^Queue:     3 events in [0-9]* segment(s) ([0-9]*\.[0-9] KB)$" "$T/s3"
check "dump --last 2 prints two lines" test "$("$CLI" dump --last 2 | wc -l)" = 2
check "dump --last 0 prints nothing" test -z "$("$CLI" dump --last 0)"
check "dump --last -1 is an error on stderr" sh -c "! '$CLI' dump --last -1 2>/dev/null >/dev/null"
check "dump --pretty of a golden is the golden file" \
    sh -c "'$CLI' dump --last 1 --pretty | cmp - '$GOLDEN/tool_call.json'"

# a partial segment left by a crashed writer shows up as Partial
stem="20260101-000000-11111111-2222-4333-8444-555555555555"
printf '%s\n{"event_id":"tool_ca' "$REC" >"$Q/$stem.partial"
: >"$Q/$stem.partial.owner"
"$CLI" status >"$T/s4"
check "status shows a Partial line for a not-ready segment" grep -q "^Partial:   1 segment(s) not ready" "$T/s4"
"$CLI" check >"$T/c1" 2>&1
rc=$?
check "check exits 1 on a torn partial" test "$rc" = 1
check "check names file:line" grep -q "$stem.partial:2:" "$T/c1"
printf '%s\nnot json at all\n%s\n' "$REC" "$REC" >"$Q/20260101-000001-aaaaaaaa-2222-4333-8444-555555555555.ndjson"
"$CLI" check >"$T/c2" 2>&1
check "check reports a corrupt middle line as file:2" grep -q "20260101-000001-aaaaaaaa-2222-4333-8444-555555555555.ndjson:2:" "$T/c2"
rm -f "$Q/20260101-000001-aaaaaaaa-2222-4333-8444-555555555555.ndjson"
n_before=$(ls "$Q" | wc -l)
out=$("$CLI" clear)
check "clear prints the upstream message ($out)" sh -c "echo '$out' | grep -Eq '^Queue cleared \\([0-9]+ file\\(s\\) removed\\)\\.$'"
check "clear removed the files" test -z "$(ls "$Q" | grep -v owner)"
check "status/dump/clear/check never tried to spawn" test ! -e "$T/spawn-attempted"

# --- enable / disable edit config.toml in place --------------------------------------
cp "$GOLDEN/config.example.toml" "$ATOMCODE_HOME/config.toml"
chmod 640 "$ATOMCODE_HOME/config.toml"
"$CLI" disable >"$T/d1" 2>&1
check "disable prints 'Telemetry disabled.' first" grep -q "^Telemetry disabled\\." "$T/d1"
check "config now says enabled = false" grep -q "^enabled = false" "$ATOMCODE_HOME/config.toml"
python3 - "$GOLDEN/config.example.toml" "$ATOMCODE_HOME/config.toml" >"$T/diff.out" <<'PY'
import sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
print("prefix-kept" if b.startswith(a) and b"[telemetry]" in b[len(a):] else "CHANGED")
PY
check "every other byte of the user's config is unchanged" grep -q prefix-kept "$T/diff.out"
check "file mode preserved (0640)" test "$(stat -c %a "$ATOMCODE_HOME/config.toml")" = 640
check "disable emitted telemetry_disabled first" sh -c "'$CLI' dump | grep -q '\"event_id\":\"telemetry_disabled\"'"
check "status: disabled (reason: config)" \
    test "$("$CLI" status | head -n 1)" = "Telemetry: disabled (reason: config)"
check "status: Config line says false" grep -q "^Config:    enabled = false" "$("$CLI" status >"$T/s5"; echo "$T/s5")"
"$CLI" clear >/dev/null
"$CLI" disable >/dev/null 2>&1
check "disable when already disabled emits nothing" test -z "$("$CLI" dump 2>/dev/null)"
"$CLI" enable >"$T/e1" 2>&1
check "enable prints 'Telemetry enabled.'" test "$(cat "$T/e1")" = "Telemetry enabled."
check "config now says enabled = true" grep -q "^enabled = true" "$ATOMCODE_HOME/config.toml"
printf '[providers\nbroken = \n' >"$ATOMCODE_HOME/config.toml"
cp "$ATOMCODE_HOME/config.toml" "$T/broken.toml"
"$CLI" disable >"$T/d2.out" 2>"$T/d2.err"
rc=$?
check "disable refuses a config that does not parse (exit $rc)" test "$rc" != 0
check "... says why on stderr" grep -q "is not valid TOML, so I won't rewrite it" "$T/d2.err"
check "... and leaves the file byte-identical" cmp "$T/broken.toml" "$ATOMCODE_HOME/config.toml"

# --- errors ----------------------------------------------------------------------------
"$CLI" frobnicate >/dev/null 2>"$T/err1"
check "unknown command: non-zero exit and a message on stderr" \
    sh -c "test -s '$T/err1' && ! '$CLI' frobnicate 2>/dev/null"
echo '{"event_id":"nope"}' | "$CLI" emit --raw >/dev/null 2>"$T/err2"
rc=$?
check "emit --raw of an unknown event fails with a reason (exit $rc)" test "$rc" != 0 -a -s "$T/err2"
"$CLI" flush >/dev/null 2>"$T/err3"
rc=$?
check "flush with no agent fails clearly (exit $rc: $(cat "$T/err3"))" \
    sh -c "test $rc != 0 && grep -q 'not running' '$T/err3'"
