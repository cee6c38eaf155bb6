#!/bin/sh
# Install the build dependencies if any is missing (Debian/Ubuntu), else say
# exactly what to run. Used by `make deps`, `make check` and `make run`
# (DEPS_MODE=install) and by a plain `make` (DEPS_MODE=check: never
# installs, only says what is missing).
set -u
PKGS_PC="libevent jansson inih libcurl uuid zlib libdeflate"
DEBS="libevent-dev libcurl4-openssl-dev libjansson-dev libinih-dev uuid-dev zlib1g-dev libdeflate-dev libcmocka-dev pkg-config wamerican"
[ "${1:-}" = "--check-tools" ] && DEBS="$DEBS ${EXTRA_DEBS:-}"

missing=0
if ! command -v pkg-config >/dev/null 2>&1; then
	missing=1
else
	for p in $PKGS_PC cmocka; do
		pkg-config --exists "$p" || { missing=1; break; }
	done
fi
for t in ${EXTRA_TOOLS:-}; do
	command -v "$t" >/dev/null 2>&1 || missing=1
done
# EXTRA_CHECK: a shell command that fails while something is missing.
if [ -n "${EXTRA_CHECK:-}" ] && ! sh -c "$EXTRA_CHECK" >/dev/null 2>&1; then
	missing=1
fi
[ "$missing" = 0 ] && exit 0

cmd="apt-get install -y $DEBS"
# DEPS_MODE=check (a plain `make`): say what is missing, install nothing.
if [ "${DEPS_MODE:-install}" = check ]; then
	echo "deps: missing build dependencies; \`make deps\` installs them" \
	    "(it runs: apt-get update && $cmd)" >&2
	exit 1
fi
# EXTRA_REFUSE: installed packages the extra ones would remove (apt
# conflicts); then only say what to run.
for p in ${EXTRA_REFUSE:-}; do
	if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'
	then
		echo "deps: not installing ${EXTRA_DEBS:-} by itself: it would" \
		    "remove $p; if that is fine, run: $cmd" >&2
		exit 1
	fi
done
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing build dependencies and no apt-get here." >&2
	echo "deps: install: libevent, libcurl, jansson, inih, libuuid, zlib, libdeflate, cmocka, pkg-config" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo"
	else
		echo "deps: missing build dependencies; run as root:" >&2
		echo "  apt-get update && $cmd" >&2
		exit 1
	fi
fi
echo "deps: installing: $cmd" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2 || true
$sudo $cmd >&2 || {
	echo "deps: failed; run by hand: apt-get update && $cmd" >&2
	exit 1
}
