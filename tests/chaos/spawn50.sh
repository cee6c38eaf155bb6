#!/bin/sh
# Chaos 5: 50 CLIs at once on a fresh ATOMCODE_HOME (no agent, no
# device_id), auto-spawn allowed (ATOMCODE_TELEMETRYD = the real agent):
# exactly one agent process results, every record carries the one device_id
# that was created, and all 50 records end up in the queue exactly once.
# The spawned agents are found through /proc (executable + ATOMCODE_HOME in
# their environment) and stopped by PID.
. "$(dirname "$0")/lib.sh"
N=50
export ATOMCODE_TELEMETRYD="$AGENTD"
printf '[queue]\nroll_interval_ms = 100\n' >"$ATOMCODE_HOME/telemetryd.conf"

# agent_pids: PIDs of agents running on our ATOMCODE_HOME.
agent_pids() {
	python3 - "$ATOMCODE_HOME" "$AGENTD" <<'PY'
import os, sys
want = ("ATOMCODE_HOME=" + sys.argv[1]).encode()
exe = os.path.realpath(sys.argv[2])
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        if os.path.realpath("/proc/%s/exe" % p) != exe:
            continue
        with open("/proc/%s/environ" % p, "rb") as f:
            if want in f.read().split(b"\0"):
                print(p)
    except OSError:
        pass
PY
}
n_agents() { agent_pids | wc -l | tr -d ' '; }
one_agent() { [ "$(n_agents)" = 1 ]; }

check "fresh home: no device_id, no agent" test ! -e "$ATOMCODE_HOME/device_id" -a "$(n_agents)" = 0
t0=$(now_ms)
cpids=""
i=0
while [ $i -lt $N ]; do
	"$CLI" emit open_atomcode >"$T/cli.$i.out" 2>&1 &
	cpids="$cpids $!"
	i=$((i + 1))
done
PIDS="$PIDS $cpids"
bad=0
for p in $cpids; do
	wait "$p" || bad=$((bad + 1))
	forget_pid "$p"
done
ms=$(( $(now_ms) - t0 ))
check "$N concurrent 'emit open_atomcode' all exit 0 ($bad failed, ${ms} ms in all)" test "$bad" = 0
[ "$bad" != 0 ] && cat "$T"/cli.*.out | sort | uniq -c | sed 's/^/# /' | head -n 5
poll 50 one_agent
sleep 2		# late spawners would show up now
apids=$(agent_pids | tr '\n' ' ')
PIDS="$PIDS $apids"
check "exactly one agent process results (pids: ${apids:-none})" test "$(echo $apids | wc -w)" = 1
spid=$(sfield 's["agent"].get("pid")')
check "... and it is the one answering on the socket (status pid $spid)" test "$spid" = "$(echo $apids)"

dev=$(cat "$ATOMCODE_HOME/device_id" 2>/dev/null)
check "one device_id was created ($dev)" python3 -c 'import sys,uuid; u=uuid.UUID(sys.argv[1]); sys.exit(0 if u.version == 4 and str(u) == sys.argv[1] else 1)' "$dev"
# Stop the agent (it rolls its segment), then read every segment.
for p in $apids; do kill -TERM "$p" 2>/dev/null; done
for p in $apids; do
	j=0
	while kill -0 "$p" 2>/dev/null && [ $j -lt 50 ]; do sleep 0.1; j=$((j + 1)); done
	forget_pid "$p"
done
check "the agent stopped on SIGTERM" test "$(n_agents)" = 0
python3 - "$Q" "$dev" >"$T/count.out" <<'PY'
import json, os, sys, collections
q, dev = sys.argv[1], sys.argv[2]
recs = []
for name in sorted(os.listdir(q)):
    p = os.path.join(q, name)
    if os.path.islink(p) or not (name.endswith(".ndjson") or name.endswith(".partial")):
        continue
    for line in open(p, "rb"):
        if line.strip():
            recs.append(json.loads(line))
opens = [r for r in recs if r.get("event_id") == "open_atomcode"]
devs = collections.Counter(r.get("device_id") for r in opens)
launches = collections.Counter(r.get("launch_id") for r in opens)
print("records=%d open_atomcode=%d distinct_launch_ids=%d max_copies=%d device_ids=%d all_match=%s" % (
    len(recs), len(opens), len(launches), max(launches.values() or [0]),
    len(devs), list(devs) == [dev]))
PY
c=$(cat "$T/count.out")
echo "# queue: $c"
check "all $N records are in the queue, once each ($(kv open_atomcode "$c") records, $(kv distinct_launch_ids "$c") launches, max copies $(kv max_copies "$c"))" \
    test "$(kv open_atomcode "$c")" = "$N" -a "$(kv distinct_launch_ids "$c")" = "$N"
check "every record carries the same device_id as the file ($(kv device_ids "$c") distinct)" \
    test "$(kv device_ids "$c")" = 1 -a "$(kv all_match "$c")" = True
result "agents=$(echo $apids | wc -w) device_ids=$(kv device_ids "$c") records=$(kv open_atomcode "$c")/$N cli_failures=$bad wall=${ms}ms"
