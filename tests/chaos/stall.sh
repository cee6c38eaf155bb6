#!/bin/sh
# Chaos: the agent stalls while clients emit, and a stall must not store
# any event twice (the takeover race, proto/PROTOCOL.md §10).
#  A. SIGSTOP for 10 s: 4 library clients at 100 events/s (atc_flush every
#     250 ms, bound 100 ms) and 40 short-lived clients (one event, close
#     bound 100 ms) started during the stop; then SIGCONT.
#  B. A slow disk: fdatasync takes 150 ms (libfault) with fsync = always:
#     40 short-lived clients, each giving up at 80 ms, and one client at
#     50 events/s.
# Every acknowledged event must reach the collector; duplicates <= 0.1 %.
. "$(dirname "$0")/lib.sh"
DUP_TARGET_PCT=0.1
FAULT="$BUILD/tests/libfault.so"
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
check "collector starts" start_collector

# short CLIENTS FIRST: that many one-event clients, one after the other.
short() {
	_k=$2
	while [ "$_k" -lt $(($2 + $1)) ]; do
		"$CHAOS_BIN/emitter" -i "$_k" -o "$T/ids.$_k" -n 1 -r 0 -f 0 \
		    -F 100 >"$T/em.$_k.out" 2>&1
		_k=$((_k + 1))
	done
}
ids() { # ids FROM TO: id files of emitters FROM..TO
	_k=$1
	while [ "$_k" -le "$2" ]; do printf '%s ' "$T/ids.$_k"; _k=$((_k + 1)); done
}

# --- A. SIGSTOP ----------------------------------------------------------------
check "agent starts" start_agent
i=0
while [ $i -lt 4 ]; do
	start_emitter $i -r 100 -f 250 -d 20
	i=$((i + 1))
done
sleep 3
kill -STOP "$AGENT_PID"
t0=$(now_ms)
short 40 100
while [ $(( $(now_ms) - t0 )) -lt 10000 ]; do sleep 0.2; done
kill -CONT "$AGENT_PID"
stop_emitters
check "the queue drains (A)" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 300
tkA=$(sfield 's["counters"]["taken_over"]')
clA=$(sfield 's["counters"]["takeover_claims"]')
stop_agent_forget
resA=$(verify "$T/collector.log" $(ids 0 3) $(ids 100 139))
echo "# A: $resA (agent: $tkA taken over, $clA claimed)"
check "SIGSTOP 10 s: sent=$(kv accepted "$resA") stored=$(kv delivered "$resA") lost=$(kv lost "$resA") dup=$(kv dups "$resA") ($(kv dup_rate_pct "$resA") %)" \
    sh -c "[ $(kv lost "$resA") = 0 ] && python3 -c 'import sys; sys.exit(float(sys.argv[1]) > $DUP_TARGET_PCT)' $(kv dup_rate_pct "$resA")"

# --- B. slow disk ----------------------------------------------------------------
printf '[queue]\nroll_interval_ms = 100\nfsync = always\n[upload]\nbackoff_scale_pct = 1\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
export LD_PRELOAD="$FAULT" FAULT_MATCH=.partial FAULT_FSYNC_MS=150
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
check "agent starts (fdatasync 150 ms)" start_agent
unset LD_PRELOAD FAULT_MATCH FAULT_FSYNC_MS
start_emitter 10 -r 50 -f 250 -d 8
short 40 200
stop_emitters
check "the queue drains (B)" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 300
tkB=$(sfield 's["counters"]["taken_over"]')
clB=$(sfield 's["counters"]["takeover_claims"]')
duB=$(sfield 's["counters"]["takeover_dups"]')
stop_agent_forget
resB=$(verify "$T/collector.log" "$T/ids.10" $(ids 200 239))
echo "# B: $resB (agent: $tkB taken over, $clB claimed, $duB could not be cut off)"
check "slow disk: sent=$(kv accepted "$resB") stored=$(kv delivered "$resB") lost=$(kv lost "$resB") dup=$(kv dups "$resB") ($(kv dup_rate_pct "$resB") %)" \
    sh -c "[ $(kv lost "$resB") = 0 ] && python3 -c 'import sys; sys.exit(float(sys.argv[1]) > $DUP_TARGET_PCT)' $(kv dup_rate_pct "$resB")"
result "A (SIGSTOP 10 s): sent=$(kv accepted "$resA") stored=$(kv delivered "$resA") lost=$(kv lost "$resA") dup=$(kv dups "$resA"); B (fdatasync 150 ms): sent=$(kv accepted "$resB") stored=$(kv delivered "$resB") lost=$(kv lost "$resB") dup=$(kv dups "$resB")"
