#!/usr/bin/env bash
# `cmake --install` of a build, into a DESTDIR: iofog-controller and iofog-agent land in
# <prefix>/bin (and nothing else does) and run from there; the SDK lands as before (shared and
# static library, header, pkg-config file) and a program builds against it with pkg-config alone.
# Usage: e2e/install_test.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: install_test.sh BUILD_DIR}
prefix=/usr/local
dest=$(mktemp -d "${TMPDIR:-/tmp}/iofog-install-test.XXXXXX")
trap 'rm -rf "$dest"' EXIT

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

DESTDIR="$dest" cmake --install "$build" --prefix "$prefix" >"$dest/install.log" 2>&1 ||
    { cat "$dest/install.log" >&2; fail "cmake --install failed"; }
root="$dest$prefix"

# The two commands, runnable from where they were installed.
for cmd in iofog-controller iofog-agent; do
    [ -x "$root/bin/$cmd" ] || fail "$prefix/bin/$cmd was not installed"
done
"$root/bin/iofog-controller" version | grep -Eq '^Controller version: [0-9]+\.[0-9]+\.[0-9]+' ||
    fail "installed iofog-controller does not run"
"$root/bin/iofog-agent" version | grep -Eq '^Agent version: [0-9]+\.[0-9]+\.[0-9]+' ||
    fail "installed iofog-agent does not run"
extra=$(cd "$root/bin" && ls | grep -Exv 'iofog-controller|iofog-agent' || true)
[ -z "$extra" ] || fail "unexpected programs in $prefix/bin: $extra"

# The SDK, as before.
[ -f "$root/include/iofog/iofog.h" ] || fail "iofog/iofog.h was not installed"
pc=$(find "$root" -name iofog.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "iofog.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libiofog.so* >/dev/null 2>&1 || fail "libiofog.so was not installed in $libdir"
[ -f "$libdir/libiofog.a" ] || fail "libiofog.a was not installed in $libdir"
cat >"$dest/use.c" <<'EOF'
#include <iofog/iofog.h>
#include <stdio.h>
int main(void) { return puts(iofog_version_string()) < 0; }
EOF
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs iofog) ||
    fail "pkg-config does not find the installed iofog.pc"
# shellcheck disable=SC2086
cc "$dest/use.c" -o "$dest/use" $flags >"$dest/cc.log" 2>&1 ||
    { cat "$dest/cc.log" >&2; fail "a program does not build against the installed SDK"; }
LD_LIBRARY_PATH="$libdir" "$dest/use" >/dev/null || fail "a program built on the SDK does not run"

echo "install_test: bin/iofog-controller, bin/iofog-agent and the SDK installed under DESTDIR"
