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
# Rows 11 time the Rust crate's example (bindings/rust/examples/bench.rs).
if command -v cargo >/dev/null 2>&1; then
	sh "$TOP/scripts/cargo.sh" "$BUILD" build --release --example bench \
	    >"$T/cargo.log" 2>&1 || { echo "bench: Rust bench not built:" >&2;
	    tail -n 20 "$T/cargo.log" >&2; }
fi
"$BUILD/bench/bench" "$BUILD" "$T" "$BUILD/bench.json"
rc=$?
[ $rc -ne 0 ] && echo "bench: exit $rc (see messages above)" >&2
exit $rc
