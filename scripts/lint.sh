#!/bin/sh
# Banned functions (STYLE.md): fail if any appears in our C sources.
set -u
cd "$(dirname "$0")/.."
bad=$(grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' \
    agent/*.c client/*.c proto/*.c 2>/dev/null | grep -v snprintf | grep -v vsnprintf)
if [ -n "$bad" ]; then
	echo "lint: banned functions:"
	echo "$bad"
	exit 1
fi
echo "lint: ok"
