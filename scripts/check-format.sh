#!/usr/bin/env bash
# Fails when a tracked C file differs from what clang-format (the repo's .clang-format) makes of it.
# Usage: scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format not installed: format check skipped"
    exit 0
fi
mapfile -t files < <(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || exit 0
if [ "${1:-}" = "--fix" ]; then
    clang-format -i "${files[@]}"
    exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/iofog-format.log; then
    head -n 40 /tmp/iofog-format.log
    echo "format: differences found; run scripts/check-format.sh --fix"
    exit 1
fi
echo "format: ${#files[@]} files clean"
