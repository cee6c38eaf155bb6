#!/bin/sh
# The Rust crate (bindings/rust): `cargo test` against this build's library,
# agent and CLI, offline, with only Debian's cargo and rustc. Each Rust test
# becomes one ok/not ok line (tests/sidecar.rs: goldens with a live agent and
# with none, opt-out reasons, refusals, scopes, durable, first-run notice).
. "$(dirname "$0")/lib.sh"

if ! command -v cargo >/dev/null 2>&1; then
	# Debian's cargo and rustc, like the other build dependencies.
	EXTRA_DEBS="cargo rustc" EXTRA_TOOLS=cargo sh "$TOP/scripts/deps.sh" \
	    --check-tools >"$T/deps.out" 2>&1
fi
if ! command -v cargo >/dev/null 2>&1; then
	cat "$T/deps.out"
	fail "cargo is not installed (apt-get install cargo rustc)"
	exit 0
fi
# A sanitizer build's library needs its runtime loaded before anything
# else: preload it into the Rust programs (through cargo's runner for the
# tests); Rust's own allocations are not ours to leak-check.
export ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0"
SANRT=""
if nm -u "$BUILD/libatomcode-telemetry.a" | grep -q ' __asan_'; then
	SANRT=$(cc -print-file-name=libasan.so)
elif nm -u "$BUILD/libatomcode-telemetry.a" | grep -q ' __ubsan_'; then
	SANRT=$(cc -print-file-name=libubsan.so)
fi
if [ -n "$SANRT" ]; then
	triple=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
	export "CARGO_TARGET_${triple}_RUNNER=env LD_PRELOAD=$SANRT"
fi
run() { # run PROGRAM ARGS...: with the sanitizer runtime when there is one
	if [ -n "$SANRT" ]; then LD_PRELOAD="$SANRT" "$@"; else "$@"; fi
}
export ATC_BUILD="$BUILD" ATC_GOLDEN="$GOLDEN"
sh "$TOP/scripts/cargo.sh" "$BUILD" test -- --test-threads=1 >"$T/cargo.out" 2>&1
rc=$?
sed -n 's/^test \(.*\) \.\.\. ok$/ok - rust: \1/p; s/^test \(.*\) \.\.\. FAILED$/not ok - rust: \1/p' "$T/cargo.out"
n=$(grep -c '^test .* \.\.\. ok$' "$T/cargo.out")
check "cargo test passed ($n tests, cargo exit $rc)" test "$rc" = 0 -a "$n" -ge 8
[ "$rc" = 0 ] || tail -n 60 "$T/cargo.out"
check "the crate builds with no registry access and no dependency" \
    sh -c "! grep -q 'Downloading\|Updating' '$T/cargo.out'"

# docs/INTEGRATING.md's example: extracted, built against the crate, run.
awk '/<!-- example: compiled by tests\/integration\/rust.sh -->/ {want = 1; next}
    want && /^```rust$/ {inside = 1; next}
    inside && /^```$/ {exit}
    inside {print}' "$TOP/docs/INTEGRATING.md" >"$T/example.rs"
check "the example is found in docs/INTEGRATING.md" grep -q '^fn main()' "$T/example.rs"
mkdir -p "$T/example/src"
cp "$T/example.rs" "$T/example/src/main.rs"
cat >"$T/example/Cargo.toml" <<TOML
[package]
name = "integrating-example"
version = "4.22.3"
edition = "2021"

[dependencies]
atomcode-telemetry = { path = "$TOP/bindings/rust" }
TOML
(cd "$T/example" && PKG_CONFIG_PATH="$BUILD/pkgconfig" CARGO_TARGET_DIR="$BUILD/rust-example" \
    cargo build --offline) >"$T/example.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tail -n 40 "$T/example.out"
check "docs/INTEGRATING.md's example compiles" test "$rc" = 0
EX="$BUILD/rust-example/debug/integrating-example"
# A dependent crate's binary finds the uninstalled .so through the path
# (an installed one through ld.so's; or link statically, below).
export LD_LIBRARY_PATH="$BUILD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
run "$EX" >"$T/ex.out" 2>"$T/ex.err"
check "the example runs (no agent)" test $? = 0
check "it printed the first-run notice" grep -q 'collects anonymous usage telemetry' "$T/ex.err"
"$CLI" dump >"$T/ex.dump"
check "its three events are in the queue" \
    test "$(grep -c '"event_id":"\(open_atomcode\|tool_call\|login_success\)"' "$T/ex.dump")" = 3
check "with the default mode and the scope's turn" \
    sh -c "grep '\"event_id\":\"tool_call\"' '$T/ex.dump' | grep -q '\"turn\":1,.*\"mode\":\"headless\"'"
run "$EX" crash >/dev/null 2>"$T/crash.err"
check "a panic exits as a panic does (101)" test $? = 101
# No agent: the record is in the library's fallback segment, on disk
# (a managed partial that recovery makes ready).
check "and the panic hook's record is on disk" \
    sh -c "cat '$ATOMCODE_HOME'/telemetry/queue/*.partial | grep '\"event_id\":\"panic\"' | grep -q '\"message_head\":\"index out of bounds'"
PATH="$BUILD:$PATH" run "$EX" telemetry status >"$T/ex.status" 2>&1
check "atomcode telemetry status delegates to atomcode-telemetry" \
    grep -q '^Telemetry: enabled' "$T/ex.status"
ATOMCODE_TELEMETRY=0 run "$EX" >/dev/null 2>"$T/ex.err2"
check "disabled: the reason is upstream's" \
    grep -qx 'Telemetry: disabled (reason: env:ATOMCODE_TELEMETRY=0)' "$T/ex.err2"

# ATOMCODE_TELEMETRY_STATIC=1: the library linked into the binary (not for
# a sanitizer build, whose objects need the sanitizer runtime).
if ! nm -u "$BUILD/libatomcode-telemetry.a" | grep -q ' __\(asan\|ubsan\)_'; then
	(cd "$T/example" && ATOMCODE_TELEMETRY_STATIC=1 PKG_CONFIG_PATH="$BUILD/pkgconfig" \
	    CARGO_TARGET_DIR="$BUILD/rust-example-static" cargo build --offline) \
	    >"$T/static.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] || tail -n 40 "$T/static.out"
	check "ATOMCODE_TELEMETRY_STATIC=1 links the static library" test "$rc" = 0
	SX="$BUILD/rust-example-static/debug/integrating-example"
	check "that binary needs no libatomcode-telemetry.so" \
	    sh -c "! ldd '$SX' | grep -q atomcode"
	LD_LIBRARY_PATH= ATOMCODE_TELEMETRY=0 "$SX" >/dev/null 2>"$T/sx.err"
	check "and runs" grep -q 'Telemetry: disabled' "$T/sx.err"
fi
