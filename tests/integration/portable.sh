#!/bin/sh
# macOS and BSD as far as Linux allows (README "macOS and BSD"): the lint
# that keeps platform-only calls in proto/port.[ch] catches each kind, the
# stand-in compile catches a typo in a macOS branch, the LaunchAgent path of
# scripts/install-user-service.sh (fake uname and launchctl recording their
# arguments) and its systemd path (fake systemctl), and file names that a
# case-insensitive filesystem (APFS's default) could confuse.
. "$(dirname "$0")/lib.sh"

# --- the lint --------------------------------------------------------------
check "lint passes on the tree" sh "$TOP/scripts/lint.sh"
# A copy of the sources with one platform-only call planted per run.
plant() { # plant FILE LINE: lint a copy with LINE appended to FILE
	rm -rf "$T/lint"
	mkdir -p "$T/lint/include/atomcode"
	cp -R "$TOP/agent" "$TOP/client" "$TOP/proto" "$T/lint/"
	cp "$TOP"/include/atomcode/*.h "$T/lint/include/atomcode/"
	printf '%s\n' "$2" >>"$T/lint/$1"
	sh "$TOP/scripts/lint.sh" "$T/lint" >"$T/lint.out" 2>&1
}
for c in "client/shim.c|static int f(int l) { return accept4(l, 0, 0, SOCK_CLOEXEC); }" \
    "agent/server.c|static int g(void) { return inotify_init1(0); }" \
    "proto/queue.c|static int h(int fd) { return fdatasync(fd); }" \
    "client/spawn.c|static const char *self = \"/proc/self/exe\";" \
    "agent/main.c|static int k(int fd, uid_t *u, gid_t *g) { return getpeereid(fd, u, g); }" \
    "agent/watch.c|static int m(int s) { return send(s, \"\", 0, MSG_NOSIGNAL); }" \
    "proto/paths.c|static int kq(void) { return kqueue(); }" \
    "agent/ingest.c|static void *r(void *p) { return reallocarray(p, 2, 2); }"; do
	f=${c%%|*}
	line=${c#*|}
	plant "$f" "$line"
	rc=$?
	check "lint rejects $(echo "$line" | sed 's/.*return //; s/[({].*//; s/.*= //') in $f" \
	    sh -c "[ $rc != 0 ] && grep -q '^$f:' '$T/lint.out'"
done
plant agent/server.c "/* accept4(), SOCK_CLOEXEC and /proc/ in a comment are fine */"
check "lint ignores platform names in comments" test $? = 0
plant agent/watch.c "static int w(void) { return inotify_init1(IN_NONBLOCK) + kqueue(); }"
check "lint lets agent/watch.c use inotify and kqueue" test $? = 0
# References to documents outside the repository, even in comments (the
# "" keep this file itself clean of them).
for c in "proto/queue.c|/* the recovery rules of DESIGN"" §3 */" \
    "agent/ingest.c|/* as issue"" 17 asks */" \
    "client/shim.c|/* see research"" §1.2 */"; do
	plant "${c%%|*}" "${c#*|}"
	rc=$?
	check "lint rejects a reference outside the repository in ${c%%|*}" \
	    sh -c "[ $rc != 0 ] && grep -q 'outside the repository' '$T/lint.out'"
done
plant agent/ingest.c "/* see docs/ARCHITECTURE.md and proto/PROTOCOL.md §5 */"
check "lint accepts references into the repository" test $? = 0
# The agent's call graph: one direction only, nothing calls into main.c.
plant agent/ingest.c "void zz(struct agent *); void zz(struct agent *a) { control_run_parked(a); }"
rc=$?
check "lint rejects a call that closes a circle (ingest.c -> control.c)" \
    sh -c "[ $rc != 0 ] && grep -q 'in a circle' '$T/lint.out'"
plant agent/main.c "$(printf 'void agent_zz(void);\nvoid\nagent_zz(void)\n{\n}')"
plant_more() { printf '%s\n' "$2" >>"$T/lint/$1"; sh "$TOP/scripts/lint.sh" "$T/lint" >"$T/lint.out" 2>&1; }
plant_more agent/watch.c "void zw(void); void zw(void) { agent_zz(); }"
rc=$?
check "lint rejects a call into main.c (watch.c -> agent_zz)" \
    sh -c "[ $rc != 0 ] && grep -q 'calls into main.c' '$T/lint.out'"
plant agent/conn.c "/* a comment naming control_frame() is no call */"
check "lint ignores function names in comments for the call graph" test $? = 0

# --- the stand-in compile of the macOS branches ------------------------------
rm -rf "$T/src"
mkdir -p "$T/src"
cp -R "$TOP/Makefile" "$TOP/agent" "$TOP/client" "$TOP/proto" "$TOP/include" \
    "$TOP/scripts" "$T/src/"
mkdir -p "$T/src/tests"
cp -R "$TOP/tests/portable" "$T/src/tests/"
make -s -C "$T/src" BUILD="$T/sb" DEPS_OK=/dev/null standin >"$T/standin.out" 2>&1
check "make standin compiles the macOS branches" test $? = 0
sed -i 's/EVFILT_VNODE, EV_ADD/EVFILT_VNDOE, EV_ADD/' "$T/src/agent/watch.c"
make -s -C "$T/src" BUILD="$T/sb" DEPS_OK=/dev/null standin >"$T/standin.out" 2>&1
check "... and fails on a typo in the kqueue branch" \
    sh -c "[ $? != 0 ] && grep -q EVFILT_VNDOE '$T/standin.out'"
cp "$TOP/agent/watch.c" "$T/src/agent/watch.c"
sed -i 's/launch_activate_socket(name, &fds, &n)/launch_activate_socket(name, fds, \&n)/' \
    "$T/src/proto/port.c"
make -s -C "$T/src" BUILD="$T/sb" DEPS_OK=/dev/null standin >"$T/standin.out" 2>&1
check "... and on a wrong argument type in the launchd branch" \
    sh -c "[ $? != 0 ] && grep -q launch_activate_socket '$T/standin.out'"

# --- scripts/install-user-service.sh: the LaunchAgent path ---------------------
mkdir -p "$T/fake" "$T/bin"
cat >"$T/fake/uname" <<EOF
#!/bin/sh
echo "\${FAKE_UNAME:-Darwin}"
EOF
cat >"$T/fake/launchctl" <<EOF
#!/bin/sh
echo "\$*" >>"$T/launchctl.log"
case "\$1" in
bootout) exit 3 ;;	# "No such process": nothing loaded yet
bootstrap) exit \${FAKE_BOOTSTRAP_RC:-0} ;;
esac
EOF
cat >"$T/fake/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$T/systemctl.log"
EOF
printf '#!/bin/sh\nexit 0\n' >"$T/bin/atomcode-telemetryd"
chmod 755 "$T/fake/uname" "$T/fake/launchctl" "$T/fake/systemctl" \
    "$T/bin/atomcode-telemetryd"
