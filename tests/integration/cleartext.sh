#!/bin/sh
# cleartext.sh — uploads go over HTTPS: a plain http:// endpoint to a host
# other than loopback is refused at start and by -n (records would cross
# the network in clear), unless telemetryd.conf says [upload] allow_http =
# true; loopback http stays allowed (tests, make demo); a reload to such an
# endpoint keeps the old one.
. "$(dirname "$0")/lib.sh"

for ep in http://acs.example.com/api/v1/events http://10.1.2.3:8080/v1 \
    http://user:pw@example.org/x "http://[2001:db8::1]:80/v1" \
    http://127.0.0.1.example.com/v1; do
	ATOMCODE_TELEMETRY_ENDPOINT=$ep "$AGENTD" -n >"$T/n.out" 2>"$T/n.err"
	rc=$?
	check "-n refuses $ep (rc $rc)" \
	    sh -c "[ $rc = 1 ] && grep -q 'plain http://' '$T/n.err'"
done
ATOMCODE_TELEMETRY_ENDPOINT=http://acs.example.com/v1 timeout 5 "$AGENTD" \
    >"$T/a.out" 2>"$T/a.err"
rc=$?
check "the agent refuses to start with it (rc $rc: $(cat "$T/a.err"))" \
    sh -c "[ $rc = 1 ] && grep -q 'in clear' '$T/a.err'"
for ep in http://127.0.0.1:9/v1 http://127.1.2.3/v1 http://localhost:8080/v1 \
    "http://[::1]:9/v1" http://LOCALHOST./v1 https://acs.example.com/v1; do
	ATOMCODE_TELEMETRY_ENDPOINT=$ep "$AGENTD" -n >"$T/n.out" 2>"$T/n.err"
	check "-n accepts $ep (rc $?)" grep -qxF "# endpoint: $ep" "$T/n.out"
done
printf '[upload]\nallow_http = true\n' >"$ATOMCODE_HOME/telemetryd.conf"
ATOMCODE_TELEMETRY_ENDPOINT=http://acs.example.com/v1 "$AGENTD" -n \
    >"$T/n.out" 2>"$T/n.err"
check "allow_http = true lets it through, and -n says so (rc $?)" \
    sh -c "grep -q '^allow_http = true' '$T/n.out'"
rm -f "$ATOMCODE_HOME/telemetryd.conf"

# A reload to a cleartext endpoint (config.toml) keeps the old one.
printf '[upload]\nbackoff_scale_pct = 1\n' >"$ATOMCODE_HOME/telemetryd.conf"
printf '[telemetry]\nendpoint = "http://127.0.0.1:9/v1/events"\n' \
    >"$ATOMCODE_HOME/config.toml"
unset ATOMCODE_TELEMETRY_ENDPOINT
check "agent starts on loopback http" start_agent
printf '[telemetry]\nendpoint = "http://acs.example.com/v1"\n' \
    >"$ATOMCODE_HOME/config.toml"
kill -HUP "$AGENT_PID"
sleep 0.3
ep=$("$CLI" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["endpoint"])')
check "a reload to it keeps the old endpoint ($ep)" test "$ep" = "http://127.0.0.1:9/v1/events"
check "... and says why in the log" grep -q "in clear" "$T/agent.err"
stop_agent
