#!/bin/sh
# Library hygiene: the static library exports only atc_* symbols, like the
# shared one, so a host program may define any name the library uses
# inside. The names are taken from the internal objects at test time
# (nm of libatc-internal.a), so the list cannot go stale: a program that
# defines every one of them links against libatomcode-telemetry.a and .so,
# and the library still works in it (it uses its own internals).
. "$(dirname "$0")/lib.sh"

A="$BUILD/libatomcode-telemetry.a"
nm -g --defined-only "$BUILD/libatc-internal.a" 2>/dev/null |
    awk 'NF == 3 && $2 ~ /[TDBRCVW]/ {print $3}' |
    grep -v '^atc_' | grep -v '^__' | sort -u >"$T/internal"
n=$(wc -l <"$T/internal")
check "the internal objects define library-internal globals ($n)" test "$n" -gt 50
for s in config_read buf_add utf8_valid frame_decode sock_connect env_test_hooks; do
	check "the internal list has $s" grep -qx "$s" "$T/internal"
done

nm -g --defined-only "$A" | awk 'NF == 3 {print $3}' | grep -v '^__' |
    sort -u >"$T/exported"
check "libatomcode-telemetry.a defines only atc_* globals" \
    sh -c "! grep -qv '^atc_' '$T/exported'"
check "libatomcode-telemetry.a defines atc_open and atc_track" \
    sh -c "grep -qx atc_open '$T/exported' && grep -qx atc_track '$T/exported'"
nm -D --defined-only "$BUILD/libatomcode-telemetry.so" | awk '{print $3}' |
    grep -v '^__' | sort -u >"$T/dyn"
check "the .a and the .so export the same atc_* names" cmp "$T/exported" "$T/dyn"
# config.toml is read by the library's own scanner: inih is the agent's and
# the CLI's (telemetryd.conf), never a dependency of programs that link us.
check "the library does not use inih (.a)" sh -c "! nm -u '$A' | grep -q ' ini_'"
check "the library does not need libinih (.so)" \
    sh -c "! readelf -d '$BUILD/libatomcode-telemetry.so' | grep NEEDED | grep -q inih"

# A host program defining every former internal name.
{
	echo '#include <stdio.h>'
	echo '#include <atomcode/telemetry.h>'
	while read -r s; do echo "char $s[8] = \"host\";"; done <"$T/internal"
	cat <<'C'
int
main(void)
{
	struct atc_options o = ATC_OPTIONS_INIT;
	struct atc *h;
	struct atc_event *ev;

	o.flags = ATC_F_NO_AGENT | ATC_F_NO_SPAWN;
	if (atc_open(&o, &h) != ATC_OK)
		return 1;
	if (atc_event_new(ATC_EV_TOOL_CALL, &ev) != ATC_OK ||
	    atc_event_str(ev, ATC_FIELD_NAME, "bash") != ATC_OK ||
	    atc_event_bool(ev, ATC_FIELD_SUCCESS, 1) != ATC_OK ||
	    atc_event_uint(ev, ATC_FIELD_DURATION_MS, 3) != ATC_OK ||
	    atc_track(h, ev, NULL) != ATC_OK)
		return 2;
	atc_event_free(ev);
	if (atc_close(h) != ATC_OK)
		return 3;
	/* The library wrote none of the host's variables. */
	if (config_read[0] != 'h' || buf_add[0] != 'h')
		return 4;
	puts("ok");
	return 0;
}
C
} >"$T/host.c"

SAN=""
nm -u "$A" | grep -q ' __asan_' && SAN="-fsanitize=address,undefined"
[ -z "$SAN" ] && nm -u "$A" | grep -q ' __ubsan_' && SAN="-fsanitize=undefined"
LIBS="$(pkg-config --libs jansson uuid) -lpthread"
cc $SAN -std=c11 -I"$TOP/include" -o "$T/host-static" "$T/host.c" "$A" $LIBS \
    >"$T/cc1.out" 2>&1
rc=$?
cat "$T/cc1.out"
check "a program defining all $n names links against the .a" test "$rc" = 0
out=$(ASAN_OPTIONS=verify_asan_link_order=0 "$T/host-static" 2>&1)
check "and the library works in it (static)" test "$out" = ok

cc $SAN -std=c11 -I"$TOP/include" -o "$T/host-shared" "$T/host.c" \
    -L"$BUILD" -latomcode-telemetry $LIBS >"$T/cc2.out" 2>&1
rc=$?
cat "$T/cc2.out"
check "a program defining all $n names links against the .so" test "$rc" = 0
out=$(ASAN_OPTIONS=verify_asan_link_order=0 LD_LIBRARY_PATH="$BUILD" "$T/host-shared" 2>&1)
check "and the library works in it (shared)" test "$out" = ok
check "both runs stored their event" \
    test "$("$CLI" dump | grep -c '"event_id":"tool_call"')" = 2
