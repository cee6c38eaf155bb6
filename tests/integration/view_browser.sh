#!/bin/sh
# atomcode-telemetry view in a real browser: headless Chromium (Debian's
# `chromium`) loads the page, the test reads the DOM it dumps after the load
# and checks the counts and that none of the scripts planted in every field
# ran — with the page's Content-Security-Policy, and again with it removed,
# so the escaping alone is what is tested. Screenshots go to $BUILD/view.png
# (a realistic week, agent running) and $BUILD/view-hostile.png.
#
# Without chromium this prints a skip line and passes nothing, unless
# VIEW_BROWSER_REQUIRED=1 (make check-browser, CI): then it fails.
. "$(dirname "$0")/lib.sh"
export TZ=UTC
FIX="$TOP/tests/view_fixture.py"
CHK="$TOP/tests/view_check.py"

CHROMIUM=""
for c in chromium chromium-browser; do
	if command -v "$c" >/dev/null 2>&1; then
		CHROMIUM=$(command -v "$c")
		break
	fi
done
if [ -z "$CHROMIUM" ]; then
	if [ "${VIEW_BROWSER_REQUIRED:-0}" = 1 ]; then
		fail "chromium is not installed (apt-get install -y chromium)"
		exit 1
	fi
	echo "# skip: chromium is not installed; the browser test of" \
	    "atomcode-telemetry view needs it (apt-get install -y chromium;" \
	    "make check-browser)"
	exit 0
fi

# browser ARGS... URL: one headless run, fresh profile, no network chatter.
browser() {
	_ud=$(mktemp -d "$T/profile.XXXXXX")
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --no-first-run --no-default-browser-check \
	    --disable-extensions --hide-scrollbars --user-data-dir="$_ud" \
	    "$@" 2>>"$T/chromium.err"
	_rc=$?
	rm -rf "$_ud"
	return $_rc
}

# dom FILE OUT: the DOM after load (timers get 3 s of virtual time to fire).
dom() {
	browser --virtual-time-budget=3000 --dump-dom "file://$1" >"$2"
}

# png_size FILE: "WIDTHxHEIGHT" of a PNG, or nothing.
png_size() {
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(32)
if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
    print("%dx%d" % struct.unpack(">II", b[16:24]))
PY
}

# --- the harness sees a script that runs ------------------------------------------
cat >"$T/control.html" <<'EOF'
<!DOCTYPE html><html><head><title>AtomCode telemetry on this machine</title>
</head><body><p id="x">static</p><script>document.title='PWNED';
document.getElementById('x').id='PWNED';</script></body></html>
EOF
dom "$T/control.html" "$T/control.dom"
check "harness: chromium runs a page's script and --dump-dom shows it" \
    grep -q '<title>PWNED</title>' "$T/control.dom"

# --- a page with hostile text in every field --------------------------------------
export ATOMCODE_HOME="$T/h<script>document.title='PWNED'<"/"script>&\"'"
mkdir -p "$ATOMCODE_HOME"
chmod 700 "$ATOMCODE_HOME"
python3 "$FIX" hostile "$ATOMCODE_HOME" >"$T/exp.json"
EVIL="<script>document.title='PWNED'</script>"
export ATOMCODE_TELEMETRY="$EVIL" DO_NOT_TRACK="\"><img src=x onerror=\"document.title='PWNED'\">"
export ATOMCODE_TELEMETRY_ENDPOINT="https://x.invalid/$EVIL?a=1&b=\"'"
python3 - "$T/exp.json" "$ATOMCODE_HOME" "$ATOMCODE_TELEMETRY" "$DO_NOT_TRACK" \
    "$ATOMCODE_TELEMETRY_ENDPOINT" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e["payloads"] += sys.argv[2:]
json.dump(e, open(sys.argv[1], "w"))
PY
"$CLI" view --last 200 -o "$T/hostile.html" >/dev/null
unset ATOMCODE_TELEMETRY DO_NOT_TRACK
check "chromium loads the hostile page" dom "$T/hostile.html" "$T/hostile.dom"
python3 "$CHK" "$T/hostile.dom" "$T/exp.json" browser 200

# The same page without its CSP: only the escaping stands between the
# planted scripts and the browser.
python3 - "$T/hostile.html" "$T/nocsp.html" <<'PY'
import re, sys
s = open(sys.argv[1], encoding="utf-8").read()
t = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", s, count=1)
assert t != s
open(sys.argv[2], "w", encoding="utf-8").write(t)
PY
check "chromium loads the page without its CSP" dom "$T/nocsp.html" "$T/nocsp.dom"
python3 "$CHK" "$T/nocsp.dom" "$T/exp.json" browser-no-csp 200 --no-csp
browser --window-size=1280,1400 --force-device-scale-factor=0.75 \
    --screenshot="$BUILD/view-hostile.png" "file://$T/hostile.html" >/dev/null
check "screenshot of the hostile page" test "$(png_size "$BUILD/view-hostile.png")" = 960x1050

# --- a realistic week with a running agent (the README's screenshot) ---------------
export ATOMCODE_HOME="$T/demo"
mkdir -m 700 "$ATOMCODE_HOME"
python3 "$FIX" demo "$ATOMCODE_HOME" >"$T/demo.json"
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:9/v1/events"
check "agent starts" start_agent
python3 - "$GOLDEN/tool_call.json" <<'PY' | "$CLI" emit --raw
import json, sys, time
r = json.load(open(sys.argv[1]))
r["ts"] = int(time.time() * 1000)
r.update({"success": False, "error_kind": "io", "name": "read_file",
          "error_data": "cannot read /home/ann/notes/plan.md: denied",
          "clipboard": "an unknown field"})
print(json.dumps(r))
PY
"$CLI" view --last 4 -o "$T/demo.html" >/dev/null
stop_agent
check "chromium loads the demo page" dom "$T/demo.html" "$T/demo.dom"
check "demo page: the agent's counters are on the page" python3 - "$T/demo.dom" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
assert "Running: pid" in s, "agent section"
assert re.search(r'<tr id="drop-rejected"><td>[^<]*</td><td class="n">0</td>', s)
assert "clipboard" in s, "the dropped field's name"
assert "<title>AtomCode telemetry on this machine</title>" in s
PY
browser --window-size=1280,2240 --force-device-scale-factor=0.6 \
    --screenshot="$BUILD/view.png" "file://$T/demo.html" >/dev/null
check "screenshot saved to $BUILD/view.png" test "$(png_size "$BUILD/view.png")" = 768x1344
