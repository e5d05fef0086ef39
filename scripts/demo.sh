#!/usr/bin/env bash
# The main job. Today it builds the Controller and the Agent and prints their versions; it grows
# into the full demo (Controller + Agent + a demo application) as those components land.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
esac
echo "==> building (Release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DIOFOG_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target iofog-controller iofog-agent
echo "==> versions"
build/release/controller/iofog-controller version
build/release/agent/iofog-agent version
