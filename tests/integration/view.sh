#!/bin/sh
# atomcode-telemetry view: the page is built from the queue, health.json,
# the upload state and the agent without changing the queue; every value
# planted in every field (records, keys, file names, paths, environment,
# agent status) reaches the page as text only; --last, --output, --open and
# --serve (127.0.0.1, token, Host check, Ctrl-C). The browser half is
# tests/integration/view_browser.sh.
. "$(dirname "$0")/lib.sh"
export TZ=UTC
FIX="$TOP/tests/view_fixture.py"
CHK="$TOP/tests/view_check.py"
EVIL="<script>document.title='PWNED'</script>"

# snap DIR: every file under DIR with size, mtime, inode and content hash.
snap() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
for root, dirs, files in sorted(os.walk(sys.argv[1])):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        st = os.lstat(p)
        h = hashlib.sha256(open(p, "rb").read()).hexdigest() \
            if os.path.isfile(p) and not os.path.islink(p) else "-"
        print(os.path.relpath(p, sys.argv[1]), st.st_size, st.st_mtime_ns,
              st.st_ino, oct(st.st_mode), h)
PY
}

# expect EXP KEY VALUE...: add planted strings to the expectations.
expect_more() {
	python3 - "$@" <<'PY'
import json, sys
p = sys.argv[1]
e = json.load(open(p))
e["payloads"] += sys.argv[2:]
json.dump(e, open(p, "w"))
PY
}

# --- hostile values everywhere, no agent -------------------------------------
# The state directory's own path carries markup too (two levels: '/').
EH="$T/h<b>$EVIL&\"'<"
export ATOMCODE_HOME="$EH/script>x"
mkdir -p "$ATOMCODE_HOME"
chmod 700 "$ATOMCODE_HOME"
python3 "$FIX" hostile "$ATOMCODE_HOME" >"$T/exp.json"
Q="$ATOMCODE_HOME/telemetry/queue"
# Files recovery would change: a stale claim, a free managed partial, an
# orphan marker. view must leave every one of them exactly as it is.
python3 - "$Q" <<'PY'
import os, sys, time
q = sys.argv[1]
old = time.time() - 600
for f in os.listdir(q):
    if ".sending-" in f:
        os.utime(os.path.join(q, f), (old, old))
open(os.path.join(q, "20261101-000000-00000000-0000-0000-0000-0000000000ff"
                  ".partial.owner"), "w").close()
PY
snap "$Q" >"$T/snap0"
export ATOMCODE_TELEMETRY="$EVIL"
export DO_NOT_TRACK="\"><img src=x onerror=\"document.title='PWNED'\">"
export ATOMCODE_OFFLINE="</style><style>body{display:none}</style>"
export ATOMCODE_TELEMETRY_ENDPOINT="https://x.invalid/$EVIL?a=1&b=\"'"
expect_more "$T/exp.json" "$ATOMCODE_HOME" "$ATOMCODE_TELEMETRY" \
    "$DO_NOT_TRACK" "$ATOMCODE_OFFLINE" "$ATOMCODE_TELEMETRY_ENDPOINT"
"$CLI" view --last 200 >"$T/out" 2>"$T/err"
rc=$?
check "view exits 0 and prints the page's path" \
    test "$rc" = 0 -a "$(cat "$T/out")" = "$ATOMCODE_HOME/telemetry/view.html"
PAGE="$ATOMCODE_HOME/telemetry/view.html"
check "the page is private (0600)" \
    test "$(stat -c %a "$PAGE" 2>/dev/null)" = 600
python3 "$CHK" "$PAGE" "$T/exp.json" hostile 200
snap "$Q" >"$T/snap1"
check "the queue is untouched (names, sizes, mtimes, inodes, bytes)" \
    cmp -s "$T/snap0" "$T/snap1"
check "consent: ATOMCODE_* garbage is not a rule match, any DO_NOT_TRACK value opts out" \
    grep -q 'id="consent-state" class="state off">disabled<' "$PAGE"
check "... decided by the DO_NOT_TRACK rule" \
    grep -q 'id="consent-rule"><code>DO_NOT_TRACK=1</code> (or any value' "$PAGE"
check "quarantined file listed with its reason" \
    grep -q 'line 1 is not a record' "$PAGE"
