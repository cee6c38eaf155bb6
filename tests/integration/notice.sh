#!/bin/sh
# The first-run notice from the CLI: upstream's exact bytes on stderr the
# first time telemetry can send, never again, never for an opted-out user,
# shown once across fifty concurrent first runs, kept by `clear`, and
# reported by `status`.
. "$(dirname "$0")/lib.sh"

printf '\342\204\271 AtomCode collects anonymous usage telemetry to improve the product.\n  Opt out: `atomcode telemetry disable`  |  Details: https://atomgit.com/atomgit_atomcode/atomcode/blob/main/docs/telemetry.md\n\n' >"$T/expected"
MARK="$ATOMCODE_HOME/.telemetry_notice_shown"


fresh() { # fresh: a new, empty ATOMCODE_HOME
	rm -rf "$ATOMCODE_HOME"
	mkdir -m 700 "$ATOMCODE_HOME"
}

check "status before a first run: not shown, nothing created" \
    sh -c '"$1" status | grep -q "^Notice:    first-run notice not shown yet$" &&
        ! [ -e "$2" ] && "$1" status --json | grep -q "\"shown\":false"' _ "$CLI" "$MARK"

"$CLI" emit open_atomcode >"$T/out1" 2>"$T/err1"
check "first emit prints upstream's notice byte for byte on stderr" \
    cmp -s "$T/err1" "$T/expected"
check "stdout stays clean" test ! -s "$T/out1"
check "the marker is an empty file" sh -c '[ -f "$1" ] && ! [ -s "$1" ]' _ "$MARK"
"$CLI" emit open_atomcode >/dev/null 2>"$T/err2"
check "second emit prints nothing" test ! -s "$T/err2"
check "status says it was shown" \
    sh -c '"$1" status | grep -q "^Notice:    first-run notice shown$" &&
        "$1" status --json | grep -q "\"shown\":true"' _ "$CLI"
"$CLI" clear >/dev/null 2>&1
check "clear keeps the marker" test -f "$MARK"

for v in "ATOMCODE_OFFLINE=1" "ATOMCODE_TELEMETRY=0" "DO_NOT_TRACK=1"; do
	fresh
	env "$v" "$CLI" emit open_atomcode >/dev/null 2>"$T/err"
	check "$v: emit shows no notice and creates no marker" \
	    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
	env "$v" "$CLI" flush >/dev/null 2>"$T/err"
	check "$v: flush shows no notice" \
	    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
done
fresh
"$CLI" --no-telemetry emit open_atomcode >/dev/null 2>"$T/err"
check "--no-telemetry: no notice, no marker" \
    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
printf '[telemetry]\nenabled = false\n' >"$ATOMCODE_HOME/config.toml"
"$CLI" emit open_atomcode >/dev/null 2>"$T/err"
check "config enabled = false: no notice, no marker" \
    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
"$CLI" disable >/dev/null 2>"$T/err"
check "disable shows no notice" \
    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
DO_NOT_TRACK=1 "$CLI" enable >/dev/null 2>"$T/err"
check "enable under DO_NOT_TRACK=1 shows no notice" \
    sh -c '! grep -q "anonymous usage" "$1" && ! [ -e "$2" ]' _ "$T/err" "$MARK"
"$CLI" disable >/dev/null 2>&1
"$CLI" enable >"$T/out" 2>"$T/err"
check "enable turns sending on: notice shown once, after the confirmation" \
    sh -c 'grep -q "^Telemetry enabled.$" "$1" && cmp -s "$2" "$3" && [ -f "$4" ]' \
    _ "$T/out" "$T/err" "$T/expected" "$MARK"
"$CLI" enable >/dev/null 2>"$T/err"
check "enable again: nothing" test ! -s "$T/err"

# Fifty first runs at once (fallback path, no agent): one notice in all.
fresh
i=0
while [ $i -lt 50 ]; do
	"$CLI" emit open_atomcode >/dev/null 2>"$T/race.$i" &
	i=$((i + 1))
done
wait
n=$(cat "$T"/race.* | grep -c "anonymous usage telemetry")
check "50 concurrent first runs: shown exactly once (got $n)" test "$n" = 1
check "50 concurrent first runs: every event stored" \
    sh -c '[ "$("$1" dump --last 100 | wc -l)" = 50 ]' _ "$CLI"
