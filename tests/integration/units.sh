#!/bin/sh
# Service definitions: the systemd user units pass
# `systemd-analyze --user verify` with no output at all, and the LaunchAgent
# is a valid plist (xmllint --valid against a local DTD) with sane values.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/units" "$T/run"
chmod 700 "$T/run"
sed "s|@BINDIR@|$BUILD|" "$TOP/systemd/atomcode-telemetryd.service" \
    >"$T/units/atomcode-telemetryd.service"
cp "$TOP/systemd/atomcode-telemetryd.socket" "$T/units/"
if command -v systemd-analyze >/dev/null 2>&1; then
	XDG_RUNTIME_DIR="$T/run" systemd-analyze --user --man=no verify \
	    "$T/units/atomcode-telemetryd.socket" \
	    "$T/units/atomcode-telemetryd.service" >"$T/verify.out" 2>&1
	rc=$?
	cat "$T/verify.out"
	check "systemd-analyze --user verify exits 0" test "$rc" = 0
	check "... and prints nothing (unknown keys only warn)" test ! -s "$T/verify.out"
	# The check itself can fail: an unknown key must be caught.
	printf 'Bogus=1\n' >>"$T/units/atomcode-telemetryd.service"
	XDG_RUNTIME_DIR="$T/run" systemd-analyze --user --man=no verify \
	    "$T/units/atomcode-telemetryd.service" >"$T/verify2.out" 2>&1
	check "a unit with an unknown key is caught by the same check" test -s "$T/verify2.out"
else
	ok "# skip: systemd-analyze not installed"
fi
check "no system-only hardening options in the user unit" \
    sh -c "! grep -Eq '^(ProtectProc|ProtectControlGroups|RemoveIPC|DynamicUser|User|Group)=' '$TOP/systemd/atomcode-telemetryd.service'"
check "socket unit listens on %h/.atomcode/telemetry.sock with mode 0600" \
    sh -c "grep -q '^ListenStream=%h/.atomcode/telemetry.sock$' '$TOP/systemd/atomcode-telemetryd.socket' && grep -q '^SocketMode=0600$' '$TOP/systemd/atomcode-telemetryd.socket'"

plist="$TOP/launchd/com.atomgit.atomcode.telemetryd.plist"
sed -e "s|@BINDIR@|/usr/local/bin|g" -e "s|@HOME@|/Users/alice|g" "$plist" >"$T/agent.plist"
if command -v xmllint >/dev/null 2>&1; then
	XML_CATALOG_FILES="$TOP/tests/data/plist-catalog.xml" \
	    xmllint --noout --nonet --valid "$T/agent.plist" >"$T/xml.out" 2>&1
	rc=$?
	cat "$T/xml.out"
	check "LaunchAgent plist is valid against the plist DTD" test "$rc" = 0 -a ! -s "$T/xml.out"
	printf '<plist version="1.0"><dict><key>a</key><key>b</key></dict></plist>\n' >"$T/bad.plist"
	XML_CATALOG_FILES="$TOP/tests/data/plist-catalog.xml" \
	    xmllint --noout --nonet --valid "$T/bad.plist" >/dev/null 2>&1
	check "... and the validator rejects a malformed plist" test $? != 0
else
	ok "# skip: xmllint not installed"
fi
check "plist values: label, absolute paths, 0600 socket, no daemonizing" python3 - "$T/agent.plist" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["Label"] == "com.atomgit.atomcode.telemetryd"
assert p["ProgramArguments"][0].startswith("/")
assert "--detach" not in p["ProgramArguments"]
l = p["Sockets"]["Listeners"]
assert l["SockPathName"] == "/Users/alice/.atomcode/telemetry.sock"
assert l["SockPathMode"] == 0o600
for k in ("StandardOutPath", "StandardErrorPath"):
    assert p[k].startswith("/") and "~" not in p[k]
PY
