#!/bin/sh
# The agent's call graph between its files, read from the sources: a line
# "a.c b.c" for each file a.c that calls a function b.c defines (and does
# not keep static). Usage: callgraph.sh [-c] [TOP]
#   -c  check instead of print: fail when the graph has a cycle (tsort
#       finds a loop), or when a file calls into main.c, the top of the
#       graph (docs/ARCHITECTURE.md, "One loop pass").
# Comments are dropped first (cc -fpreprocessed), so a comment that names
# a function is no call.
set -u
check=0
[ "${1:-}" = -c ] && { check=1; shift; }
top=${1:-$(dirname "$0")/..}
cd "$top/agent" || exit 2
tmp=$(mktemp -d /tmp/callgraph.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT

for f in *.c; do
	${CC:-cc} -fpreprocessed -dD -E -P "$f" 2>/dev/null |
	    grep -v '^#' >"$tmp/$f" || cp "$f" "$tmp/$f"
done
# Functions each file defines for others: KNF puts the name at column 0
# with its type on the line above, "static" for the file's own.
for f in *.c; do
	awk -v f="$f" '
	/^[a-z_][a-z0-9_]*\(/ && prev !~ /^static/ {
		sub(/\(.*/, ""); print $0, f
	}
	{ prev = $0 }' "$tmp/$f"
done >"$tmp/defs"
# Calls: a defined name followed by "(" in another file.
while read -r name def; do
	for f in *.c; do
		[ "$f" = "$def" ] && continue
		grep -qE "(^|[^A-Za-z0-9_])$name[[:space:]]*\(" "$tmp/$f" &&
		    echo "$f $def"
	done
done <"$tmp/defs" | sort -u >"$tmp/edges"

if [ "$check" = 0 ]; then
	cat "$tmp/edges"
	exit 0
fi
status=0
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loop"; then
	echo "callgraph: the agent's files call each other in a circle:"
	cat "$tmp/loop"
	status=1
fi
up=$(awk '$2 == "main.c"' "$tmp/edges")
if [ -n "$up" ]; then
	echo "callgraph: calls into main.c (the top of the graph):"
	echo "$up"
	status=1
fi
exit "$status"
