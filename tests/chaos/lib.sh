# Shared helpers for chaos scenarios (sourced after BUILD, TOP and CHAOS_BIN
# are set by tests/chaos/run.sh). Builds on tests/integration/lib.sh: a
# private ATOMCODE_HOME under mktemp -d, start_agent/start_collector/ctl,
# every process stopped by PID at exit. Adds pass/fail counting for the
# scenario's result line, /proc readers and PID bookkeeping.
: "${CHAOS_BIN:?CHAOS_BIN must be set (tests/chaos/run.sh sets it)}"
. "$TOP/tests/integration/lib.sh"
SCEN=$(basename "$0" .sh)
ATC="python3 $TOP/tests/atc.py"
Q="$ATOMCODE_HOME/telemetry/queue"
SOCK="$ATOMCODE_HOME/telemetry.sock"
NPASS=0
NFAIL=0

ok() { NPASS=$((NPASS + 1)); echo "ok - $*"; }
fail() { NFAIL=$((NFAIL + 1)); echo "not ok - $*"; }
skip() { echo "ok - # skip: $*"; }

# result TEXT: the scenario's summary line (always printed once, at the end).
result() {
	echo "result $SCEN: $NPASS passed, $NFAIL failed; $*"
}

# forget_pid PID: a reaped process leaves the cleanup list (its PID may be
# reused by an unrelated process afterwards).
forget_pid() {
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /g")
}

# kill9_agent: SIGKILL the agent started by start_agent and reap it.
kill9_agent() {
	kill -9 "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	forget_pid "$AGENT_PID"
}

# stop_agent_forget: stop_agent, then drop the PID from the cleanup list.
stop_agent_forget() {
	stop_agent
	forget_pid "$AGENT_PID"
}

# sfield PYEXPR: evaluate PYEXPR over `status --json` (as s).
sfield() {
	"$CLI" status --json 2>/dev/null | python3 -c \
	    "import json,sys; s=json.load(sys.stdin); print($1)" 2>/dev/null
}

# rss_kb PID: VmRSS in KiB (empty if gone).
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# cpu_ms PID: user+system CPU time in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' \
	    "/proc/$1/stat" 2>/dev/null
}

# now_ms: wall clock in ms.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# start_emitter IDX ARGS...: run the emitter in the background (ids in
# $T/ids.IDX, output in $T/em.IDX.out). Appends its PID to EPIDS.
EPIDS=""
start_emitter() {
	_i=$1
	shift
	"$CHAOS_BIN/emitter" -i "$_i" -o "$T/ids.$_i" "$@" \
	    >"$T/em.$_i.out" 2>"$T/em.$_i.err" &
	EPIDS="$EPIDS $!"
	PIDS="$PIDS $!"
}

# stop_emitters: SIGTERM every emitter, wait (bounded) for its final flush.
# Sets EMIT_RC to the number of emitters that did not exit 0.
stop_emitters() {
	EMIT_RC=0
	for _p in $EPIDS; do kill -TERM "$_p" 2>/dev/null; done
	for _p in $EPIDS; do
		_j=0
		while kill -0 "$_p" 2>/dev/null && [ $_j -lt 150 ]; do
			sleep 0.1
			_j=$((_j + 1))
		done
		kill -9 "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null || EMIT_RC=$((EMIT_RC + 1))
		forget_pid "$_p"
	done
	EPIDS=""
}

# verify ARGS...: tests/chaos/verify.py over the collector log.
verify() {
	python3 "$TOP/tests/chaos/verify.py" "$@"
}

# kv KEY TEXT: the value of KEY=VALUE in a line of key=value pairs.
kv() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# emitter_kv IDX KEY: a value from emitter IDX's final line.
emitter_kv() {
	kv "$2" "$(cat "$T/em.$1.out" 2>/dev/null)"
}

# poll TENTHS CMD...: run CMD in this shell (functions allowed) every 0.1 s
# until it succeeds. 0, or 1 after TENTHS tries.
poll() {
	_n=$1
	shift
	_k=0
	while [ $_k -lt "$_n" ]; do
		"$@" && return 0
		sleep 0.1
		_k=$((_k + 1))
	done
	return 1
}

# counter_ge NAME N: the agent's status counter NAME is at least N.
counter_ge() {
	_v=$(sfield "s['counters']['$1']")
	[ -n "$_v" ] && [ "$_v" -ge "$2" ]
}

# active_empty: the agent's active segment holds no event.
active_empty() {
	[ "$(sfield "s['queue'].get('active_events')")" = 0 ]
}
