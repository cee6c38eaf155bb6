#!/bin/sh
# tests/bench/run.sh BUILD — `make bench`: run tests/bench/bench.c's driver
# in a private temp directory (every ATOMCODE_HOME lives below it) and
# remove it afterwards. The driver starts and stops every process itself
# (by PID) and prints one table; the JSON goes to $BUILD/bench.json.
# BENCH_QUICK=1 shrinks every count (development only).
set -u
BUILD=${1:?usage: run.sh BUILD}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
case $BUILD in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
T=$(mktemp -d /tmp/atc-bench.XXXXXX) || exit 1
chmod 700 "$T"
# BENCH_KEEP=1 keeps the directory (agent logs) for a post-mortem.
if [ -n "${BENCH_KEEP:-}" ]; then
	trap 'echo "bench: kept $T" >&2' EXIT
else
	trap 'rm -rf "$T"' EXIT
fi
trap 'exit 130' INT TERM
"$BUILD/bench/bench" "$BUILD" "$T" "$BUILD/bench.json"
rc=$?
[ $rc -ne 0 ] && echo "bench: exit $rc (see messages above)" >&2
exit $rc
