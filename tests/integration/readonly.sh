#!/bin/sh
# readonly.sh — the read-only commands (dump, status, check) never change
# the queue: no recovery (promotions, deletions), no caps, no claim
# restored, no mode repaired. The queue is set up so that any of those
# would show: a free managed partial, one 91 days old, a stale claim, an
# orphan marker, 60 ready segments (over the 50-file cap) and a directory
# writable by its group.
. "$(dirname "$0")/lib.sh"
Q="$ATOMCODE_HOME/telemetry/queue"
mkdir -p -m 700 "$Q"
python3 - "$Q" "$GOLDEN/llm_chat.json" <<'PY'
import json, os, sys, time
q, rec = sys.argv[1], json.load(open(sys.argv[2]))
def line(i):
    r = dict(rec); r["ts"] = 1764100000000 + i
    return json.dumps(r, separators=(",", ":")) + "\n"
def put(name, data, age=0):
    p = os.path.join(q, name)
    with open(p, "w") as f:
        f.write(data)
    os.chmod(p, 0o600)
    if age:
        t = time.time() - age
        os.utime(p, (t, t))
u = "-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9%02d"
for i in range(60):
    put("20260101-0000%02d" % (i % 60) + u % i + ".ndjson", line(i))
put("20260102-000000" + u % 60 + ".partial", line(60) + line(61))
put("20260102-000000" + u % 60 + ".partial.owner", "")
put("20250101-000000" + u % 61 + ".partial", line(62), 91 * 86400)
put("20250101-000000" + u % 61 + ".partial.owner", "", 91 * 86400)
put("20260103-000000" + u % 62 + ".ndjson.sending-1-0b0e3c52-8a38-4c1e-9d3a-7d2c25f1a9e4",
    line(63), 3600)
put("20260104-000000" + u % 63 + ".partial.owner", "")
PY
chmod 0770 "$Q"

snapshot() { # every name, mode, size, mtime and content hash
	(cd "$Q" && stat -c '%n %a %s %Y' . * && sha256sum *) 2>&1
}
before=$(snapshot)
for cmd in "dump" "dump --last 5 --pretty" "dump --last 0" "status" \
    "status --json" "check"; do
	timeout 10 $CLI $cmd >"$T/out" 2>&1
	rc=$?
	after=$(snapshot)
	if [ "$after" = "$before" ]; then
		ok "atomcode-telemetry $cmd leaves the queue as it was (rc $rc)"
	else
		fail "atomcode-telemetry $cmd changed the queue (rc $rc)"
		echo "$before" >"$T/before"
		echo "$after" >"$T/after"
		diff "$T/before" "$T/after" | head -n 10
		before=$after
	fi
done
check "dump still shows the ready records" \
    test "$($CLI dump --last 100 | wc -l)" = 60
