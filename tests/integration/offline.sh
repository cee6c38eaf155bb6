#!/bin/sh
# offline.sh — sparse events while uploads cannot proceed (the collector is
# down) are all kept: the agent keeps appending to its active segment
# instead of rolling it after each quiet interval, so 80 events do not
# become 80 files and the 50-file cap evicts nothing. When the collector
# comes back, everything is delivered.
. "$(dirname "$0")/lib.sh"
printf '[queue]\nroll_interval_ms = 20\n[upload]\nbackoff_scale_pct = 2\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
start_collector
# The collector refuses connections: an endpoint nobody listens on.
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:9/v1/events"
check "agent starts (collector unreachable)" start_agent
i=0
while [ $i -lt 80 ]; do
	records 1 $((1000 + i)) | "$CLI" emit --raw 2>/dev/null
	sleep 0.05	# longer than roll_interval_ms: each one is "quiet"
	i=$((i + 1))
done
sfile() { "$CLI" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
check "all 80 are held: persisted $(sfile 's["counters"]["persisted"]'), dropped $(sfile 's["counters"]["dropped"]')" \
    test "$(sfile 's["counters"]["dropped"]')" = 0
nfiles=$(ls "$ATOMCODE_HOME/telemetry/queue" | grep -c '\.ndjson$')
check "in a few files, not one per event ($nfiles ready)" test "$nfiles" -le 10
stop_agent
n=$(cat "$ATOMCODE_HOME"/telemetry/queue/*.ndjson | wc -l)
check "after a restart (shutdown rolls) all 80 are on disk ($n)" test "$n" = 80
# The collector comes back: everything goes out.
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$CPORT/v1/events"
check "agent starts (collector up)" start_agent
check "the 80 events are delivered" wait_for "test \"\$(python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen(\"http://127.0.0.1:$CPORT/_stats\"))[\"records\"])')\" = 80" 150
stop_agent
