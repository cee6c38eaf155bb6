#!/bin/sh
# OTLP export ([export] otlp_endpoint): every record reaches the vendor
# collector (tests/collector.py) and the OTLP receiver (tests/otlp_receiver.py,
# which checks each request against the OTLP proto field names and JSON
# rules) exactly once, through an outage of either one, a dead receiver, a
# 413 at either side, and a SIGKILL of the agent; settings are checked; the
# vendor stays the only destination without the setting.
. "$(dirname "$0")/lib.sh"
Q="$ATOMCODE_HOME/telemetry/queue"
XQ="$ATOMCODE_HOME/telemetry/export-otlp/queue"

# start_otlp [PORT]: the receiver on 127.0.0.1; sets OPORT, OTLP_PID.
start_otlp() {
	rm -f "$T/oport"
	python3 "$TOP/tests/otlp_receiver.py" --port-file "$T/oport" \
	    --log "$T/otlp.log" ${1:+--port "$1"} >>"$T/otlp.out" 2>&1 &
	OTLP_PID=$!
	PIDS="$PIDS $OTLP_PID"
	wait_for "test -s '$T/oport'" 100 || return 1
	OPORT=$(cat "$T/oport")
}

octl() {
	python3 -c 'import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")).read()' \
	    "http://127.0.0.1:$OPORT/_control" "$1"
}

# stats URL: the "records" count of a receiver.
nrecs() {
	python3 -c 'import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1]))["records"])' \
	    "$1/_stats" 2>/dev/null || echo -1
}
vendor_n() { nrecs "http://127.0.0.1:$CPORT"; }
otlp_n() { nrecs "http://127.0.0.1:$OPORT"; }

# wait_ge FUNC MIN [TENTHS]: until FUNC prints a number >= MIN (default 10 s).
wait_ge() {
	_i=0
	while [ $_i -lt "${3:-100}" ]; do
		[ "$($1)" -ge "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# once LOG KIND FILE: every line of FILE delivered exactly once (2xx answers);
# prints "missing=N dups=N errors=N".
once() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys, collections
log, kind, want_file = sys.argv[1:]
got, errors = collections.Counter(), 0
for line in open(log):
    req = json.loads(line)
    errors += len(req.get("errors", []))
    if isinstance(req.get("status"), int) and 200 <= req["status"] < 300:
        for r in req["records"]:
            got[json.dumps(r, sort_keys=True)] += 1
want = [json.dumps(json.loads(l), sort_keys=True) for l in open(want_file)]
missing = sum(1 for w in want if got[w] == 0)
dups = sum(got[w] - 1 for w in set(want) if got[w] > 1)
print("missing=%d dups=%d errors=%d" % (missing, dups, errors))
PY
}

# both FILE: wait until both destinations hold every line of FILE, then
# require exactly once at each. $2: description.
both() {
	_n=$(wc -l <"$1")
	wait_for "[ \$(python3 - '$T/collector.log' '$1' <<'PY'
import json, sys
want = set(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[2]))
got = set()
for line in open(sys.argv[1]):
    q = json.loads(line)
    if isinstance(q.get('status'), int) and q['status'] < 300:
        got.update(json.dumps(r, sort_keys=True) for r in q['records'])
print(len(want - got))
PY
) = 0 ]" 300
	wait_for "[ \$(python3 - '$T/otlp.log' '$1' <<'PY'
import json, sys
want = set(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[2]))
got = set()
for line in open(sys.argv[1]):
    q = json.loads(line)
    if isinstance(q.get('status'), int) and q['status'] < 300:
        got.update(json.dumps(r, sort_keys=True) for r in q['records'])
print(len(want - got))
PY
) = 0 ]" 300
	_v=$(once "$T/collector.log" vendor "$1")
	_o=$(once "$T/otlp.log" otlp "$1")
	check "$2: vendor has all $_n exactly once ($_v)" \
	    test "$_v" = "missing=0 dups=0 errors=0"
	check "$2: OTLP has all $_n exactly once ($_o)" \
	    test "$_o" = "missing=0 dups=0 errors=0"
}

# put FILE: FILE's lines as ready segments of at most 500 records, renamed
# into the queue as another writer (the library's fallback, upstream) does;
# the agent notices them (inotify; a client's visit in the portable build,
# here a flush). Unlike emit, no client-side duplicate window: what is in
# FILE is exactly what is queued.
put() {
	python3 - "$1" "$Q" <<'PY'
import os, sys, time, uuid
lines = open(sys.argv[1]).read().splitlines(True)
for i in range(0, len(lines), 500):
    stem = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + str(uuid.uuid4())
    tmp = os.path.join(sys.argv[2], stem + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, "".join(lines[i:i + 500]).encode())
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, os.path.join(sys.argv[2], stem + ".ndjson"))
PY
	"$CLI" flush >/dev/null 2>&1
}

