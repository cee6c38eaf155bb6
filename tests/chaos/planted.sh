#!/bin/sh
# Chaos: FIFOs and symlinks planted where state files live, while clients
# emit and the agent uploads. No open may block (every command here runs
# under timeout(1)), no link is followed out of the state directory, and
# no event is lost or stored twice. Planted: FIFOs at device_id, health.json,
# upload-state.json, queue-dropped, agent.log (detached agent), the agent's
# health.json.tmp-<pid>, queue files (.ndjson, .partial with its marker),
# a regular file at a connection's takeover marker name; symlinks to a
# secret outside the queue named as segments; config.toml first a FIFO
# (telemetry stays off, nothing hangs), then a symlink to a real config.
. "$(dirname "$0")/lib.sh"
TEL="$ATOMCODE_HOME/telemetry"
mkdir -p -m 700 "$Q"
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
echo "SECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" >"$T/secret"
stem=20250101-000000-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9
mkfifo "$ATOMCODE_HOME/config.toml" "$ATOMCODE_HOME/device_id" \
    "$TEL/health.json" "$TEL/upload-state.json" "$TEL/queue-dropped" \
    "$TEL/agent.log" "$Q/${stem}01.ndjson" "$Q/${stem}02.partial"
: >"$Q/${stem}02.partial.owner"
ln -s "$T/secret" "$Q/${stem}03.ndjson"
ln -s "$T/secret" "$Q/${stem}04.partial"
: >"$Q/${stem}04.partial.owner"
mkdir "$Q/${stem}05.ndjson"

bounded() { # bounded DESC CMD...: CMD must end within 10 s
	_d=$1
	shift
	timeout 10 "$@" >"$T/bounded.out" 2>&1
	_rc=$?
	check "$_d returns (rc $_rc)" test "$_rc" != 124
}
bounded "the agent with a FIFO at config.toml, -n" "$AGENTD" -n
bounded "status" "$CLI" status
bounded "emit" "$CLI" emit open_atomcode
bounded "dump" "$CLI" dump
bounded "check" "$CLI" check
bounded "a detached agent (FIFO at agent.log)" "$AGENTD" --detach
if wait_for "\"$CLI\" status --json | grep -q '\"running\":true'" 50; then
	dpid=$(sfield 's["agent"]["pid"]')
	PIDS="$PIDS $dpid"
	kill -TERM "$dpid"
	check "... which answered (pid $dpid) and stops" \
	    wait_for "! kill -0 $dpid 2>/dev/null" 50
else
	fail "... which answered"
fi
# Now a config the user keeps elsewhere (a dotfile manager's link).
rm -f "$ATOMCODE_HOME/config.toml"
printf '[telemetry]\nenabled = true\n' >"$T/dotfiles.toml"
ln -s "$T/dotfiles.toml" "$ATOMCODE_HOME/config.toml"

check "collector starts" start_collector
check "agent starts" start_agent
mkfifo "$TEL/health.json.tmp-$AGENT_PID"
i=0
while [ $i -lt 4 ]; do
	start_emitter $i -r 200 -f 250 -d 5
	i=$((i + 1))
done
sleep 5
stop_emitters
drained() { # nothing of ours left to send (the planted names stay)
	! ls "$Q" | grep -v "^$stem" | grep -q '\.ndjson$\|\.sending-\|\.partial$'
}
check "the queue drains" poll 300 drained
bounded "status with the agent up" "$CLI" status
check "the agent still answers (pid $AGENT_PID)" \
    sh -c "\"$CLI\" status --json | grep -q '\"pid\":$AGENT_PID,'"
check "the planted FIFOs and links are untouched" \
    sh -c "test -p '$Q/${stem}01.ndjson' -a -p '$Q/${stem}02.partial' -a -L '$Q/${stem}03.ndjson' -a -L '$Q/${stem}04.partial' -a -p '$TEL/queue-dropped'"
check "the secret behind the links never left the machine" \
    sh -c "! grep -q \"\$(cat '$T/secret')\" '$T/collector.log'"
stop_agent_forget
res=$(verify "$T/collector.log" "$T/ids.0" "$T/ids.1" "$T/ids.2" "$T/ids.3")
echo "# $res"
check "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res")" \
    test "$(kv lost "$res")" = 0 -a "$(kv dups "$res")" = 0
result "sent=$(kv accepted "$res") stored=$(kv delivered "$res") lost=$(kv lost "$res") dup=$(kv dups "$res"); no open blocked, no link followed"
