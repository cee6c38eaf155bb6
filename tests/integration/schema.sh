#!/bin/sh
# The schema tables in proto/record.c are the single source of the event
# catalogue: the public header's event list, the (7) man page and the Rust
# crate's names are generated from them (scripts/gen_schema.c, `make
# schema`). Fails when a checked-in copy is stale.
. "$(dirname "$0")/lib.sh"

GEN="$BUILD/gen_schema"
check "the generator is built" test -x "$GEN"
for pair in "header include/atomcode/telemetry-events.h" \
    "man man/atomcode-telemetry-events.7" "rust bindings/rust/src/schema.rs"; do
	set -- $pair
	"$GEN" "$1" >"$T/$1.out" 2>"$T/$1.err"
	check "gen_schema $1 runs" test $? = 0 -a ! -s "$T/$1.err"
	if cmp -s "$T/$1.out" "$TOP/$2"; then
		ok "$2 is in sync with proto/record.c"
	else
		fail "$2 is stale: run make schema"
		diff -u "$TOP/$2" "$T/$1.out" | head -20
	fi
done
# Every event and every field name of the validator is in each output.
for id in $("$GEN" rust | sed -n 's/^pub const EV_[A-Z_]*: &str = "\(.*\)";/\1/p'); do
	grep -q "^\.Ss $id\$" "$TOP/man/atomcode-telemetry-events.7" || echo "$id" >>"$T/missing"
	grep -q "\"$id\"" "$TOP/include/atomcode/telemetry-events.h" || echo "$id" >>"$T/missing"
done
check "every event has a man page section and a header macro" test ! -s "$T/missing"
check "the man page lists 11 events" \
    test "$(grep -c '^\.Ss ' "$TOP/man/atomcode-telemetry-events.7")" = 11
check "gen_schema refuses a bad argument" sh -c "! '$GEN' nope 2>/dev/null"
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$TOP/man/atomcode-telemetry-events.7" >"$T/lint" 2>&1
	check "mandoc -Tlint finds nothing in the man page" test ! -s "$T/lint"
	cat "$T/lint"
fi
if command -v groff >/dev/null 2>&1; then
	groff -mdoc -ww -z "$TOP/man/atomcode-telemetry-events.7" >"$T/groff" 2>&1
	check "groff -mdoc -ww warns about nothing in the man page" test ! -s "$T/groff"
	cat "$T/groff"
fi