# same FILE: of the records of FILE, both destinations got the same ones
# the same number of times (2xx answers).
same() {
	python3 - "$T/collector.log" "$T/otlp.log" "$1" <<'PY'
import json, sys, collections
want = set(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[3]))
def got(path):
    c = collections.Counter()
    for line in open(path):
        q = json.loads(line)
        if isinstance(q.get("status"), int) and 200 <= q["status"] < 300:
            c.update(k for k in (json.dumps(r, sort_keys=True)
                                 for r in q["records"]) if k in want)
    return c
sys.exit(0 if got(sys.argv[1]) == got(sys.argv[2]) else 1)
PY
}

conf() { # conf EXTRA: telemetryd.conf with the export section
	printf '[queue]\nroll_interval_ms = 50\n[upload]\nbackoff_scale_pct = 1\ntimeout_s = 2\n[export]\notlp_endpoint = "http://127.0.0.1:%s/v1/logs"\notlp_headers = "Authorization=Bearer%%20t0k, X-Tenant=acme"\n%s' \
	    "$OPORT" "${1:-}" >"$ATOMCODE_HOME/telemetryd.conf"
}

# --- settings ------------------------------------------------------------------
S="$ATOMCODE_HOME/telemetryd.conf"
bad_setting() { # bad_setting DESC CONTENT PATTERN
	printf '%s\n' "$2" >"$S"
	"$AGENTD" -n >"$T/n.out" 2>&1
	_rc=$?
	check "settings: $1 is refused" sh -c "test $_rc = 1 && grep -q '$3' '$T/n.out'"
}
bad_setting "ftp:// endpoint" '[export]
otlp_endpoint = "ftp://collector/v1/logs"' "http:// or https://"
bad_setting "plain http:// to a non-loopback host" '[export]
otlp_endpoint = http://collector.example:4318/v1/logs' "loopback"
bad_setting "a header value with CR LF" '[export]
otlp_endpoint = https://c:4318/v1/logs
otlp_headers = a=b%0d%0aX-Evil: 1' "control character"
bad_setting "a header the agent sets (Content-Type)" '[export]
otlp_endpoint = https://c:4318/v1/logs
otlp_headers = content-type=text/plain' "set by the agent"
bad_setting "a header name that is not a token" '[export]
otlp_endpoint = https://c:4318/v1/logs
otlp_headers = "bad name=1"' "not an HTTP token"
bad_setting "an endpoint with a space" '[export]
otlp_endpoint = "https://c:4318/v1/logs x"' "space"
printf '[export]\notlp_endpoint = http://collector.example:4318/v1/logs\notlp_allow_http = true\notlp_headers = Authorization=Bearer%%20SECRET\n' >"$S"
check "settings: otlp_allow_http = true accepts plain http" sh -c "'$AGENTD' -n >/dev/null"
check "settings: -n does not print header values (secrets)" \
    sh -c "! '$AGENTD' -n | grep -q SECRET"
rm -f "$S"

# --- without [export]: the vendor is the only destination ---------------------------
check "collector starts" start_collector
printf '[queue]\nroll_interval_ms = 50\n[upload]\nbackoff_scale_pct = 1\n' >"$S"
check "agent starts (no export)" start_agent
records 20 1000 >"$T/b0"
"$CLI" emit --raw <"$T/b0"
check "no export: the vendor gets the records" wait_ge vendor_n 20
check "no export: no export directory, nothing in status" sh -c \
    "test ! -e '$ATOMCODE_HOME/telemetry/export-otlp' && ! '$CLI' status --json | grep -q '\"export\"'"
stop_agent

# --- both destinations --------------------------------------------------------------
check "OTLP receiver starts" start_otlp
conf
check "agent starts with [export]" start_agent
# Through the agent (emit → agent → rolls): under a slow agent (ASan) the
# library's documented duplicate window may store a record twice in the
# queue; the export must then carry exactly what the vendor carries.
records 1200 10000 >"$T/b1"
"$CLI" emit --raw <"$T/b1"
wait_ge vendor_n 1220 300
wait_ge otlp_n 1200 300
_v=$(once "$T/collector.log" vendor "$T/b1")
_o=$(once "$T/otlp.log" otlp "$T/b1")
check "through the agent: every record at the vendor ($_v)" \
    sh -c "echo '$_v' | grep -q 'missing=0 .* errors=0'"
check "through the agent: every record at OTLP ($_o)" \
    sh -c "echo '$_o' | grep -q 'missing=0 .* errors=0'"
