#!/usr/bin/env bash
# Simulated-agent benchmark (not a test): for each N, a fresh Controller and N agents that
# provision, hold long-polls of config/changes and report status every 10 s (bench/agent_sim.c);
# reports the change-delivery p50/p99 and the Controller's RSS and CPU. Then requests/s of
# GET /api/v3/agent/config/changes without `wait` for one agent under wrk.
# Usage: bench/agents.sh [N ...]   (default: 1000 10000)
# Targets (issue "agent-facing API"): 10,000 agents with p99 change delivery <= 1 s and
# RSS <= 100 MB; >= 10,000 requests/s for config/changes.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
counts=("${@:-1000 10000}")
[ $# -eq 0 ] && counts=(1000 10000)
build=build/release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DIOFOG_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target iofog-controller agent-sim >/dev/null
ulimit -n "$(ulimit -Hn)"

start_controller() {
    dir=$(mktemp -d)
    # Per-connection head memory; 4096 is what makes 10,000 held long-polls fit in 100 MB
    # (override with CONNECTION_MEMORY=8192 for the Controller's default).
    echo "{\"connectionMemoryBytes\": ${CONNECTION_MEMORY:-4096}}" > "$dir/controller.json"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$build/controller/iofog-controller" start --foreground --bind 127.0.0.1 --port "$port" \
        --data-dir "$dir" --log-level error &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/v3/status" >/dev/null && break; sleep 0.1; done
    curl -sf -X POST "http://127.0.0.1:$port/api/v3/user/signup" \
        -d '{"firstName":"Bench","lastName":"Agents","email":"bench@example.com","password":"password1"}' >/dev/null
}
stop_controller() { kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }

echo "| agents | change delivery p50 / p99 / max | Controller RSS | Controller CPU | setup |"
echo "|---|---|---|---|---|"
for n in "${counts[@]}"; do
    start_controller
    out=$("$build/bench/agent-sim" --port "$port" --admin "$(cat "$dir/admin-token")" \
        --agents "$n" --changes 300 --pid "$pid")
    stop_controller
    python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['agents']} | {r['deliveryP50Ms']:.2f} / {r['deliveryP99Ms']:.2f} / {r['deliveryMaxMs']:.2f} ms "
      f"({r['changesMeasured']} changes) | {r['controllerRssMb']:.1f} MB | {r['controllerCpuPercent']:.1f} % "
      f"| {r['setupSeconds']:.0f} s |")
PY
done

start_controller
admin=$(cat "$dir/admin-token")
uuid=$(curl -sf -X POST "http://127.0.0.1:$port/api/v3/iofog" -H "Authorization: $admin" \
    -d '{"name":"wrk-node","fogType":1}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
key=$(curl -sf "http://127.0.0.1:$port/api/v3/iofog/$uuid/provisioning-key" -H "Authorization: $admin" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
token=$(curl -sf -X POST "http://127.0.0.1:$port/api/v3/agent/provision" -d "{\"key\":\"$key\",\"type\":1}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rps=$(wrk -t2 -c64 -d10s -H "Authorization: $token" "http://127.0.0.1:$port/api/v3/agent/config/changes" \
    | awk '/Requests\/sec/ {print $2}')
stop_controller
echo
echo "GET /api/v3/agent/config/changes (no wait, one agent, wrk -t2 -c64 -d10s): $rps requests/s"
echo "connectionMemoryBytes ${CONNECTION_MEMORY:-4096}, $(nproc) cores, $(date -u +%Y-%m-%d)"
