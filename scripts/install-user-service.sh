#!/bin/sh
# Install and enable the per-user service: systemd user units on Linux, the
# LaunchAgent on macOS. Usage: install-user-service.sh BINDIR
set -eu
bindir=${1:-/usr/local/bin}
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$bindir/atomcode-telemetryd" ] || {
	echo "install-user-service: $bindir/atomcode-telemetryd not found (run make install first)" >&2
	exit 1
}
# A value as the replacement of a sed s|||: \, | and & escaped.
sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}
# ... and as XML text first (a home named "a&b" must not break the plist).
xml_escape() {
	printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' \
	    -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}
mkdir -p -m 700 "$HOME/.atomcode"
case "$(uname -s)" in
Darwin)
	dst="$HOME/Library/LaunchAgents/com.atomgit.atomcode.telemetryd.plist"
	mkdir -p "$HOME/Library/LaunchAgents"
	mkdir -p -m 700 "$HOME/.atomcode/telemetry"
	# launchd wants absolute paths (it expands no ~ or $HOME) and
	# refuses a plist that group or others can write.
	sed -e "s|@BINDIR@|$(sed_escape "$(xml_escape "$bindir")")|g" \
	    -e "s|@HOME@|$(sed_escape "$(xml_escape "$HOME")")|g" \
	    "$top/launchd/com.atomgit.atomcode.telemetryd.plist" >"$dst"
	chmod 644 "$dst"
	launchctl bootout "gui/$(id -u)/com.atomgit.atomcode.telemetryd" 2>/dev/null || true
	launchctl bootstrap "gui/$(id -u)" "$dst"
	echo "installed $dst"
	;;
*)
	dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
	mkdir -p "$dir"
	sed -e "s|@BINDIR@|$(sed_escape "$bindir")|g" \
	    "$top/systemd/atomcode-telemetryd.service" \
	    >"$dir/atomcode-telemetryd.service"
	cp "$top/systemd/atomcode-telemetryd.socket" "$dir/"
	systemctl --user daemon-reload
	systemctl --user enable --now atomcode-telemetryd.socket
	echo "installed and enabled $dir/atomcode-telemetryd.socket"
	;;
esac
