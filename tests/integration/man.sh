#!/bin/sh
# The manual pages: atomcode-telemetry(1), libatomcode-telemetry(3),
# atomcode-telemetry-events(7), atomcode-telemetryd(8) render with groff
# without a warning, refer to each other by the sections they exist in,
# install under MANDIR and are gone after `make uninstall`.
. "$(dirname "$0")/lib.sh"
PAGES="atomcode-telemetry.1 libatomcode-telemetry.3 atomcode-telemetry-events.7 atomcode-telemetryd.8"

for m in $PAGES; do
	check "man/$m exists" test -f "$TOP/man/$m"
	groff -mandoc -Tutf8 -ww -z "$TOP/man/$m" >"$T/w" 2>&1
	check "$m renders with groff -ww without a warning ($(head -c 200 "$T/w"))" \
	    sh -c "[ $? = 0 ] && ! [ -s '$T/w' ]"
	MANWIDTH=80 man -l "$TOP/man/$m" >"$T/out" 2>"$T/err"
	check "$m renders with man -l, nothing on stderr" \
	    sh -c "[ -s '$T/out' ] && ! [ -s '$T/err' ]"
	check "$m: no stray quote around a placeholder ($(grep -o '"[^"]*for none[^"]*' "$T/out"))" \
	    sh -c "! grep -q '\"{} for none' '$T/out'"
done
# Every page that SEE ALSO / Xr names exists, in that section.
for m in $PAGES; do
	sed -n 's/^\.Xr \([a-z-]*\) \([0-9]\).*/\1.\2/p' "$TOP/man/$m" | sort -u |
	while read -r ref; do
		case "$ref" in
		atomcode*|libatomcode*)
			check "$m refers to $ref, which exists" test -f "$TOP/man/$ref" ;;
		esac
	done
done

make -s -C "$TOP" BUILD="$BUILD" PREFIX=/opt/atc DESTDIR="$T/dest" install >"$T/install.out" 2>&1
check "make install succeeds" test $? = 0
for m in $PAGES; do
	s=${m##*.}
	check "installed share/man/man$s/$m" test -f "$T/dest/opt/atc/share/man/man$s/$m"
done
check "man finds the installed (8) page" \
    sh -c "MANPATH='$T/dest/opt/atc/share/man' MANWIDTH=80 man 8 atomcode-telemetryd 2>/dev/null | grep -q 'per-user AtomCode telemetry agent'"
make -s -C "$TOP" BUILD="$BUILD" PREFIX=/opt/atc DESTDIR="$T/dest" uninstall >"$T/uninstall.out" 2>&1
check "make uninstall succeeds" test $? = 0
left=$(find "$T/dest" -type f | sed "s|$T/dest||")
check "make uninstall leaves no file behind ($left)" test -z "$left"
