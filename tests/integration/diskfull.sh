#!/bin/sh
# diskfull.sh — the disk fills up right after a roll (tests/fault/libfault.so
# in the agent: every new segment after the first fails with ENOSPC), so a
# batch that crosses the 500-event roll is stored only in part. The agent
# refuses exactly the events it did not store (error seq ranges), counts
# them exactly (persisted / storage_dropped), status says why, and the
# library re-writes only those: every event once.
. "$(dirname "$0")/lib.sh"
FAULT="$BUILD/tests/libfault.so"
Q="$ATOMCODE_HOME/telemetry/queue"
printf '[queue]\nroll_interval_ms = 60000\n' >"$ATOMCODE_HOME/telemetryd.conf"

export LD_PRELOAD="$FAULT" FAULT_MATCH=.partial FAULT_NEWSEG_ENOSPC=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
check "agent starts (new segments after the first: ENOSPC)" start_agent
unset LD_PRELOAD FAULT_MATCH FAULT_NEWSEG_ENOSPC

records 450 1000 | "$CLI" emit --raw 2>"$T/e1.err"
check "450 events stored in the first segment" \
    wait_for "\"$CLI\" status --json | grep -q '\"persisted\":450'" 50
# 150 more: 50 fill the first segment (it rolls), 100 hit the full disk.
records 150 2000 | "$CLI" emit --raw 2>"$T/e2.err"
rc=$?
check "the client stored the rest itself (exit $rc)" test "$rc" = 0
st() { "$CLI" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
check "persisted counts exactly the stored events ($(st 's["counters"]["persisted"]'))" \
    test "$(st 's["counters"]["persisted"]')" = 500
check "storage_dropped counts exactly the refused ones ($(st 's["counters"]["storage_dropped"]'))" \
    test "$(st 's["counters"]["storage_dropped"]')" = 100
"$CLI" status >"$T/status.txt"
check "status says why ($(grep '^Storage:' "$T/status.txt"))" \
    grep -q "^Storage:   last failure .*No space left on device (100 event(s) refused)" "$T/status.txt"
stop_agent
res=$(python3 - "$Q" <<'PY'
import collections, json, os, sys
q = sys.argv[1]
c = collections.Counter()
for n in os.listdir(q):
    if n.endswith(".ndjson") or n.endswith(".partial"):
        for line in open(os.path.join(q, n)):
            if line.strip():
                c[json.loads(line)["ts"]] += 1
want = set(range(1000, 1450)) | set(range(2000, 2150))
print("distinct=%d dups=%d missing=%d" % (len(c), sum(v - 1 for v in c.values()),
      len(want - set(c))))
PY
)
check "every event is on disk exactly once ($res)" \
    test "$res" = "distinct=600 dups=0 missing=0"
