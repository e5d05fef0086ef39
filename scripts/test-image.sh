#!/usr/bin/env bash
# Builds a tiny local image from the static busybox (/bin/busybox, Debian's busybox-static) with
# `docker import`, so tests get a runnable image without pulling anything.
# Usage: scripts/test-image.sh <name:tag> [cmd...]
#   cmd defaults to a shell loop that sleeps and exits at once on SIGTERM, so stops are quick.
# The image has /bin/busybox and a link for every applet in /bin (sh, sleep, env, cat, ...).
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -ge 1 ] && exit 0 || exit 2
fi
name=$1
shift
# Tests call this in every setup: an image of that name with the same command is reused, so the
# engine does not fill up with untagged copies.
busybox=${IOFOG_BUSYBOX:-/bin/busybox}
# ldd (libc-bin, always present; `file` is not) exits 1 on a static binary, so its output is taken
# whole before it is looked at: in a pipeline, pipefail would turn that exit into a failure.
ldd_out=$(ldd "$busybox" 2>&1 || true)
if [ ! -x "$busybox" ] || ! grep -qE 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
    echo "test-image: $busybox is not a static binary (install busybox-static)" >&2
    exit 1
fi

if [ $# -eq 0 ]; then
    set -- /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'
fi
# CMD as a JSON array; python3 quotes every argument correctly.
cmd_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:], separators=(",", ":")))' "$@")

if [ "$(docker image inspect -f '{{json .Config.Cmd}}' "$name" 2>/dev/null)" = "$cmd_json" ]; then
    echo "test-image: $name exists"
    exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
tar -C "$root" -c . | docker import --change "CMD $cmd_json" --change 'ENV PATH=/bin' - "$name" >/dev/null
echo "test-image: built $name"