check "upload state read from disk (attempt 3)" \
    grep -q '3 failed attempt(s)' "$PAGE"
check "the agent is not running, and the page says so" \
    grep -q 'The agent is not running' "$PAGE"

"$CLI" view --last 3 -o "$T/three.html" >/dev/null 2>&1
python3 "$CHK" "$T/three.html" "$T/exp.json" last3 3
"$CLI" view --last 0 -o "$T/zero.html" >/dev/null 2>&1
python3 "$CHK" "$T/zero.html" "$T/exp.json" last0 0
unset ATOMCODE_TELEMETRY DO_NOT_TRACK ATOMCODE_OFFLINE

# --- consent: the deciding rule -------------------------------------------------
ATOMCODE_TELEMETRY=0 "$CLI" view -o "$T/c1.html" >/dev/null
check "ATOMCODE_TELEMETRY=0: disabled, rule 3 decides" python3 - "$T/c1.html" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
assert 'class="state off">disabled<' in s
assert re.search(r'<tr class="decides"><td>3</td><td><code>ATOMCODE_TELEMETRY=0', s)
assert s.count('class="decides"') == 1
PY
ATOMCODE_OFFLINE=On "$CLI" view -o "$T/c2.html" >/dev/null
check "ATOMCODE_OFFLINE=On: disabled, rule 1 decides" \
    grep -q '<tr class="decides"><td>1</td>' "$T/c2.html"
printf 'offline_mode = "on"\n' >"$ATOMCODE_HOME/config.toml"
"$CLI" view -o "$T/c3.html" >/dev/null
check "offline_mode = on in config.toml: rule 2 decides" \
    grep -q '<tr class="decides"><td>2</td>' "$T/c3.html"
printf '[telemetry]\nenabled = false\n' >"$ATOMCODE_HOME/config.toml"
"$CLI" view -o "$T/c4.html" >/dev/null
check "enabled = false: rule 6 decides, disabled" sh -c \
    "grep -q '<tr class=\"decides\"><td>6</td>' '$T/c4.html' && grep -q 'state off' '$T/c4.html'"
printf '[telemetry]\nenabled = true\n' >"$ATOMCODE_HOME/config.toml"
"$CLI" view -o "$T/c5.html" >/dev/null
check "enabled = true: rule 6 decides, enabled" sh -c \
    "grep -q '<tr class=\"decides\"><td>6</td>' '$T/c5.html' && grep -q 'state on' '$T/c5.html'"
rm -f "$ATOMCODE_HOME/config.toml"

# --- arguments ----------------------------------------------------------------------
for bad in "--last -1" "--last x" "--last 10001" "--last" "--bogus" \
    "--serve -o $T/x.html"; do
	# shellcheck disable=SC2086
	"$CLI" view $bad >/dev/null 2>&1
	check "view $bad: usage error (2)" test $? = 2
done
check "usage lists view" sh -c "'$CLI' help | grep -q '^  view '"

# --- --open hands the file to xdg-open -------------------------------------------
mkdir "$T/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s/opened"\n' "$T" >"$T/bin/xdg-open"
chmod +x "$T/bin/xdg-open"
PATH="$T/bin:$PATH" "$CLI" view --open -o "$T/o.html" >"$T/o.out" 2>&1
check "--open: xdg-open got the page's path" \
    test "$(cat "$T/opened" 2>/dev/null)" = "$T/o.html"
printf '#!/bin/sh\nexit 3\n' >"$T/bin/xdg-open"
PATH="$T/bin:$PATH" "$CLI" view --open -o "$T/o.html" >/dev/null 2>"$T/o.err"
check "--open: a failing opener is an error naming the file" \
    sh -c "test $? = 1 && grep -q 'o.html yourself' '$T/o.err'"

# --- no queue at all: a page, and nothing created -----------------------------------
export ATOMCODE_HOME="$T/fresh"
mkdir -m 700 "$ATOMCODE_HOME"
mkdir -m 700 "$T/tmp"
TMPDIR="$T/tmp" "$CLI" view >"$T/f.out" 2>&1
check "fresh home: the page goes to a private temp directory" sh -c \
    "case \$(cat '$T/f.out') in '$T/tmp/atomcode-view.'*/view.html) test -f \$(cat '$T/f.out');; *) false;; esac"
check "fresh home: nothing created in the state directory" \
    test -z "$(ls -A "$ATOMCODE_HOME")"