uid=$(id -u)
label=com.atomgit.atomcode.telemetryd
install_mac() { # install_mac HOME: run the installer as on macOS
	mkdir -p "$1"
	rm -f "$T/launchctl.log"
	(umask 002; HOME="$1" PATH="$T/fake:$PATH" \
	    sh "$TOP/scripts/install-user-service.sh" "$T/bin") >"$T/inst.out" 2>&1
}
MH="$T/Users/alice"
install_mac "$MH"
check "LaunchAgent install (uname → Darwin) succeeds" test $? = 0
dst="$MH/Library/LaunchAgents/$label.plist"
check "... says where it installed the plist" grep -q "^installed $dst\$" "$T/inst.out"
check "... launchctl bootout of the old job, then bootstrap into gui/<uid>" \
    sh -c "printf 'bootout gui/$uid/$label\nbootstrap gui/$uid $dst\n' | cmp -s - '$T/launchctl.log'"
check "... the plist is 0644 even under umask 002 (launchd refuses a writable one)" \
    test "$(stat -c %a "$dst")" = 644
check "... ~/.atomcode and ~/.atomcode/telemetry exist, 0700" \
    sh -c "[ \$(stat -c %a '$MH/.atomcode') = 700 ] && [ \$(stat -c %a '$MH/.atomcode/telemetry') = 700 ]"
valid_plist() { # valid_plist FILE HOME
	XML_CATALOG_FILES="$TOP/tests/data/plist-catalog.xml" \
	    xmllint --noout --nonet --valid "$1" >"$T/xml.out" 2>&1 &&
	    [ ! -s "$T/xml.out" ] &&
	    python3 - "$1" "$2" "$T/bin" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
home, bindir = sys.argv[2], sys.argv[3]
assert p["Label"] == "com.atomgit.atomcode.telemetryd"
assert p["ProgramArguments"] == [bindir + "/atomcode-telemetryd"], p["ProgramArguments"]
l = p["Sockets"]["Listeners"]
assert l["SockPathName"] == home + "/.atomcode/telemetry.sock", l
assert l["SockPathMode"] == 0o600
for k in ("StandardOutPath", "StandardErrorPath"):
    assert p[k] == home + "/.atomcode/telemetry/agent.log", p[k]
assert "@" not in open(sys.argv[1]).read().replace("&amp;", "")
PY
}
check "... the installed plist is valid (xmllint --valid) with this HOME's absolute paths" \
    valid_plist "$dst" "$MH"
# A home whose name needs escaping in sed and in XML.
MH2="$T/Users/o'neil & co|x"
install_mac "$MH2"
check "a HOME with & | ' in its name: installed" test $? = 0
check "... and the plist is still valid with that exact path" \
    valid_plist "$MH2/Library/LaunchAgents/$label.plist" "$MH2"
