#!/usr/bin/env bash
# Runs every libFuzzer target found in a fuzz build for a bounded time, each starting from its
# committed seed corpus (<module>/fuzz-corpus/<stem>/, copied so the committed one is not changed).
# Usage: scripts/fuzz.sh <fuzz-build-dir> [seconds-per-target]
# A crash leaves its input in <fuzz-build-dir>/artifacts/ and makes the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/fuzz.sh <fuzz-build-dir> [seconds]}
seconds=${2:-30}
mkdir -p "$build/artifacts"
found=0
failed=0
while IFS= read -r target; do
    name=$(basename "$target")             # fuzz_<module>_<stem>
    module=$(basename "$(dirname "$target")")
    stem=${name#fuzz_"$module"_}
    seeds="$module/fuzz-corpus/$stem"
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
    found=$((found + 1))
    if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$build/artifacts/$name-" "$work" >"$build/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(grep -Eo 'Done [0-9]+ runs' "$build/$name.log" | tail -1))"
    else
        echo "fuzz: $name FAILED; last lines of $build/$name.log:"
        tail -n 30 "$build/$name.log"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done < <(find "$build" -type f -name 'fuzz_*' -perm -u+x | sort)
echo "fuzz: $found targets, $failed failed"
[ "$found" -gt 0 ] && [ "$failed" -eq 0 ]
