#!/bin/sh
# scripts/cargo.sh BUILD ARGS... — run cargo on bindings/rust against the
# uninstalled library in BUILD: pkg-config finds it through an
# atomcode-telemetry.pc written to BUILD/pkgconfig (libdir BUILD, headers
# from include/), the target directory is BUILD/rust, nothing is fetched.
# Used by tests/integration/rust.sh (`cargo test`) and `make bench`.
set -u
BUILD=${1:?usage: cargo.sh BUILD cargo-args...}
shift
TOP=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
mkdir -p "$BUILD/pkgconfig"
cat >"$BUILD/pkgconfig/atomcode-telemetry.pc" <<PC
libdir=$BUILD
includedir=$TOP/include

Name: atomcode-telemetry
Description: AtomCode telemetry client shim (uninstalled, $BUILD)
Version: 0.1.0
Requires.private: jansson uuid
Libs: -L\${libdir} -latomcode-telemetry
Cflags: -I\${includedir}
PC
cd "$TOP/bindings/rust" || exit 1
sub=${1:?cargo subcommand}
shift
PKG_CONFIG_PATH="$BUILD/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
CARGO_TARGET_DIR="$BUILD/rust" exec cargo "$sub" --offline "$@"
