#!/bin/sh
# make install honours PREFIX and DESTDIR, and a C program builds against the
# installed library through pkg-config.
. "$(dirname "$0")/lib.sh"

make -s -C "$TOP" BUILD="$BUILD" PREFIX=/opt/atc DESTDIR="$T/dest" install >"$T/install.out" 2>&1
check "make install PREFIX=/opt/atc DESTDIR=... succeeds" test $? = 0
for f in bin/atomcode-telemetryd bin/atomcode-telemetry lib/libatomcode-telemetry.a \
    lib/libatomcode-telemetry.so.0 lib/libatomcode-telemetry.so \
    include/atomcode/telemetry.h include/atomcode/telemetry-events.h \
    share/man/man3/libatomcode-telemetry.3 share/man/man7/atomcode-telemetry-events.7 \
    lib/pkgconfig/atomcode-telemetry.pc; do
	check "installed $f" test -e "$T/dest/opt/atc/$f"
done
check "nothing installed outside DESTDIR/PREFIX" test "$(ls "$T/dest")" = opt

export PKG_CONFIG_PATH="$T/dest/opt/atc/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$T/dest"
cat >"$T/hello.c" <<'C'
#include <stdio.h>
#include <atomcode/telemetry.h>
int
main(void)
{
	struct atc_options o = { 0 };
	struct atc *h;
	enum atc_err e;

	o.app_version = "1.2.3";
	o.flags = ATC_F_NO_SPAWN;
	if (atc_open(&o, &h) != ATC_OK)
		return 1;
	e = atc_emit(h, "open_atomcode", "{\"dangerously_skip_permissions\":true}");
	printf("emit: %s\n", atc_strerror(e));
	atc_close(h);
	return e == ATC_OK ? 0 : 1;
}
C
cc $(pkg-config --cflags atomcode-telemetry) -o "$T/hello" "$T/hello.c" \
    $(pkg-config --libs atomcode-telemetry) >"$T/cc.out" 2>&1
rc=$?
cat "$T/cc.out"
check "a C program compiles and links via pkg-config atomcode-telemetry" test "$rc" = 0
# (Under make asan the library carries libasan: let it load second.)
ASAN_OPTIONS=verify_asan_link_order=0 LD_LIBRARY_PATH="$T/dest/opt/atc/lib" "$T/hello" >"$T/hello.out" 2>&1
check "it runs against the installed shared library" test $? = 0
check "its event reached the queue (fallback, no agent)" \
    sh -c "'$CLI' dump | grep -q '\"dangerously_skip_permissions\":true'"
nm -D --defined-only "$T/dest/opt/atc/lib/libatomcode-telemetry.so" | awk '{print $3}' >"$T/syms"
check "the shared library exports only atc_* symbols" sh -c "! grep -qv '^atc_' '$T/syms'"
