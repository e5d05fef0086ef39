#!/usr/bin/env bash
# Agent benchmark (not a test): a Controller and a provisioned iofog-agent (Release build, set up
# as agent/agent_testutil.h does); the agent's memory (RSS, PSS, private dirty from
# /proc/<pid>/smaps_rollup) with 0 microservices, then the time from POST /api/v3/microservices to
# RUNNING in the Controller for a cached image (a local busybox image, registry 2 = from_cache),
# one creation at a time, and the memory again with those microservices running.
# Usage: bench/agent.sh [--json] [--build DIR] [--count N]   (default N = 10)
# Prints a Markdown table, or with --json one flat JSON object on the last line.
# Targets: agent RSS <= 12 MB (0 microservices) and <= 14 MB (10), private dirty <= 3 MB / 4 MB;
# creation -> RUNNING p50 <= 1 s for a cached image.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
count=10
json=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --build) build=$2; shift 2 ;;
        --count) count=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
bench_build iofog-controller iofog-agent

bash scripts/dockerd.sh start >/dev/null
image="iofog-bench/busy-$$:1"
bash scripts/test-image.sh "$image" >/dev/null
trap 'bench_teardown; docker rmi -f "$image" >/dev/null 2>&1 || true' EXIT
bench_setup

sleep 2 # let the first status report and change poll settle
read -r rss0 pss0 pd0 <<<"$(bench_mem "$BENCH_AGENT_PID")"

# Creation -> RUNNING, one microservice at a time; polling the Controller every 10 ms.
times=$(python3 - "$BENCH_URL" "$BENCH_USER" "$BENCH_NODE" "$image" "$count" <<'PY'
import json, sys, time, urllib.request
url, token, node, image, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")
out = []
for i in range(count):
    t0 = time.monotonic()
    m = call("POST", "/api/v3/microservices",
             {"name": f"busy{i}", "application": "bench", "iofogUuid": node, "registryId": 2,
              "config": "{}", "images": [{"containerImage": image, "fogTypeId": 1}]})
    status = ""
    while time.monotonic() - t0 < 30:
        status = call("GET", "/api/v3/microservices/" + m["uuid"])["status"]["status"]
        if status == "RUNNING":
            break
        time.sleep(0.01)
    if status != "RUNNING":
        sys.exit(f"microservice {i} not RUNNING after 30 s (last {status})")
    out.append((time.monotonic() - t0) * 1000)
print(" ".join(f"{t:.1f}" for t in out))
PY
)
sleep 3 # the agent settles with every container running
running=$(docker ps -q --filter "label=iofog-uuid=$BENCH_NODE" | wc -l)
read -r rss1 pss1 pd1 <<<"$(bench_mem "$BENCH_AGENT_PID")"

python3 - "$json" "$count" "$running" "$rss0 $pss0 $pd0 $rss1 $pss1 $pd1" "$times" <<'PY'
import json, statistics, sys
as_json, count, running = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rss0, pss0, pd0, rss1, pss1, pd1 = map(float, sys.argv[4].split())
t = sorted(float(x) for x in sys.argv[5].split())
def pct(p):
    return t[min(len(t) - 1, max(0, round(p / 100 * len(t) + 0.5) - 1))]
r = {"agentRss0Mb": rss0, "agentPss0Mb": pss0, "agentPrivateDirty0Mb": pd0,
     f"agentRss{count}Mb": rss1, f"agentPss{count}Mb": pss1, f"agentPrivateDirty{count}Mb": pd1,
     "runningContainers": running, "creations": len(t),
     "createToRunningP50Ms": statistics.median(t), "createToRunningP90Ms": pct(90),
     "createToRunningMaxMs": t[-1]}
if as_json:
    print(json.dumps(r))
    sys.exit(0)
print("| figure | value | target |")
print("|---|---|---|")
print(f"| agent memory, 0 microservices (RSS / PSS / private dirty) | {rss0:.1f} / {pss0:.1f} / {pd0:.1f} MB | RSS <= 12 MB, private dirty <= 3 MB |")
print(f"| agent memory, {running} running microservices (RSS / PSS / private dirty) | {rss1:.1f} / {pss1:.1f} / {pd1:.1f} MB | RSS <= 14 MB, private dirty <= 4 MB (10) |")
print(f"| creation -> RUNNING, cached image ({len(t)} creations: p50 / p90 / max) | {r['createToRunningP50Ms']:.0f} / {r['createToRunningP90Ms']:.0f} / {r['createToRunningMaxMs']:.0f} ms | p50 <= 1 s |")
PY
