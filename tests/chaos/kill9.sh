#!/bin/sh
# Chaos 1: SIGKILL the agent at random moments (CHAOS_KILLS, default 100,
# every 0.5-1.5 s, seeded by CHAOS_SEED) while 4 library clients emit
# continuously and the uploader sends to the test collector. The TEST
# restarts the agent after each kill (start_agent: the foreground binary,
# so the kill goes to a known PID); clients never auto-spawn (ATC_F_NO_SPAWN)
# and fall back to their own segments while no agent answers. At the end
# the agent is stopped, dead claims are aged past 60 s with touch -d, the
# agent restarts and drains, and every id a client got ATC_OK for must have
# reached the collector: lost = 0, duplicate rate reported (target <= 0.1%).
. "$(dirname "$0")/lib.sh"
KILLS=${CHAOS_KILLS:-100}
CLIENTS=4
RATE=${CHAOS_RATE:-200}		# events/s per client
FLUSH_MS=${CHAOS_FLUSH_MS:-250}	# atc_flush() period per client
DUP_TARGET_PCT=0.1
SEED=${CHAOS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
printf '[queue]\nroll_interval_ms = 100\n[upload]\nbackoff_scale_pct = 1\ntimeout_s = 2\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"
echo "# seed $SEED, $KILLS kills, $CLIENTS clients x $RATE events/s, atc_flush every $FLUSH_MS ms"
t_start=$(now_ms)

check "collector starts" start_collector
check "agent starts" start_agent
i=0
while [ $i -lt $CLIENTS ]; do
	start_emitter $i -r "$RATE" -f "$FLUSH_MS" -d 900
	i=$((i + 1))
done

delays=$(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join("%.3f" % r.uniform(0.5, 1.5) for _ in range(int(sys.argv[2]))))' "$SEED" "$KILLS")
kills=0
restart_fail=0
restart_max=0
for d in $delays; do
	sleep "$d"
	kill9_agent
	kills=$((kills + 1))
	t0=$(now_ms)
	if ! start_agent; then
		restart_fail=$((restart_fail + 1))
		echo "# restart $kills failed: $(tail -n 3 "$T/agent.err" | tr '\n' ' ')"
		start_agent || true
	fi
	dt=$(( $(now_ms) - t0 ))
	[ "$dt" -gt "$restart_max" ] && restart_max=$dt
done
check "$kills SIGKILLs, agent restarted after each ($restart_fail failed restarts, slowest ${restart_max} ms)" \
    test "$kills" = "$KILLS" -a "$restart_fail" = 0
alive=0
for p in $EPIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "all $CLIENTS clients still running after the kills ($alive alive)" test "$alive" = "$CLIENTS"

stop_emitters
check "every client closed cleanly, library lost nothing ($EMIT_RC failed)" test "$EMIT_RC" = 0
cat "$T"/em.*.out | sed 's/^/# /'

# Drain: stop the agent, age dead claims past QUEUE_CLAIM_STALE_S, restart.
stop_agent_forget
nclaims=$(ls "$Q" | grep -c '\.sending-')
for f in "$Q"/*.sending-*; do
	[ -e "$f" ] && touch -d '2 minutes ago' "$f"
done
echo "# $nclaims dead claim(s) aged past 60 s"
check "agent restarts for the drain" start_agent
"$CLI" flush >/dev/null 2>&1
check "the queue drains (no ready, claimed or partial segment left)" \
    wait_for "! ls '$Q' | grep -q '\.ndjson\$\|\.sending-\|\.partial\$'" 600
ls "$Q" | grep -v '\.owner$' | sed 's/^/# left in queue: /' | head -n 5
dropped=$(sfield 's["counters"]["dropped"]')
invalid=$(ls "$Q" | grep -c '\.invalid$')
check "no event dropped by the queue caps or quarantined (dropped=$dropped, invalid files=$invalid)" \
    test "$dropped" = 0 -a "$invalid" = 0
stop_agent_forget

res=$(verify "$T/collector.log" "$T"/ids.*)
echo "# $res"
lost=$(echo "$res" | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
rate=$(echo "$res" | sed -n 's/.*dup_rate_pct=\([0-9.]*\).*/\1/p')
accepted=$(echo "$res" | sed -n 's/.*accepted=\([0-9]*\).*/\1/p')
dups=$(echo "$res" | sed -n 's/.* dups=\([0-9]*\).*/\1/p')
resend=$(echo "$res" | sed -n 's/.*resend_dups=\([0-9]*\).*/\1/p')
check "every accepted event delivered: lost=$lost of $accepted" test "${lost:-1}" = 0 -a "${accepted:-0}" -gt 0
# Copies that came in a request whose Idempotency-Key the collector had
# already seen are what a server drops by that key (README "Queue on disk"); the rest are
# duplicates the server cannot tell apart. Both rates are reported; the
# target applies to what reaches the server's data after its key check.
eff=$(python3 -c 'import sys; a=int(sys.argv[1]); print("%.4f" % (100.0 * (int(sys.argv[2]) - int(sys.argv[3])) / a if a else 100))' "${accepted:-0}" "${dups:-0}" "${resend:-0}")
check "raw duplicate rate on the wire ${rate}% ($dups copies, $resend of them re-sent segments with a known Idempotency-Key)" \
    test -n "$rate"
check "duplicate rate after the server's Idempotency-Key check ${eff}% <= ${DUP_TARGET_PCT}%" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "${eff:-100}" "$DUP_TARGET_PCT"
secs=$(( ($(now_ms) - t_start) / 1000 ))
result "seed=$SEED kills=$kills accepted=$accepted lost=$lost dups=$dups raw_dup_rate=${rate}% (resent segments: $resend) dup_rate_after_idempotency_key=${eff}% slowest_restart=${restart_max}ms run=${secs}s"
