#!/usr/bin/env bash
# Controller database benchmark (not a test): request throughput and latency of the main REST and
# agent endpoints with the Controller on SQLite and on PostgreSQL (a throw-away local cluster from
# scripts/pgtest.sh), under wrk on loopback. Reads: the node list, an application's 20
# microservices, the agent's config and change flags; writes: the agent's status report (one
# transaction per request).
# Usage: bench/controller_db.sh [--json] [--build DIR] [--seconds N] [--connections N]
# Prints a Markdown table, or with --json one flat JSON object on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
seconds=5
conns=32
json=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --connections) conns=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
bench_build iofog-controller
bin="$build/controller/iofog-controller"

work=$(mktemp -d)
pgdir=/tmp/iofog-bench-pg.$$ # below /tmp: the unprivileged server user must reach it
pid=
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
    scripts/pgtest.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

pgport=$(bench_free_port)
scripts/pgtest.sh start "$pgdir" "$pgport" >&2
psql -q -h 127.0.0.1 -p "$pgport" -U postgres -c 'CREATE DATABASE bench' postgres

cat >"$work/status.lua" <<'EOF'
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"daemonStatus":"RUNNING","cpuUsage":12.5,"memoryUsage":100,"diskUsage":3,' ..
           '"microserviceStatus":"[]","processedMessages":0}'
EOF

run() { # path token [script] -> "req/s p50 p99"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -H "Authorization: $2" ${3:+-s "$3"} \
        "$url$1" 2>&1 | awk '
        /Requests\/sec/ {rps=$2}
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
        END {printf "%.0f %s %s\n", rps, p50, p99}'
}

rows=()
figures=()
for backend in sqlite postgres; do
    dir="$work/$backend"
    mkdir -p "$dir"
    db="$dir/controller.sqlite"
    [ "$backend" = postgres ] && db="postgres://postgres@127.0.0.1:$pgport/bench"
    port=$(bench_free_port)
    "$bin" start --foreground --bind 127.0.0.1 --port "$port" --data-dir "$dir" --db "$db" \
        --log-level error &
    pid=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do curl -sf "$url/api/v3/status" >/dev/null && break; sleep 0.1; done

    # Fixture: a user, a provisioned node, an application with 20 microservices on it.
    admin=$(cat "$dir/admin-token")
    api() { curl -sf -X "$1" "$url$2" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
    json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
    api POST /api/v3/user/signup '{"firstName":"Bench","lastName":"Mark","email":"bench@example.com","password":"password1"}' >/dev/null
    uuid=$(api POST /api/v3/iofog '{"name":"bench-node","fogType":1}' | json '["uuid"]')
    api POST /api/v3/application '{"name":"bench","isActivated":true}' >/dev/null
    for i in $(seq 1 20); do
        api POST /api/v3/microservices "{\"name\":\"m$i\",\"application\":\"bench\",\"agentName\":\"bench-node\",\"config\":\"{}\",\"images\":[{\"containerImage\":\"bench/m:$i\",\"fogTypeId\":1}]}" >/dev/null
    done
    token=$(curl -sf -X POST "$url/api/v3/user/login" -d '{"email":"bench@example.com","password":"password1"}' | json '["accessToken"]')
    key=$(api GET "/api/v3/iofog/$uuid/provisioning-key" | json '["key"]')
    agent=$(curl -sf -X POST "$url/api/v3/agent/provision" -d "{\"key\":\"$key\",\"type\":1}" | json '["token"]')
    curl -sf -X PUT "$url/api/v3/agent/status" -H "Authorization: $agent" -H 'Content-Type: application/json' \
        -d '{"daemonStatus":"RUNNING"}' >/dev/null || { echo "status report refused" >&2; exit 1; }

    for ep in "GET /api/v3/iofog-list|/api/v3/iofog-list|$token||IofogList" \
              "GET /api/v3/microservices?application=bench|/api/v3/microservices?application=bench|$token||MsvcList" \
              "GET /api/v3/agent/config|/api/v3/agent/config|$agent||AgentConfig" \
              "GET /api/v3/agent/config/changes|/api/v3/agent/config/changes|$agent||AgentChanges" \
              "PUT /api/v3/agent/status (write)|/api/v3/agent/status|$agent|$work/status.lua|AgentStatusPut"; do
        IFS='|' read -r name path tok script key <<<"$ep"
        read -r rps p50 p99 <<<"$(run "$path" "$tok" "$script")"
        rows+=("| $name | $backend | $rps | $p50 | $p99 |")
        figures+=("$backend$key $rps $p50 $p99")
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
done

if [ -n "$json" ]; then
    printf '%s\n' "${figures[@]}" | python3 -c '
import json, re, sys
def ms(v):  # wrk latency ("812.00us", "1.20ms", "2.00s") in ms
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", v)
    return round(float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[m.group(2)], 3)
r = {}
for line in sys.stdin:
    key, rps, p50, p99 = line.split()
    r[key + "Rps"] = float(rps)
    r[key + "P50Ms"] = ms(p50)
    r[key + "P99Ms"] = ms(p99)
print(json.dumps(r))'
    exit 0
fi
echo "| endpoint | back end | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}" | sort -t'|' -k2,2 -s
echo
echo "wrk -t2 -c$conns -d${seconds}s on 127.0.0.1, $(nproc) cores, PostgreSQL $(psql -V | awk '{print $3}')" \
     "(fsync off) on the same machine, $(date -u +%Y-%m-%d)"
