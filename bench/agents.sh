#!/usr/bin/env bash
# Simulated-agent benchmark (not a test): for each N, a fresh Controller and N agents that
# provision, hold long-polls of config/changes and report status every 10 s (bench/agent_sim.c);
# reports the change-delivery p50/p99 and the Controller's RSS and CPU. Then requests/s of
# GET /api/v3/agent/config/changes without `wait` for one agent under wrk.
# Usage: bench/agents.sh [--json] [--no-wrk] [--seconds S] [N ...]   (default: 1000 10000; wrk 10 s)
# Prints Markdown, or with --json one flat JSON object on the last line.
# Targets (issue "agent-facing API"): 10,000 agents with p99 change delivery <= 1 s and
# RSS <= 100 MB; >= 10,000 requests/s for config/changes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
json=
wrk=1
seconds=10
counts=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --json) json=1; shift ;;
        --no-wrk) wrk=; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        *) counts+=("$1"); shift ;;
    esac
done
[ ${#counts[@]} -eq 0 ] && counts=(1000 10000)
build=${IOFOG_BENCH_BUILD:-build/release}
bench_build iofog-controller agent-sim
ulimit -n "$(ulimit -Hn)"

start_controller() {
    dir=$(mktemp -d)
    # Per-connection head memory; 4096 is what makes 10,000 held long-polls fit in 100 MB
    # (override with CONNECTION_MEMORY=8192 for the Controller's default).
    echo "{\"connectionMemoryBytes\": ${CONNECTION_MEMORY:-4096}}" > "$dir/controller.json"
    port=$(bench_free_port)
    "$build/controller/iofog-controller" start --foreground --bind 127.0.0.1 --port "$port" \
        --data-dir "$dir" --log-level error &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/v3/status" >/dev/null && break; sleep 0.1; done
    curl -sf -X POST "http://127.0.0.1:$port/api/v3/user/signup" \
        -d '{"firstName":"Bench","lastName":"Agents","email":"bench@example.com","password":"password1"}' >/dev/null
}
stop_controller() { kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }

results=()
[ -n "$json" ] || echo "| agents | change delivery p50 / p99 / max | Controller RSS | Controller CPU | setup |"
[ -n "$json" ] || echo "|---|---|---|---|---|"
for n in "${counts[@]}"; do
    start_controller
    out=$("$build/bench/agent-sim" --port "$port" --admin "$(cat "$dir/admin-token")" \
        --agents "$n" --changes 300 --pid "$pid")
    stop_controller
    results+=("$out")
    [ -n "$json" ] || python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['agents']} | {r['deliveryP50Ms']:.2f} / {r['deliveryP99Ms']:.2f} / {r['deliveryMaxMs']:.2f} ms "
      f"({r['changesMeasured']} changes) | {r['controllerRssMb']:.1f} MB | {r['controllerCpuPercent']:.1f} % "
      f"| {r['setupSeconds']:.0f} s |")
PY
done

rps=
if [ -n "$wrk" ]; then
start_controller
admin=$(cat "$dir/admin-token")
uuid=$(curl -sf -X POST "http://127.0.0.1:$port/api/v3/iofog" -H "Authorization: $admin" \
    -d '{"name":"wrk-node","fogType":1}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
key=$(curl -sf "http://127.0.0.1:$port/api/v3/iofog/$uuid/provisioning-key" -H "Authorization: $admin" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/v3/agent/provision" -d "{\"key\":\"$key\",\"type\":1}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rps=$(wrk -t2 -c64 -d"${seconds}s" -H "Authorization: $token" "http://127.0.0.1:$port/api/v3/agent/config/changes" \
    | awk '/Requests\/sec/ {print $2}')
stop_controller
fi
if [ -n "$json" ]; then
    python3 - "$rps" "${results[@]}" <<'PY'
import json, sys
out = {}
if sys.argv[1]:
    out["changesNoWaitRps"] = float(sys.argv[1])
for text in sys.argv[2:]:
    r = json.loads(text)
    n = r["agents"]
    for key, name in (("deliveryP50Ms", "DeliveryP50Ms"), ("deliveryP99Ms", "DeliveryP99Ms"),
                      ("deliveryMaxMs", "DeliveryMaxMs"), ("controllerRssMb", "RssMb"),
                      ("controllerCpuPercent", "CpuPercent"), ("setupSeconds", "SetupSeconds"),
                      ("changesMeasured", "ChangesMeasured")):
        out[f"agents{n}{name}"] = r[key]
print(json.dumps(out))
PY
    exit 0
fi
echo
[ -z "$rps" ] || echo "GET /api/v3/agent/config/changes (no wait, one agent, wrk -t2 -c64 -d${seconds}s): $rps requests/s"
echo "connectionMemoryBytes ${CONNECTION_MEMORY:-4096}, $(nproc) cores, $(date -u +%Y-%m-%d)"
