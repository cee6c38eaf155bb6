#!/bin/sh
# make run: the agent in the foreground, safe by default. It uses a private
# state directory under the build directory (never ~/.atomcode) and uploads
# to the test collector on 127.0.0.1 (tests/collector.py), which keeps what
# it receives in a file: nothing leaves the machine. Both are printed at
# start, with the two lines to paste into another terminal. Ctrl-C stops
# the agent and the collector. RUN_HOME overrides the state directory.
#
# The real thing (your ~/.atomcode, the production endpoint): run
# build/atomcode-telemetryd yourself, or `make install` and
# `make install-user-service`.
set -u
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
home=${RUN_HOME:-$build/run-home}
mkdir -p "$home" && chmod 700 "$home" || exit 1
home=$(cd "$home" && pwd)
rm -f "$home/collector.port"
agent=""
collector=""
stop() {
	[ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent"
	[ -n "$collector" ] && kill -TERM "$collector" 2>/dev/null
	[ -n "$collector" ] && wait "$collector" 2>/dev/null
	rm -f "$home/collector.port"
}
trap 'stop; exit 130' INT TERM
python3 "$top/tests/collector.py" --port-file "$home/collector.port" \
    --log "$home/collector.log" >"$home/collector.out" 2>&1 &
collector=$!
i=0
while [ ! -s "$home/collector.port" ] && [ $i -lt 100 ]; do
	kill -0 "$collector" 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
if [ ! -s "$home/collector.port" ]; then
	echo "make run: the test collector did not start (python3?):" >&2
	cat "$home/collector.out" >&2
	stop
	exit 1
fi
endpoint="http://127.0.0.1:$(cat "$home/collector.port")/v1/events"
printf 'export ATOMCODE_HOME=%s ATOMCODE_TELEMETRY_ENDPOINT=%s\n' \
    "$home" "$endpoint" >"$home/env"
cat <<EOF
make run: safe by default: nothing leaves this machine.
  state:     ATOMCODE_HOME=$home (not ~/.atomcode)
  uploads:   $endpoint (the test collector; it keeps what it gets in
             $home/collector.log)
In another terminal:
  . $home/env
  $build/atomcode-telemetry emit open_atomcode
  $build/atomcode-telemetry status
The real agent (your ~/.atomcode, the production endpoint): run
$build/atomcode-telemetryd yourself, or make install and make install-user-service.
Ctrl-C stops the agent and the collector.
EOF
ATOMCODE_HOME="$home" ATOMCODE_TELEMETRY_ENDPOINT="$endpoint" \
    "$build/atomcode-telemetryd" &
agent=$!
wait "$agent"
rc=$?
agent=""
stop
exit $rc
