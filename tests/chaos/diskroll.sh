#!/bin/sh
# Chaos: the disk fills up across a roll. In the agent (libfault), a new
# segment after the second fails with ENOSPC, so write batches that cross
# the 500-event roll are stored in part. 4 library clients send 1,000
# events each as fast as they can. The agent must refuse exactly what it
# did not store (persisted + storage_dropped = what it accepted), the
# clients store exactly those in their own fallback segments (their disk
# is not full), and nothing is stored twice or lost: then space returns
# (an agent without the fault) and the collector gets each event once.
. "$(dirname "$0")/lib.sh"
FAULT="$BUILD/tests/libfault.so"
printf '[queue]\nroll_interval_ms = 60000\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$PORT/v1/events"
export LD_PRELOAD="$FAULT" FAULT_MATCH=.partial FAULT_NEWSEG_ENOSPC=2
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
check "agent starts (new segments after the second: ENOSPC)" start_agent
unset LD_PRELOAD FAULT_MATCH FAULT_NEWSEG_ENOSPC
i=0
while [ $i -lt 4 ]; do
	start_emitter $i -n 1000 -r 0 -f 50
	i=$((i + 1))
done
for p in $EPIDS; do wait "$p"; done
stop_emitters
acc=$(sfield 's["counters"]["accepted"]')
per=$(sfield 's["counters"]["persisted"]')
sd=$(sfield 's["counters"]["storage_dropped"]')
tk=$(sfield 's["counters"]["taken_over"]')
we=$(sfield 's["counters"]["write_errors"]')
check "the agent accounts for every event it accepted: persisted $per + refused $sd + taken over $tk = accepted $acc ($we failed writes)" \
    test $((per + sd + tk)) = "$acc" -a "$we" -gt 0 -a "$per" -le 1000
lost=0
i=0
while [ $i -lt 4 ]; do lost=$((lost + $(emitter_kv $i lib_lost))); i=$((i + 1)); done
check "the clients lost nothing ($lost)" test "$lost" = 0
stop_agent_forget
resq=$(verify "$Q" "$T/ids.0" "$T/ids.1" "$T/ids.2" "$T/ids.3")
echo "# queue: $resq"
check "on disk: each event once (lost $(kv lost "$resq"), dups $(kv dups "$resq"))" \
    test "$(kv lost "$resq")" = 0 -a "$(kv dups "$resq")" = 0
check "collector starts" start_collector --port "$PORT"
check "space returns: the agent starts" start_agent
check "the queue drains" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 300
res=$(verify "$T/collector.log" "$T/ids.0" "$T/ids.1" "$T/ids.2" "$T/ids.3")
echo "# $res"
check "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res")" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0
stop_agent_forget
result "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res") agent_persisted=$per agent_refused=$sd write_errors=$we"