check "fresh home: the page says nothing was recorded" \
    grep -q 'no queue directory yet' "$(cat "$T/f.out")"

# --- with a running agent: its status, counters and names are escaped too -----------
export ATOMCODE_HOME="$T/agenthome"
mkdir -m 700 "$ATOMCODE_HOME"
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:9/$EVIL"
check "agent starts" start_agent
printf '%s\n' "$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
r["ts"] = 1795824000000
r[sys.argv[2]] = 1
r["name"] = sys.argv[2]
print(json.dumps(r))' "$GOLDEN/tool_call.json" "$EVIL")" | "$CLI" emit --raw
"$CLI" view -o "$T/a.html" >/dev/null 2>&1
check "agent running: its section shows the pid" \
    grep -q "Running: pid $AGENT_PID," "$T/a.html"
check "agent running: dropped field names and endpoint are escaped" python3 - "$T/a.html" "$EVIL" <<'PY'
import html, sys
s = open(sys.argv[1]).read()
assert sys.argv[2] not in s
assert html.escape(sys.argv[2], quote=True).replace("&#x27;", "&#39;") in s
assert "<script" not in s
PY
stop_agent

# --- --serve: loopback only, token, Host, Ctrl-C ----------------------------------
"$CLI" view --serve >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
PIDS="$PIDS $SPID"
wait_for "grep -q '^http://' '$T/serve.out'" 100
URL=$(head -n 1 "$T/serve.out")
check "--serve prints http://127.0.0.1:PORT/TOKEN" \
    sh -c "echo '$URL' | grep -Eq '^http://127\\.0\\.0\\.1:[0-9]+/[0-9a-f]{32}$'"
python3 - "$URL" "$SPID" <<'PY'
import http.client, re, socket, sys, time
url, pid = sys.argv[1], sys.argv[2]
m = re.match(r"http://127\.0\.0\.1:(\d+)/([0-9a-f]+)$", url)
port, tok = int(m.group(1)), m.group(2)

def req(method, path, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest(method, path, skip_host=True)
    c.putheader("Host", host or "127.0.0.1:%d" % port)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    return r.status, dict(r.getheaders()), body

def ok(desc, cond):
    print(("ok - " if cond else "not ok - ") + "serve: " + desc)

st, h, b = req("GET", "/" + tok)
ok("the token's URL answers 200 with the page", st == 200 and
   b.startswith(b"<!DOCTYPE html>") and b"records" in b)
ok("CSP and no-store headers", "default-src 'none'" in
   h.get("Content-Security-Policy", "") and h.get("Cache-Control") == "no-store")
ok("without the token: 403", req("GET", "/")[0] == 403)
ok("a wrong token: 403", req("GET", "/" + "0" * 32)[0] == 403)
ok("a token prefix: 403", req("GET", "/" + tok[:-1])[0] == 403)
ok("the token in a longer path: 403", req("GET", "/" + tok + "x")[0] == 403)
ok("another Host (DNS rebinding): 403",
   req("GET", "/" + tok, "evil.example:%d" % port)[0] == 403)
ok("localhost Host: 200", req("GET", "/" + tok + "/", "localhost:%d" % port)[0] == 200)
ok("POST: 405", req("POST", "/" + tok)[0] == 405)
st, h, b = req("HEAD", "/" + tok)
ok("HEAD: 200, no body", st == 200 and b == b"")
# A client that connects and says nothing does not stop the others.
idle = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
st = req("GET", "/" + tok)[0]
ok("a silent client delays the next by at most 5 s (%.1f s)" %
   (time.time() - t0), st == 200 and time.time() - t0 < 8)
idle.close()
# Listening on 127.0.0.1 only.
lines = open("/proc/net/tcp").read().splitlines()[1:]
mine = [l.split()[1] for l in lines if l.split()[3] == "0A" and
        int(l.split()[1].split(":")[1], 16) == port]
ok("bound to 127.0.0.1 only (%s)" % mine, mine == ["0100007F:%04X" % port])
PY
kill -INT "$SPID"
i=0
while kill -0 "$SPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "--serve stops on Ctrl-C" sh -c "! kill -0 $SPID 2>/dev/null"
wait "$SPID"
check "--serve exits 0 after Ctrl-C" test $? = 0
