# Shared helpers for integration tests (sourced). Each test gets a private
# ATOMCODE_HOME under mktemp -d, removed by the trap; every agent started is
# stopped by PID. Output is TAP-like: "ok - desc" / "not ok - desc".
set -u
: "${BUILD:?BUILD must be set (tests/run.sh sets it)}"
: "${TOP:?TOP must be set}"
AGENTD="$BUILD/atomcode-telemetryd"
CLI="$BUILD/atomcode-telemetry"
GOLDEN="$TOP/tests/compat"
# make check PORTABLE=1 (README "macOS and BSD"): the agent watches the
# queue with the poll watcher and skips the Linux-only calls.
PORTABLE=${ATC_PORTABLE:-0}
[ "$PORTABLE" = 1 ] || PORTABLE=0
if [ "$PORTABLE" = 1 ]; then WATCHER=poll; else WATCHER=inotify; fi
T=$(mktemp -d /tmp/atc-test.XXXXXX)
export ATOMCODE_HOME="$T/home"
mkdir -m 700 "$ATOMCODE_HOME"
export ATOMCODE_TELEMETRYD=/bin/false	# never auto-spawn unless a test says so
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:9/v1/events"
unset ATOMCODE_TELEMETRY DO_NOT_TRACK ATOMCODE_OFFLINE
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
fail() { echo "not ok - $*"; }
check() { # check DESC CMD...
	d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

# wait_for SHELL-CONDITION [TENTHS]: poll until true (default 10 s). 0 or 1.
wait_for() {
	_i=0
	while [ $_i -lt "${2:-100}" ]; do
		sh -c "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# start_agent [args]: start the agent in the foreground of a background job,
# wait until its socket answers. Sets AGENT_PID.
start_agent() {
	"$AGENTD" "$@" >"$T/agent.out" 2>"$T/agent.err" &
	AGENT_PID=$!
	PIDS="$PIDS $AGENT_PID"
	i=0
	while [ $i -lt 200 ]; do
		grep -q '^Telemetry:' "$T/agent.out" 2>/dev/null && \
		    "$CLI" status --json 2>/dev/null | \
		    grep -q "\"pid\":$AGENT_PID," && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# stop_agent: SIGTERM and wait (bounded). A crash or a hang on the way out
# is a failure of the test that stopped it.
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null
	i=0
	while kill -0 "$AGENT_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -9 "$AGENT_PID" 2>/dev/null; then
		fail "agent $AGENT_PID did not exit within 5 s of SIGTERM"
		wait "$AGENT_PID" 2>/dev/null
		return 0
	fi
	wait "$AGENT_PID" 2>/dev/null
	_rc=$?
	if [ "$_rc" != 0 ] && [ "$_rc" != 127 ]; then
		fail "agent $AGENT_PID exited with status $_rc after SIGTERM"
		tail -n 20 "$T/agent.err" 2>/dev/null
	fi
	return 0
}

# start_collector [args]: tests/collector.py on 127.0.0.1, port in $CPORT;
# sets ATOMCODE_TELEMETRY_ENDPOINT to it. Stopped by PID at exit.
start_collector() {
	rm -f "$T/cport"
	python3 "$TOP/tests/collector.py" --port-file "$T/cport" \
	    --log "$T/collector.log" "$@" >"$T/collector.out" 2>&1 &
	COLLECTOR_PID=$!
	PIDS="$PIDS $COLLECTOR_PID"
	wait_for "test -s '$T/cport'" 100 || return 1
	CPORT=$(cat "$T/cport")
	export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$CPORT/v1/events"
}

# ctl JSON: send a control command to the collector.
ctl() {
	python3 -c 'import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")).read()' \
	    "http://127.0.0.1:$CPORT/_control" "$1"
}

# collected: number of records the collector received (all requests).
collected() {
	python3 -c 'import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1]))["records"])' \
	    "http://127.0.0.1:$CPORT/_stats"
}

# records N [TS0]: N distinct llm_chat records (ts = TS0 + i), one per line.
records() {
	python3 - "$GOLDEN/llm_chat.json" "$1" "${2:-1}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for i in range(int(sys.argv[2])):
    r["ts"] = int(sys.argv[3]) + i
    print(json.dumps(r, separators=(",", ":")))
PY
}
