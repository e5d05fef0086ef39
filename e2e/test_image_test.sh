#!/usr/bin/env bash
# scripts/test-image.sh on a machine without `file` (a minimal Debian has none): a `file` that fails
# is put first on PATH; the static busybox must still be accepted and its image built and runnable,
# and a dynamic binary (/bin/ls) must still be refused with the busybox-static hint.
set -euo pipefail
cd "$(dirname "$0")/.."
shim=$(mktemp -d /tmp/iofog-e2e-noFile.XXXXXX)
name=iofog-e2e-test-image:$$
cleanup() { docker rmi -f "$name" >/dev/null 2>&1 || true; rm -rf "$shim"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
printf '#!/bin/sh\necho "file: not installed" >&2\nexit 127\n' >"$shim/file"
chmod +x "$shim/file"
export PATH="$shim:$PATH"

out=$(bash scripts/test-image.sh "$name" /bin/echo static-ok 2>&1) || fail "static busybox refused: $out"
echo "$out"
ran=$(docker run --rm "$name")
[ "$ran" = static-ok ] || fail "image ran and printed '$ran', not static-ok"
echo "image runs: $ran"

if out=$(IOFOG_BUSYBOX=/bin/ls bash scripts/test-image.sh "$name-dyn" 2>&1); then
    fail "dynamic /bin/ls accepted: $out"
fi
grep -q 'is not a static binary (install busybox-static)' <<<"$out" || fail "no hint for /bin/ls: $out"
echo "dynamic binary refused: $out"