check "through the agent: OTLP got exactly what the vendor got" same "$T/b1"
records 1000 15000 >"$T/b1b"
put "$T/b1b"
both "$T/b1b" "steady state"
python3 - "$T/otlp.log" >"$T/shape.out" <<'PY'
import json, sys
req = json.loads(open(sys.argv[1]).readline())
h = req["headers"]
res = req["resources"][0]
bad = []
if h.get("content-type") != "application/json": bad.append("content-type")
if h.get("content-encoding") != "gzip": bad.append("content-encoding")
if h.get("authorization") != "Bearer t0k": bad.append("authorization")
if h.get("x-tenant") != "acme": bad.append("x-tenant")
if not h.get("user-agent", "").startswith("atomcode-telemetry/"): bad.append("ua")
# The golden llm_chat record is macos/aarch64, app_version 0.0.0.
if res != {"service.name": "atomcode", "service.version": "0.0.0",
           "os.type": "darwin", "host.arch": "arm64"}: bad.append("resource %r" % res)
print("shape-ok" if not bad else "shape-BAD %s" % bad)
PY
check "OTLP request: headers and resource ($(cat "$T/shape.out"))" grep -q shape-ok "$T/shape.out"
check "status --json shows both destinations, the same count" sh -c \
    "'$CLI' status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[\"export\"][\"events_uploaded\"]==s[\"counters\"][\"uploaded_events\"]>=2200, s.get(\"export\")'"
check "status text has the Export line" sh -c "'$CLI' status | grep -q '^Export:    OTLP http://127.0.0.1:$OPORT/v1/logs; idle'"
check "export links and tombstones are collected once both are done" \
    wait_for "[ -z \"\$(ls '$XQ')\" ]" 100

# --- the vendor down: OTLP is not held back ----------------------------------------
v0=$(vendor_n)
o0=$(otlp_n)
ctl '{"mode": {"status": 503, "seconds": 6}}'
records 600 20000 >"$T/b2"
put "$T/b2"
wait_ge otlp_n $((o0 + 600)) 50
check "vendor outage: OTLP gets all 600 while the vendor is down ($(otlp_n) $(vendor_n))" \
    test "$(otlp_n)" -ge $((o0 + 600))
check "vendor outage: ... and the vendor really was down meanwhile" \
    test "$(vendor_n)" -lt $((v0 + 600))
both "$T/b2" "vendor outage"

# --- OTLP down (503 + Retry-After, then dropped connections): vendor not held back
v0=$(vendor_n)
octl '{"script": [{"status": 503, "retry_after": "1", "count": 3}, {"action": "drop", "count": 3}, {"status": 502, "count": 2}]}'
records 600 30000 >"$T/b3"
put "$T/b3"
wait_ge vendor_n $((v0 + 600)) 50
check "OTLP outage: the vendor gets all 600 meanwhile ($(vendor_n) $(otlp_n))" \
    test "$(vendor_n)" -ge $((v0 + 600))
both "$T/b3" "OTLP outage"
check "OTLP outage: failures counted in status" sh -c \
    "'$CLI' status --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"export\"][\"failures\"] >= 3'"

# --- the receiver dies (connection refused), comes back on the same port -----------
v0=$(vendor_n)
kill "$OTLP_PID"
wait "$OTLP_PID" 2>/dev/null
records 300 40000 >"$T/b4"
put "$T/b4"
wait_ge vendor_n $((v0 + 300)) 50
check "dead receiver: the vendor gets all 300 ($(vendor_n))" test "$(vendor_n)" -ge $((v0 + 300))
check "dead receiver: the export copies wait on disk" sh -c "ls '$XQ' | grep -q ndjson"
start_otlp "$OPORT"
"$CLI" flush >/dev/null 2>&1
both "$T/b4" "dead receiver"

# --- a 413 at the vendor (split): no duplicate at OTLP --------------------------------
ctl '{"max_records": 60}'
records 400 50000 >"$T/b5"
put "$T/b5"
both "$T/b5" "vendor 413 split"
check "vendor 413: the halves were marked, not exported again" sh -c \
    "'$CLI' status --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"export\"][\"skipped_derived\"] >= 2'"
ctl '{"max_records": null}'

# --- the vendor down, 60 small segments: its queue merges them (over 50
# files); the merged segments must not reach OTLP again -------------------------------
ctl '{"mode": {"status": 503}}'
: >"$T/b10"
i=0
while [ $i -lt 60 ]; do
	records 3 $((100000 + i * 3)) >"$T/part"
	cat "$T/part" >>"$T/b10"
	put "$T/part"
	i=$((i + 1))
