#!/usr/bin/env bash
# Config update -> SDK callback benchmark (not a test): a Controller and a provisioned iofog-agent
# (Release build, set up as agent/agent_testutil.h does) with one microservice (a local busybox
# image, registry 2); bench/sdk_config.c connects to the agent's Local API with the SDK as that
# microservice and changes its configuration CHANGES times through PATCH /api/v3/microservices/<uuid>,
# one at a time, timing each PATCH -> on_config callback.
# Usage: bench/sdk_config.sh [--json] [--build DIR] [--changes N]   (default N = 100)
# Prints a Markdown table, or with --json one flat JSON object on the last line.
# Target (issue 7): the SDK learns of a configuration change within 100 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
changes=100
json=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --build) build=$2; shift 2 ;;
        --changes) changes=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
bench_build iofog-controller iofog-agent sdk-config

bash scripts/dockerd.sh start >/dev/null
image="iofog-bench/cfg-$$:1"
bash scripts/test-image.sh "$image" >/dev/null
trap 'bench_teardown; docker rmi -f "$image" >/dev/null 2>&1 || true' EXIT
bench_setup

uuid=$(bench_api POST /api/v3/microservices "{\"name\":\"cfg\",\"application\":\"bench\",\"iofogUuid\":\"$BENCH_NODE\",\"registryId\":2,\"config\":\"{}\",\"images\":[{\"containerImage\":\"$image\",\"fogTypeId\":1}]}" \
    | bench_json '["uuid"]')
out=$(IOFOG_LOG_LEVEL=error "$build/bench/sdk-config" --controller "$BENCH_URL" --token "$BENCH_USER" \
    --uuid "$uuid" --port "$BENCH_LOCAL_PORT" --changes "$changes")
if [ -n "$json" ]; then
    echo "$out"
    exit 0
fi
python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("| figure | value | target |")
print("|---|---|---|")
print(f"| config update -> SDK on_config ({r['changes']} changes: p50 / p99 / max) "
      f"| {r['configToCallbackP50Ms']:.1f} / {r['configToCallbackP99Ms']:.1f} / {r['configToCallbackMaxMs']:.1f} ms "
      f"| within 100 ms |")
PY
