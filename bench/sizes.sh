#!/usr/bin/env bash
# Binary sizes (not a test): iofog-controller, iofog-agent and libiofog.so of the Release build,
# as built (with symbols) and stripped (strip --strip-all on a copy).
# Usage: bench/sizes.sh [--json] [--build DIR]
# Prints a Markdown table, or with --json one flat JSON object on the last line (sizes in KiB).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
json=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --build) build=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
bench_build iofog-controller iofog-agent iofog_shared
lib=$(readlink -f "$build/sdk/libiofog.so")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=()
for pair in "controller:$build/controller/iofog-controller" "agent:$build/agent/iofog-agent" \
            "libiofog:$lib"; do
    name=${pair%%:*}
    file=${pair#*:}
    strip --strip-all -o "$tmp/$name" "$file"
    rows+=("$name $(stat -c %s "$file") $(stat -c %s "$tmp/$name")")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import json, sys
as_json = sys.argv[1] == "1"
labels = {"controller": "iofog-controller", "agent": "iofog-agent", "libiofog": "libiofog.so"}
r = {}
if not as_json:
    print("| binary | unstripped | stripped |")
    print("|---|---|---|")
for line in sys.stdin:
    name, full, stripped = line.split()
    r[name + "SizeKb"] = round(int(full) / 1024, 1)
    r[name + "StrippedSizeKb"] = round(int(stripped) / 1024, 1)
    if not as_json:
        print(f"| {labels[name]} | {int(full) / 1024:.0f} KiB | {int(stripped) / 1024:.0f} KiB |")
if as_json:
    print(json.dumps(r))' "${json:-0}"
