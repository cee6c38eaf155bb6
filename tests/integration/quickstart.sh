#!/bin/sh
# The README's quick start is safe by default: `make run` uses a private
# state directory under the build directory and the loopback test collector
# (both printed at start), never ~/.atomcode or the production endpoint. A
# plain `make` never installs packages; `make deps`, `make check` and `make
# run` do.
. "$(dirname "$0")/lib.sh"

# --- make: check only; make deps / check / run: install ------------------------
make -s -n -C "$TOP" BUILD="$T/fresh" all >"$T/n-all" 2>&1
check "a plain make only checks the dependencies (DEPS_MODE=check)" \
    sh -c "grep -q 'DEPS_MODE=check sh scripts/deps.sh' '$T/n-all' && ! grep -q 'DEPS_MODE=install' '$T/n-all'"
for t in deps check run; do
	make -s -n -C "$TOP" BUILD="$T/fresh" $t >"$T/n-$t" 2>&1
	check "make $t installs missing dependencies (DEPS_MODE=install)" \
	    grep -q 'DEPS_MODE=install sh scripts/deps.sh' "$T/n-$t"
done
mkdir "$T/fakebin"
for p in apt-get sudo; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$p" "$T" >"$T/fakebin/$p"
	chmod +x "$T/fakebin/$p"
done
PATH="$T/fakebin:$PATH" DEPS_MODE=check EXTRA_TOOLS=atc-no-such-tool \
    sh "$TOP/scripts/deps.sh" >"$T/d1" 2>&1
rc=$?
check "deps.sh in check mode: fails, names make deps ($rc: $(cat "$T/d1"))" \
    sh -c "[ $rc = 1 ] && grep -q 'make deps' '$T/d1'"
check "... and ran neither apt-get nor sudo" test ! -e "$T/calls"
PATH="$T/fakebin:$PATH" DEPS_MODE=install EXTRA_TOOLS=atc-no-such-tool \
    sh "$TOP/scripts/deps.sh" >"$T/d2" 2>&1
check "deps.sh in install mode runs apt-get install" grep -q "apt-get install -y" "$T/calls"

# --- make run: private home, loopback collector, printed ------------------------
mkdir "$T/b" "$T/userhome"
for f in atomcode-telemetryd atomcode-telemetry; do ln -s "$BUILD/$f" "$T/b/$f"; done
unset ATOMCODE_HOME ATOMCODE_TELEMETRY_ENDPOINT
HOME="$T/userhome" sh "$TOP/scripts/run.sh" "$T/b" >"$T/run.out" 2>"$T/run.err" &
RUN_PID=$!
PIDS="$PIDS $RUN_PID"
check "make run starts the agent" wait_for "grep -q '^Telemetry: enabled' '$T/run.out'" 100
check "it prints the private state directory under the build directory" \
    grep -q "ATOMCODE_HOME=$T/b/run-home (not ~/.atomcode)" "$T/run.out"
check "it prints the loopback test collector" \
    grep -q "uploads:   http://127.0.0.1:[0-9]*/v1/events (the test collector" "$T/run.out"
check "it says how to run the real thing" grep -q "The real agent" "$T/run.out"
(
	. "$T/b/run-home/env"
	HOME="$T/userhome" "$CLI" emit open_atomcode 2>/dev/null
	HOME="$T/userhome" "$CLI" flush --wait
) >"$T/flush.out" 2>&1
# "empty": it went out before the flush (on a loaded machine the emit's
# close may give up waiting for the ack and write a ready segment that the
# agent's watcher uploads at once); either way the collector has it.
check "an event from the other terminal reaches the test collector ($(cat "$T/flush.out"))" \
    sh -c "grep -Eq '^Upload: (ok|empty)' '$T/flush.out' && grep -q open_atomcode '$T/b/run-home/collector.log'"
check "the user's ~/.atomcode was never touched" test ! -e "$T/userhome/.atomcode"
agent=$(head -n 1 "$T/b/run-home/telemetry.lock" 2>/dev/null)
kill -TERM "$RUN_PID"
check "Ctrl-C (SIGTERM here) stops make run" wait_for "! kill -0 $RUN_PID 2>/dev/null" 100
check "... and the agent with it" wait_for "! kill -0 ${agent:-1} 2>/dev/null" 50
check "... and the collector" test ! -e "$T/b/run-home/collector.port"
