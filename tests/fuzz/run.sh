#!/bin/sh
# tests/fuzz/run.sh — build and run the libFuzzer targets (make fuzz).
#
#   sh tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Builds every tests/fuzz/fuzz_<name>.c with clang (-fsanitize=fuzzer,
# address,undefined) from the sources it needs into build-fuzz/, replays the
# regression inputs and the seed corpus once (-runs=0) so known crashes
# fail fast, then fuzzes each target for SECONDS (default 60) on a writable
# copy of its corpus in build-fuzz/corpus/<name>. The tracked seed corpus
# and regressions are only ever read. Prints one line per target and
# "N passed, N failed"; exits 1 if any target failed.
#
# Environment: FUZZ_BUILD (default build-fuzz), CLANG (default clang),
# FUZZ_FLAGS (extra libFuzzer flags for the timed run).
set -u

cd "$(dirname "$0")/../.." || exit 1

SECS=${1:-60}
[ $# -gt 0 ] && shift
case $SECS in
''|*[!0-9]*|0)
	echo "run.sh: SECONDS must be a positive integer, got '$SECS'" >&2
	exit 2 ;;
esac

B=${FUZZ_BUILD:-build-fuzz}
CLANG=${CLANG:-clang}
TARGETS=${*:-frame record scrub config settings queue_line http}
TIMEOUT=25		# seconds one input may take before it is a failure
RSS_MB=2048		# memory one target may use

# --- clang with the libFuzzer runtime ------------------------------------
have_libfuzzer() {
	command -v "$CLANG" >/dev/null 2>&1 || return 1
	mkdir -p "$B" || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *, size_t);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' >"$B/probe.c"
	"$CLANG" -fsanitize=fuzzer,address,undefined "$B/probe.c" \
	    -o "$B/probe" >/dev/null 2>&1
}

if ! have_libfuzzer; then
	PKGS_CLANG="clang libclang-rt-14-dev"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: no clang with libFuzzer;" \
		    "running: apt-get install -y $PKGS_CLANG"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y $PKGS_CLANG >/dev/null ||
		    { apt-get update >/dev/null &&
		    apt-get install -y $PKGS_CLANG >/dev/null; } ||
		    { echo "run.sh: apt-get install failed" >&2; exit 1; }
		have_libfuzzer || {
			echo "run.sh: $CLANG still cannot link" \
			    "-fsanitize=fuzzer" >&2
			exit 1
		}
	else
		echo "run.sh: clang with the libFuzzer runtime is missing;" \
		    "install it with:" >&2
		echo "    sudo apt-get install -y $PKGS_CLANG" >&2
		exit 1
	fi
fi

LIBS="jansson inih uuid"
if ! PKG=$(pkg-config --cflags --libs $LIBS 2>/dev/null); then
	echo "run.sh: pkg-config cannot find $LIBS" \
	    "(run: sh scripts/deps.sh)" >&2
	exit 1
fi

CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -std=c11 -D_GNU_SOURCE -Iinclude -Iproto
    -Iagent -Itests/fuzz -DATC_VERSION=\"0.1.0\" -Wall -Wextra -Wshadow
    -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter"

# The firewall's vocabulary table, generated as `make` does.
FIREWALL="proto/scrub.c proto/shape.c proto/vocab.c $B/gen/vocab_table.c"

# Sources each target links (compiled here, not the gcc-built archives).
sources() {
	case $1 in
	frame)		echo proto/frame.c proto/buf.c ;;
	record)		echo proto/record.c $FIREWALL proto/frame.c \
			    proto/buf.c ;;
	scrub)		echo $FIREWALL proto/frame.c proto/buf.c ;;
	config)		echo proto/config.c proto/paths.c proto/buf.c proto/fsio.c \
			    proto/frame.c ;;
	settings)	echo agent/settings.c agent/export_conf.c agent/log.c proto/fsio.c proto/port.c proto/buf.c ;;
	queue_line)	echo proto/queue.c proto/fsio.c proto/port.c proto/record.c $FIREWALL \
			    proto/frame.c proto/buf.c ;;
	http)		echo agent/backoff.c ;;
	*)		return 1 ;;
	esac
}

# -max_len per target: a frame is at most 65536 bytes plus its header.
max_len() {
	case $1 in
	frame)		echo 65540 ;;
	record)		echo 16384 ;;
	scrub)		echo 8192 ;;
	http)		echo 1024 ;;
	*)		echo 8192 ;;
	esac
}