done
# A record through the agent: its roll runs the caps (merges).
records 1 99000 | "$CLI" emit --raw
check "vendor merges: at most 50 files kept" wait_for \
    "[ \$(ls '$Q' | grep -c 'ndjson\$') -le 50 ]" 100
ctl '{"reset": true}'
"$CLI" flush >/dev/null 2>&1
both "$T/b10" "vendor merges its small segments"
check "vendor merges: the vendor got merged segments" python3 - "$T/collector.log" "$T/b10" <<'PY'
import json, sys
want = set(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[2]))
for line in open(sys.argv[1]):
    q = json.loads(line)
    if q.get("status") == 200 and sum(json.dumps(r, sort_keys=True) in want
                                      for r in q["records"]) > 3:
        sys.exit(0)
sys.exit(1)
PY

# --- a 413 at OTLP: the export side splits ----------------------------------------------
octl '{"script": [{"status": 413, "count": 2}]}'
records 300 60000 >"$T/b6"
put "$T/b6"
both "$T/b6" "OTLP 413 split"

# --- SIGKILL while an OTLP request hangs, restart -------------------------------------
v0=$(vendor_n)
octl '{"mode": "hang"}'
records 200 70000 >"$T/b7"
put "$T/b7"
check "SIGKILL: an export request is in flight" wait_for "ls '$XQ' | grep -q sending-" 100
wait_ge vendor_n $((v0 + 200)) 50
check "SIGKILL: the vendor is done meanwhile ($(vendor_n))" test "$(vendor_n)" -ge $((v0 + 200))
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
octl '{"release": true, "reset": true}'
check "agent restarts" start_agent
both "$T/b7" "SIGKILL mid-export"

# --- a partial success is not retried ------------------------------------------------------
octl '{"reject": 1}'
records 10 80000 >"$T/b8"
put "$T/b8"
both "$T/b8" "partial success"
check "partial success: counted, not resent" sh -c \
    "'$CLI' status --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"export\"][\"rejected_records\"] >= 1'"
octl '{"reset": true}'

# --- view shows both destinations --------------------------------------------------------
"$CLI" view -o "$T/v.html" >/dev/null
check "view: an OTLP row next to the vendor's" sh -c \
    "grep -q 'id=\"dest-otlp\"' '$T/v.html' && grep -q 'id=\"dest-vendor\"' '$T/v.html'"

# --- clear: what waits for the receiver is deleted too ----------------------------------------
octl '{"mode": {"status": 503}}'
ctl '{"mode": {"status": 503}}'
records 20 95000 >"$T/b11"
put "$T/b11"
check "clear: export copies wait" wait_for "ls '$XQ' | grep -q 'ndjson\$'" 50
stop_agent	# no send in flight: clear takes everything
"$CLI" clear >"$T/clear.out" 2>&1
check "clear: says it cleared the export queue too ($(tail -n 1 "$T/clear.out"))" \
    grep -q '^OTLP export queue cleared ([1-9][0-9]* file(s) removed, 0 being sent)' \
    "$T/clear.out"
octl '{"reset": true}'
ctl '{"reset": true}'
check "agent restarts after clear" start_agent
"$CLI" flush >/dev/null 2>&1
sleep 1
check "clear: none of the cleared records reaches OTLP or the vendor" python3 - \
    "$T/otlp.log" "$T/collector.log" "$T/b11" <<'PY'
import json, sys
want = set(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[3]))
for path in sys.argv[1:3]:
    for line in open(path):
        q = json.loads(line)
        if isinstance(q.get("status"), int) and q["status"] < 300:
            assert not any(json.dumps(r, sort_keys=True) in want
                           for r in q["records"]), path
PY

# --- telemetry disabled: nothing goes to OTLP either ---------------------------------------
printf '[telemetry]\nenabled = false\n' >"$ATOMCODE_HOME/config.toml"
kill -HUP "$AGENT_PID"
check "disabled: the export says so" wait_for \
    "'$CLI' status --json | grep -q '\"state\":\"disabled\"'" 50
before=$(otlp_n)
records 5 90000 >"$T/b9"
cp "$T/b9" "$Q/20261201-000000-00000000-0000-4000-8000-0000000000aa.ndjson"
"$CLI" flush >/dev/null 2>&1
sleep 1
check "disabled: nothing more reaches OTLP" test "$(otlp_n)" = "$before"
rm -f "$ATOMCODE_HOME/config.toml"

# --- [export] removed on reload: export stops ---------------------------------------------
printf '[queue]\nroll_interval_ms = 50\n[upload]\nbackoff_scale_pct = 1\n' >"$S"
kill -HUP "$AGENT_PID"
check "reload without [export]: status has no export" wait_for \
    "! '$CLI' status --json | grep -q '\"export\"'" 50
stop_agent
