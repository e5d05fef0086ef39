#!/usr/bin/env bash
# The packaging test: builds the .deb files from the build's binaries with scripts/package.sh into
# <build-dir>/packages, runs lintian on each (fails on any error, E:) and systemd-analyze verify on
# both units (fails on any message naming a unit file). Prints the package sizes.
# Usage: packaging/check.sh <build-dir>
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: packaging/check.sh <build-dir>}
out=$build/packages

bash scripts/package.sh --build-dir "$build" --no-build --out "$out"
n=$(find "$out" -maxdepth 1 -name '*.deb' | wc -l)
[ "$n" -eq 4 ] || { echo "FAIL: expected 4 packages, got $n"; exit 1; }

status=0
if ! command -v lintian >/dev/null; then
    echo "FAIL: lintian is not installed (scripts/install-deps.sh installs it)"
    exit 1
fi
for deb in "$out"/*.deb; do
    # lintian exits non-zero on errors (and, with some profiles, on warnings); the E: lines decide.
    report=$(lintian --no-cfg --allow-root "$deb" 2>&1 || true)
    [ -n "$report" ] && printf '%s\n' "$report" | sed "s|^|  |"
    if printf '%s\n' "$report" | grep -q '^E: '; then
        echo "FAIL: lintian errors in $(basename "$deb")"
        status=1
    else
        echo "lintian: $(basename "$deb"): no errors ($(printf '%s\n' "$report" | grep -c '^W: ' || true) warnings)"
    fi
done

# systemd-analyze verify loads the units as they will be installed: ExecStart and ExecStartPost
# binaries must exist, so the staged tree is searched through a root with the packaged files.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
for deb in "$out"/iofog-controller_*.deb "$out"/iofog-agent_*.deb; do
    dpkg-deb -x "$deb" "$root"
done
units=("$root/lib/systemd/system/iofog-controller.service" "$root/lib/systemd/system/iofog-agent.service")
# Verify copies whose Exec paths point into the unpacked root (the binaries are not on this
# machine's /usr/bin); everything else is the packaged text.
vdir=$root/verify
mkdir -p "$vdir"
for u in "${units[@]}"; do
    sed "s|/usr/bin/iofog-|$root/usr/bin/iofog-|g" "$u" >"$vdir/$(basename "$u")"
done
if ! command -v systemd-analyze >/dev/null; then
    echo "FAIL: systemd-analyze is not installed"
    exit 1
fi
verify=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$vdir"/*.service 2>&1 || true)
# Messages about other units (docker.service not installed here, the host's own units) are not
# ours; any line naming one of our unit files is a failure.
ours=$(printf '%s\n' "$verify" | grep -E 'iofog-(controller|agent)\.service' || true)
if [ -n "$ours" ]; then
    printf '%s\n' "$ours"
    echo "FAIL: systemd-analyze verify reports problems in our units"
    status=1
else
    echo "systemd-analyze verify: both units clean"
    [ -n "$verify" ] && printf '%s\n' "$verify" | sed 's|^|  (other units) |'
fi

for deb in "$out"/*.deb; do
    printf 'size %-44s %7d bytes, installed %s KiB\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
        "$(dpkg-deb -f "$deb" Installed-Size)"
done
exit $status