install_mac "$MH"
check "installing again boots the old job out first" \
    grep -q "^bootout gui/$uid/$label\$" "$T/launchctl.log"
FAKE_BOOTSTRAP_RC=5 install_mac "$MH"
check "a failing launchctl bootstrap fails the install" test $? != 0
rm -f "$T/bin/atomcode-telemetryd.x"
(HOME="$MH" PATH="$T/fake:$PATH" sh "$TOP/scripts/install-user-service.sh" \
    "$T/nowhere") >"$T/inst.out" 2>&1
check "no agent in BINDIR: refused before touching launchd" \
    sh -c "[ $? != 0 ] && grep -q 'not found' '$T/inst.out'"

# --- ... and the systemd path (uname → Linux) ------------------------------------
LH="$T/home-linux"
mkdir -p "$LH"
rm -f "$T/systemctl.log"
(HOME="$LH" XDG_CONFIG_HOME= FAKE_UNAME=Linux PATH="$T/fake:$PATH" \
    sh "$TOP/scripts/install-user-service.sh" "$T/bin") >"$T/inst.out" 2>&1
check "systemd user units install (uname → Linux) succeeds" test $? = 0
check "... systemctl --user daemon-reload, then enable --now the socket" \
    sh -c "printf -- '--user daemon-reload\n--user enable --now atomcode-telemetryd.socket\n' | cmp -s - '$T/systemctl.log'"
check "... ExecStart points into BINDIR" \
    grep -q "^ExecStart=$T/bin/atomcode-telemetryd" "$LH/.config/systemd/user/atomcode-telemetryd.service"

# --- names on a case-insensitive filesystem (APFS's default) -------------------
# Every file the agent, the library and the CLI create must stay distinct
# when case is ignored, and queue names use lowercase UUIDs only.
export ATOMCODE_HOME="$T/case"
mkdir -m 700 "$ATOMCODE_HOME"
records() {
	python3 - "$1" "$GOLDEN/llm_chat.json" <<'PY'
import json, sys
rec = json.load(open(sys.argv[2]))
for i in range(int(sys.argv[1])):
    rec["ts"] = 7000 + i
    print(json.dumps(rec, separators=(",", ":")))
PY
}
records 3 | "$CLI" emit --raw >/dev/null 2>&1	# no agent: the library's fallback
check "agent starts (case)" start_agent
records 600 | "$CLI" emit --raw >/dev/null 2>&1	# rolls one segment at 500
"$CLI" status >/dev/null 2>&1
stop_agent
find "$ATOMCODE_HOME" -mindepth 1 >"$T/names"
check "the state files ($(wc -l <"$T/names") paths) stay distinct when case is ignored" \
    sh -c "[ \$(sort '$T/names' | wc -l) -gt 3 ] && [ \$(tr 'A-Z' 'a-z' <'$T/names' | sort -u | wc -l) = \$(sort -u '$T/names' | wc -l) ]"
check "queue file names are lowercase only (UUIDs by uuid_unparse_lower)" \
    sh -c "ls '$ATOMCODE_HOME/telemetry/queue' | grep -q ndjson && ! ls '$ATOMCODE_HOME/telemetry/queue' | grep -q '[A-Z]'"
# Another writer may use uppercase hex: such a segment is still ours to read.
n_before=$("$CLI" dump --last 10000 2>/dev/null | wc -l)
records 2 >"$ATOMCODE_HOME/telemetry/queue/20260101-000000-AAAAAAAA-0000-4000-8000-00000000000A.ndjson"
check "a ready segment named with an uppercase UUID is read like any other" \
    test "$("$CLI" dump --last 10000 | wc -l)" = $((n_before + 2))

# --- an idle agent makes no wake-ups, whichever watcher ($WATCHER) ----------
export ATOMCODE_HOME="$T/idle"
mkdir -m 700 "$ATOMCODE_HOME"
check "agent starts (idle)" start_agent
"$CLI" status >/dev/null 2>&1	# a client came and went (poll: one look)
wait_for "\"$CLI\" status --json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"agent\"][\"uptime_s\"] < 3)'" 50
sleep 1.5	# the look after that status call is over
python3 - "$AGENT_PID" >"$T/idle.out" <<'PY'
import os, sys, time
pid = sys.argv[1]
def ctxt():
    n = 0
    for t in os.listdir("/proc/%s/task" % pid):
        for l in open("/proc/%s/task/%s/status" % (pid, t)):
            if l.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(l.split()[1])
    return n
c0 = ctxt()
time.sleep(3)
print("wakeups", ctxt() - c0)
PY
check "an idle agent ($WATCHER watcher) has 0 wake-ups in 3 s ($(cat "$T/idle.out"))" \
    grep -q '^wakeups 0$' "$T/idle.out"
stop_agent