mkdir -p "$B/logs" "$B/corpus" "$B/artifacts" || exit 1
if ! make -s BUILD="$B" "$B/gen/vocab_table.c" >"$B/logs/vocab.log" 2>&1; then
	echo "run.sh: cannot generate the vocabulary (see $B/logs/vocab.log)" >&2
	exit 1
fi
# The targets' scratch files go to a private tmpfs directory if possible.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	ATC_FUZZ_TMP=$(mktemp -d /dev/shm/atc-fuzz-run.XXXXXX) || exit 1
else
	ATC_FUZZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/atc-fuzz-run.XXXXXX") ||
	    exit 1
fi
export ATC_FUZZ_TMP
trap 'rm -rf "$ATC_FUZZ_TMP"' EXIT
trap 'exit 130' INT TERM
: "${ASAN_OPTIONS:=detect_leaks=1:allocator_may_return_null=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS

# KEY of the last "#N ... cov: C ft: F corp: K ..." status line of a log.
stat_of() {
	grep -E '^#[0-9]+' "$1" 2>/dev/null | tail -n 1 |
	    sed -n "s/.* $2: \([0-9][0-9]*\).*/\1/p"
}
# A -print_final_stats=1 value of a log.
final_of() {
	sed -n "s/^stat::$2: *\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null |
	    tail -n 1
}

pass=0
fail=0
for t in $TARGETS; do
	src=$(sources "$t") ||
	    { echo "run.sh: unknown target '$t'" >&2; exit 2; }
	bin="$B/fuzz_$t"
	log="$B/logs/fuzz_$t.log"
	work="$B/corpus/$t"
	art="$B/artifacts/$t/"
	seeds="tests/fuzz/corpus/$t"
	regr="tests/fuzz/regressions/$t"
	mkdir -p "$work" "$art" || exit 1
	: >"$log"

	# 1. Build.
	if ! $CLANG $CFLAGS "tests/fuzz/fuzz_$t.c" $src $PKG -o "$bin" \
	    >>"$log" 2>&1; then
		printf 'FAIL fuzz_%-10s build failed (see %s)\n' "$t" "$log"
		fail=$((fail + 1))
		continue
	fi

	# 2. Replay regressions and seeds once: known crashes fail fast.
	# The first directory is libFuzzer's output corpus: an empty
	# scratch one, so the tracked directories are never written.
	regdir=
	[ -n "$(ls -A "$regr" 2>/dev/null)" ] && regdir=$regr
	dirs=$regdir
	[ -n "$(ls -A "$seeds" 2>/dev/null)" ] && dirs="$dirs $seeds"
	if [ -n "$dirs" ]; then
		mkdir -p "$ATC_FUZZ_TMP/replay-$t" || exit 1
		echo "=== replaying $dirs" >>"$log"
		if ! "./$bin" -runs=0 -timeout=$TIMEOUT \
		    -artifact_prefix="$art" "$ATC_FUZZ_TMP/replay-$t" $dirs \
		    >>"$log" 2>&1; then
			printf 'FAIL fuzz_%-10s a regression or seed input' "$t"
			printf ' fails (see %s; input in %s)\n' "$log" "$art"
			fail=$((fail + 1))
			continue
		fi
	fi

	# 3. Fuzz for SECS on the working copy (regressions read too).
	[ -n "$(ls -A "$seeds" 2>/dev/null)" ] && cp -p "$seeds"/* "$work"/
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	echo "=== fuzzing" >>"$log"
	"./$bin" -max_total_time="$SECS" -max_len="$(max_len "$t")" \
	    -timeout=$TIMEOUT -rss_limit_mb=$RSS_MB -print_final_stats=1 \
	    -artifact_prefix="$art" $dict ${FUZZ_FLAGS:-} "$work" $regdir \
	    >>"$log" 2>&1
	rc=$?
	runs=$(final_of "$log" number_of_executed_units)
	if [ $rc -eq 0 ]; then
		printf 'ok   fuzz_%-10s %ss %s runs %s exec/s' "$t" "$SECS" \
		    "${runs:-?}" "$(final_of "$log" average_exec_per_sec)"
		printf '  cov %s ft %s corpus %s\n' "$(stat_of "$log" cov)" \
		    "$(stat_of "$log" ft)" "$(stat_of "$log" corp)"
		pass=$((pass + 1))
	else
		printf 'FAIL fuzz_%-10s exit %s after %s runs (see %s;' "$t" \
		    "$rc" "${runs:-?}" "$log"
		printf ' input %s%s)\n' "$art" "$(ls -t "$art" | head -n 1)"
		fail=$((fail + 1))
	fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
