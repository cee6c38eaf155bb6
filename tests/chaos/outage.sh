#!/bin/sh
# Chaos 3: the collector is down (nothing listens on its port) for the whole
# run while a client emits, then comes up. With backoff_scale_pct = 2 the
# retry schedule (docs/ARCHITECTURE.md: 2, 8, 30, 120, 300 s, equal jitter) becomes
# 40 ms .. 6 s: the number of attempts during the outage must stay within
# what that schedule allows, the agent must not spin (CPU time over the
# quiet part of the outage), the next retry is never further away than the
# scaled cap, and once the collector is up every event is delivered without
# any kick from outside.
. "$(dirname "$0")/lib.sh"
SCALE=2			# backoff_scale_pct
EMIT_S=5		# outage part 1: events arrive
QUIET_S=15		# outage part 2: nothing arrives
CPU_BOUND_MS=150	# agent CPU over the quiet part (1% of one core)
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = %s\ntimeout_s = 2\nconnect_timeout_s = 1\n' \
    "$SCALE" >"$ATOMCODE_HOME/telemetryd.conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$PORT/v1/events"

check "agent starts with the collector down (port $PORT closed)" start_agent
t_down=$(now_ms)
start_emitter 0 -r 100 -d "$EMIT_S" -f 250
sleep "$EMIT_S"
stop_emitters
check "the client stored every event ($(emitter_kv 0 ok) accepted)" test "$EMIT_RC" = 0

# The quiet part: sample the schedule, then measure CPU and attempts.
cpu0=$(cpu_ms "$AGENT_PID")
max_wait=0
i=0
while [ $i -lt "$QUIET_S" ]; do
	w=$(sfield 'max(0, (s.get("upload") or {}).get("next_attempt_unix_ms", 0) - int(__import__("time").time() * 1000))')
	[ -n "$w" ] && [ "$w" -gt "$max_wait" ] && max_wait=$w
	sleep 1
	i=$((i + 1))
done
cpu1=$(cpu_ms "$AGENT_PID")
t_up=$(now_ms)
fails=$(sfield 's["counters"]["upload_failures"]')
outage_ms=$((t_up - t_down))
bound=$(python3 - "$SCALE" "$outage_ms" <<'PY'
import sys
scale, window = int(sys.argv[1]), int(sys.argv[2])
table = [2000, 8000, 30000, 120000, 300000]	# agent/backoff.c
n, t = 1, 0
while True:	# fastest schedule: every delay at its jitter minimum d/2
    d = table[min(n - 1, len(table) - 1)] * scale // 100 // 2
    if t + d > window:
        break
    t += d
    n += 1
print(n)
PY
)
cap=$((300000 * SCALE / 100))
cpu=$(echo "$cpu1 $cpu0" | awk '{ printf "%d", $1 - $2 }')
check "bounded attempts during a ${outage_ms} ms outage ($fails failed uploads, schedule allows <= $bound)" \
    test "${fails:-0}" -ge 1 -a "${fails:-999}" -le "$bound"
check "the next retry is never further than the scaled cap (max ${max_wait} ms <= ${cap} ms)" \
    test "$max_wait" -le $((cap + 100))
check "no busy loop: agent CPU ${cpu} ms over ${QUIET_S} s of outage (bound ${CPU_BOUND_MS} ms)" \
    test "$cpu" -le "$CPU_BOUND_MS"
# Held back in the active segment while uploads fail, or ready: all kept.
check "the agent kept the events queued" test "$(sfield 's["queue"]["events"] + s["queue"]["active_events"]')" = "$(emitter_kv 0 ok)"

# --- the collector comes up on the same port -----------------------------------
check "collector comes up on port $PORT" start_collector --port "$PORT"
check "every event is delivered without a kick (within the scaled cap)" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" $(( (cap + 5000) / 100 ))
rec_ms=$(( $(now_ms) - t_up ))
res=$(verify "$T/collector.log" "$T/ids.0")
echo "# $res"
check "nothing lost, nothing twice (lost=$(kv lost "$res") dups=$(kv dups "$res") of $(kv accepted "$res"))" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0
stop_agent_forget
result "outage=${outage_ms}ms attempts=$fails (bound $bound) max_next_retry=${max_wait}ms agent_cpu=${cpu}ms/${QUIET_S}s recovery=${rec_ms}ms lost=$(kv lost "$res") dups=$(kv dups "$res")"
