#!/bin/sh
# Chaos 2: the disk fills up. $ATOMCODE_HOME/telemetry (queue, health,
# upload state) is a small tmpfs (root only: mount -t tmpfs; skipped
# otherwise). A filler file takes every free byte while a library client
# emits: emits stay fast (never block), the agent keeps running and counts
# what it could not store (storage_dropped / write_errors in status); when
# the filler is deleted the agent stores new events again by itself (no
# restart, no signal).
. "$(dirname "$0")/lib.sh"
EMIT_BOUND_US=100000	# an emit slower than 100 ms would be "blocking"
RATE=500
MNT="$ATOMCODE_HOME/telemetry"
MOUNTED=0

cleanup_df() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	sleep 0.1
	[ "$MOUNTED" = 1 ] && umount "$MNT" 2>/dev/null
	rm -rf "$T"
}
trap cleanup_df EXIT

if [ "$(id -u)" != 0 ]; then
	skip "disk full needs root for mount -t tmpfs"
	result "skipped (not root)"
	exit 0
fi
mkdir -m 700 "$MNT"
if ! mount -t tmpfs -o size=4m,mode=0700 atc-chaos-diskfull "$MNT" 2>"$T/mount.err"; then
	skip "mount -t tmpfs failed: $(cat "$T/mount.err")"
	result "skipped (mount failed)"
	exit 0
fi
MOUNTED=1
printf '[queue]\nroll_interval_ms = 100\n[agent]\nlog_level = info\n' \
    >"$ATOMCODE_HOME/telemetryd.conf"

check "agent starts on a 4 MiB tmpfs queue" start_agent
start_emitter 0 -r "$RATE" -n 200 -f 100
stop_wait() { # wait for the emitters to finish by themselves (bounded)
	for _p in $EPIDS; do
		_j=0
		while kill -0 "$_p" 2>/dev/null && [ $_j -lt 300 ]; do
			sleep 0.1
			_j=$((_j + 1))
		done
	done
	stop_emitters
}
stop_wait
check "baseline: 200 events persisted" poll 50 counter_ge persisted 200

# --- fill the filesystem ------------------------------------------------------
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
dd if=/dev/zero of="$MNT/filler2" bs=512 2>/dev/null	# the last partial pages
avail=$(df -k --output=avail "$MNT" | tail -n 1 | tr -d ' ')
check "the filesystem is full (${avail} KiB free)" test "$avail" -le 4
cpu0=$(cpu_ms "$AGENT_PID")
pers0=$(sfield 's["counters"]["persisted"]')
start_emitter 1 -r "$RATE" -d 5 -f 250
stop_wait
cpu1=$(cpu_ms "$AGENT_PID")
em=$(cat "$T/em.1.out")
echo "# full: $em"
maxus=$(emitter_kv 1 max_emit_us)
p99=$(emitter_kv 1 p99_emit_us)
check "emits never block while the disk is full (max ${maxus} us, p99 ${p99} us, bound ${EMIT_BOUND_US} us)" \
    test "${maxus:-999999999}" -lt "$EMIT_BOUND_US"
check "the agent keeps running" kill -0 "$AGENT_PID"
sd=$(sfield 's["counters"]["storage_dropped"]')
we=$(sfield 's["counters"]["write_errors"]')
dr=$(sfield 's["counters"]["dropped"]')
check "drops are counted in status (storage_dropped=$sd write_errors=$we dropped=$dr)" \
    test "${sd:-0}" -gt 0 -a "${we:-0}" -gt 0
liblost=$(emitter_kv 1 lib_lost)
echo "# the client library counted lost=$liblost (its fallback shares the full disk); agent cpu $((cpu1 - cpu0)) ms over 5 s"
check "... and the agent warned about it in its log" grep -q "cannot write" "$T/agent.err"
# PROTOCOL.md §5: an ack covers only events on disk or refused with an error
# frame. The agent cannot have confirmed more events than it persisted.
pers1=$(sfield 's["counters"]["persisted"]')
acked=$(emitter_kv 1 lib_acked)
check "the client was never told 'on disk' for a dropped event (library acked $acked, agent persisted $((pers1 - pers0)))" \
    test "${acked:-1}" -le $((pers1 - pers0))

# --- space returns: the agent stores again by itself ---------------------------
before=$(sfield 's["counters"]["persisted"]')
rm -f "$MNT/filler" "$MNT/filler2"
start_emitter 2 -r "$RATE" -n 500 -f 100
stop_wait
echo "# after: $(cat "$T/em.2.out")"
check "after the filler is deleted the client stores everything (exit 0, lost 0)" \
    test "$(emitter_kv 2 lib_lost)" = 0 -a "$(emitter_kv 2 ok)" = 500
poll 50 active_empty
after=$(sfield 's["counters"]["persisted"]')
fb=$(emitter_kv 2 lib_fallback)
check "the agent persisted new events without a restart (persisted $before -> $after; client fallback $fb)" \
    test "$after" -ge $((before + 500 - ${fb:-0})) -a "$after" -gt "$before"
res=$(verify "$Q" "$T/ids.2")
echo "# queue after recovery: $res"
check "all 500 new events are in the queue ($(kv delivered "$res") of 500, dups $(kv dups "$res"))" \
    test "$(kv lost "$res")" = 0
check "the same agent process is still running (pid $AGENT_PID)" kill -0 "$AGENT_PID"
"$CLI" check >"$T/check.out" 2>&1
check "the queue is consistent afterwards (atomcode-telemetry check: $(tail -n 1 "$T/check.out"))" \
    grep -q ' 0 bad line' "$T/check.out"
stop_agent_forget
result "max_emit=${maxus}us p99_emit=${p99}us storage_dropped=$sd write_errors=$we library_lost=$liblost recovered=$(kv delivered "$res")/500"
