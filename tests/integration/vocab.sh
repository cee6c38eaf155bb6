#!/bin/sh
# The firewall's vocabulary (proto/vocab/, README "Privacy firewall"): the
# checked-in English list holds no capitalised entry (no proper nouns) and no
# possessive, and it is exactly what scripts/vocab-en.sh (`make vocab`) makes
# from Debian's word list (package wamerican) when the installed list is the
# one named in its header (same SHA-256); with another version installed the
# difference is reported, not failed (the checked-in list is what builds).
. "$(dirname "$0")/lib.sh"
V="$TOP/proto/vocab"
D=/usr/share/dict/american-english

check "en.txt has no capitalised entry" \
    sh -c "! grep -v '^#' '$V/en.txt' | grep -q '[A-Z]'"
check "en.txt has no possessive" sh -c "! grep -q \"'s\$\" '$V/en.txt'"
check "en.txt holds more than 60000 words" \
    test "$(grep -vc '^#' "$V/en.txt")" -gt 60000
check "en-names.txt is a subset of en.txt" sh -c \
    "grep -v '^#' '$V/en-names.txt' | sort >'$T/n'; grep -v '^#' '$V/en.txt' | sort >'$T/w'; test -z \"\$(comm -23 '$T/n' '$T/w')\""
if [ ! -r "$D" ]; then
	echo "note: $D is not installed (apt-get install wamerican):" \
	    "not compared with the checked-in list"
	exit 0
fi
want=$(sed -n 's/.*sha256 \([0-9a-f]*\)).*/\1/p' "$V/en.txt" | head -n 1)
have=$(sha256sum "$D" | cut -d' ' -f1)
if [ "$want" != "$have" ]; then
	echo "note: the installed $D (sha256 $have) is not the list" \
	    "proto/vocab/en.txt was made from ($want): run make vocab to update"
	exit 0
fi
mkdir "$T/v"
check "scripts/vocab-en.sh runs" sh "$TOP/scripts/vocab-en.sh" "$D" "$T/v"
check "proto/vocab/en.txt is in sync with $D" cmp "$V/en.txt" "$T/v/en.txt"
check "proto/vocab/en-names.txt is in sync with $D" \
    cmp "$V/en-names.txt" "$T/v/en-names.txt"
