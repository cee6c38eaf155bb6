#!/bin/sh
# Chaos: a day offline with sparse events, compressed. One event a
# "minute" for a "day" (1,440 events, one every 25 ms, each after more than
# the 20 ms quiet interval that would roll a segment), while the collector
# is unreachable (backoff scaled 1:100, so the agent retries all along);
# then 100 short-lived clients with no agent at all (100 fallback files);
# then the collector comes back. The 50-file cap must cost nothing: no
# event evicted, every one delivered once. The number of queue files is
# sampled during the day.
. "$(dirname "$0")/lib.sh"
DAY=1440		# events: one a minute
printf '[queue]\nroll_interval_ms = 20\n[upload]\nbackoff_scale_pct = 1\ntimeout_s = 2\nconnect_timeout_s = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$PORT/v1/events"

check "agent starts, collector unreachable" start_agent
start_emitter 0 -n "$DAY" -r 40 -f 0 -F 100
maxfiles=0
while kill -0 $EPIDS 2>/dev/null; do
	n=$(ls "$Q" | grep -c '\.ndjson$')
	[ "$n" -gt "$maxfiles" ] && maxfiles=$n
	sleep 0.5
done
stop_emitters
dropped=$(sfield 's["counters"]["dropped"]')
held=$(sfield 's["queue"]["active_events"]')
check "a day of sparse events: nothing evicted (dropped $dropped; at most $maxfiles ready files; $held held in the active segment)" \
    test "$dropped" = 0 -a "$maxfiles" -le 50
stop_agent_forget

# No agent: each short-lived client leaves its own fallback file.
i=1
while [ $i -le 100 ]; do
	"$CHAOS_BIN/emitter" -i $i -o "$T/ids.$i" -n 1 -r 0 -f 0 -F 100 \
	    >"$T/em.$i.out" 2>&1
	i=$((i + 1))
done
files=$(ls "$Q" | grep -c '\.ndjson$')
echo "# $files ready files after 100 clients without an agent"

check "collector comes up" start_collector --port "$PORT"
check "agent starts" start_agent
check "the queue drains" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 300
dropped=$(sfield 's["counters"]["dropped"]')
ids="$T/ids.0"
i=1
while [ $i -le 100 ]; do ids="$ids $T/ids.$i"; i=$((i + 1)); done
res=$(verify "$T/collector.log" $ids)
echo "# $res"
sent=$(kv accepted "$res")
check "sent=$sent stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res") (dropped $dropped)" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0 -a "$dropped" = 0
stop_agent_forget
result "sent=$sent stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res") max_ready_files=$maxfiles files_after_100_agentless_clients=$files evicted=$dropped"
