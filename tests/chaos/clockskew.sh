#!/bin/sh
# Chaos: clock skew with crash and restart. The writers' wall clock runs
# 100 days behind (tests/fault/libfault.so, FAULT_CLOCK_OFFSET_S; a board
# without an RTC, a restored VM): segment names and record ts are 100 days
# old, file times (the kernel's) are not. An agent that acknowledged 300
# events is SIGKILLed with them in its active segment; a library client
# with no agent is SIGKILLed with 200 in its fallback segment; an upload
# claim is dated an hour in the future. `dump` and `status` run while it
# is so (they must not delete anything); then an agent with the right
# clock starts: recovery must keep all of it and the collector must get
# every acknowledged event exactly once.
. "$(dirname "$0")/lib.sh"
SKEW=-8640000	# 100 days
FAULT="$BUILD/tests/libfault.so"
# No quiet roll: the acknowledged events stay in the active segment.
printf '[queue]\nroll_interval_ms = 600000\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$PORT/v1/events"

# 1. The agent, 100 days behind, acknowledges 300 events, then dies.
export LD_PRELOAD="$FAULT" FAULT_CLOCK_OFFSET_S=$SKEW
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
check "a skewed agent starts" start_agent
start_emitter 0 -n 300 -r 2000 -f 50
unset LD_PRELOAD FAULT_CLOCK_OFFSET_S
for p in $EPIDS; do wait "$p"; done
EPIDS=""
acked=$(emitter_kv 0 lib_acked)
check "the agent acknowledged all 300 ($acked)" test "$acked" = 300
kill9_agent
old=$(ls "$Q" | grep -c "^$(date -u -d "@$(( $(date +%s) + SKEW ))" +%Y%m%d).*\.partial$")
check "they are in a partial named 100 days ago ($old)" test "$old" -ge 1

# 2. A library client, 100 days behind and without an agent, dies with 200
#    events in its fallback segment.
env LD_PRELOAD="$FAULT" FAULT_CLOCK_OFFSET_S=$SKEW \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$CHAOS_BIN/emitter" -i 1 -o "$T/ids.1" -n 100000 -r 400 -f 0 \
    >"$T/em.1.out" 2>&1 &
e1=$!
PIDS="$PIDS $e1"
poll 100 sh -c "[ \$(cat '$T/ids.1' 2>/dev/null | wc -l) -ge 200 ]"
kill -9 "$e1"
wait "$e1" 2>/dev/null
forget_pid "$e1"
n1=$(wc -l <"$T/ids.1")
check "the client wrote $n1 events to a fallback partial before dying" test "$n1" -ge 200

# 3. An upload claim dated an hour in the future (the clock went back).
"$CHAOS_BIN/emitter" -i 2 -o "$T/ids.2" -n 50 -r 0 -f 0 >"$T/em.2.out" 2>&1
ready=$(ls "$Q" | grep '\.ndjson$' | head -n 1)
mv "$Q/$ready" "$Q/$ready.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4"
touch -d "+1 hour" "$Q/$ready.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4"

# Reading must not write: dump and status while the queue is like this.
before=$(ls -l --full-time "$Q" | sort)
"$CLI" dump --last 1000 >/dev/null 2>&1
"$CLI" status >/dev/null 2>&1
"$CLI" check >/dev/null 2>&1
after=$(ls -l --full-time "$Q" | sort)
check "dump, status and check change nothing" test "$before" = "$after"

# 4. The right clock again: recovery keeps everything, all of it goes out.
check "collector starts on port $PORT" start_collector --port "$PORT"
check "an agent with the right clock starts" start_agent
check "the queue drains" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 200
grep -q "deleted .* older than" "$T/agent.err" && fail "the agent deleted old segments: $(grep 'older than' "$T/agent.err")"
res=$(verify "$T/collector.log" "$T/ids.0" "$T/ids.1" "$T/ids.2")
echo "# $res"
sent=$(kv accepted "$res")
check "sent=$sent stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res")" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0
stop_agent_forget
result "sent=$sent stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res") (agent 300 acked + library $n1 + future claim 50; clock 100 days behind)"
