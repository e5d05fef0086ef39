#!/usr/bin/env bash
# Controller HTTP benchmark (not a test): requests/s and latency of GET /api/v3/status, of
# GET /api/v3/microservices?application=<app> with 100 microservices, and of
# POST /api/v3/microservices (each request a new microservice; once with a plain body, once with a
# body holding a Liquid template), under wrk on loopback, and the server's memory idle and under
# load (RSS, PSS and private dirty from /proc/<pid>).
# Usage: bench/controller_http.sh [--json] [--build DIR] [--seconds N] [--connections N]
# Prints a Markdown table, or with --json one flat JSON object on the last line. Targets (issue "Controller REST API"): idle RSS <= 16 MB,
# >= 30,000 requests/s for /status.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
seconds=10
conns=64
json=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --connections) conns=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
bench_build iofog-controller
bin="$build/controller/iofog-controller"
dir=$(mktemp -d)
port=$(bench_free_port)
"$bin" start --foreground --bind 127.0.0.1 --port "$port" --data-dir "$dir" --log-level error &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$url/api/v3/status" >/dev/null && break; sleep 0.1; done

mem() { # RSS PSS PrivateDirty in MB
    awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_Dirty:/{d=$2} END{printf "%.1f %.1f %.1f\n", r/1024, p/1024, d/1024}' \
        "/proc/$pid/smaps_rollup"
}
sleep 1
read -r idle_rss idle_pss idle_pd <<<"$(mem)"

# Fixture: a user, a node, an application with 100 microservices (through the API, admin credential).
admin=$(cat "$dir/admin-token")
api() { curl -sf -X "$1" "$url$2" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /api/v3/user/signup '{"firstName":"Bench","lastName":"Mark","email":"bench@example.com","password":"password1"}' >/dev/null
api POST /api/v3/iofog '{"name":"bench-node","fogType":1}' >/dev/null
api POST /api/v3/application '{"name":"bench","isActivated":true}' >/dev/null
for i in $(seq 1 100); do
    api POST /api/v3/microservices "{\"name\":\"m$i\",\"application\":\"bench\",\"agentName\":\"bench-node\",\"config\":\"{}\",\"images\":[{\"containerImage\":\"bench/m:$i\",\"fogTypeId\":1}]}" >/dev/null
done
token=$(curl -sf -X POST "$url/api/v3/user/login" -d '{"email":"bench@example.com","password":"password1"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
count=$(curl -sf "$url/api/v3/microservices?application=bench" -H "Authorization: $token" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["microservices"]))')

run() { # path -> "req/s p50 p99"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -H "Authorization: $token" "$url$1" 2>&1 | awk '
        /Requests\/sec/ {rps=$2}
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
        END {print rps, p50, p99}'
}
# POST /api/v3/microservices: every request creates a microservice with a unique name; the
# templated variant renders one env value from the body ({{ self.name | upcase }}).
cat >"$dir/post.lua" <<'LUA'
-- setup runs in the main state and gives each thread a global tid; names are p<tid>-<n>
local counter, threads = 0, 0
local token, template = os.getenv("BENCH_TOKEN"), os.getenv("BENCH_TEMPLATE") == "1"
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
request = function()
    counter = counter + 1
    local env = template and ',"env":[{"key":"N","value":"{{ self.name | upcase }}"}]' or ''
    local body = string.format('{"name":"p%d-%d%s","application":"bench","agentName":"bench-node",'
        .. '"images":[{"containerImage":"bench/p:1","fogTypeId":1}]%s}', tid, counter,
        template and "t" or "", env)
    return wrk.format("POST", "/api/v3/microservices",
        {["Content-Type"] = "application/json", ["Authorization"] = token}, body)
end
LUA
post() { # template(0|1) -> "req/s p50 p99 non2xx"
    BENCH_TOKEN=$token BENCH_TEMPLATE=$1 wrk -t2 -c"$conns" -d"${seconds}s" --latency \
        -s "$dir/post.lua" "$url" 2>&1 | awk '
        /Requests\/sec/ {rps=$2}
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
        /Non-2xx/ {bad=$NF}
        END {print rps, p50, p99, bad + 0}'
}
read -r s_rps s_p50 s_p99 <<<"$(run /api/v3/status)"
(sleep $((seconds / 2)); mem > "$dir/mem-load") &
sampler=$!
read -r m_rps m_p50 m_p99 <<<"$(run "/api/v3/microservices?application=bench")"
wait "$sampler"
read -r load_rss load_pss load_pd <"$dir/mem-load"
read -r p_rps p_p50 p_p99 p_bad <<<"$(post 0)"
read -r t_rps t_p50 t_p99 t_bad <<<"$(post 1)"

if [ -n "$json" ]; then
    python3 - "$s_rps $s_p50 $s_p99 $m_rps $m_p50 $m_p99" \
        "$idle_rss $idle_pss $idle_pd $load_rss $load_pss $load_pd" "$count" \
        "$p_rps $p_p50 $p_p99 $p_bad $t_rps $t_p50 $t_p99 $t_bad" <<'PY'
import json, re, sys
def ms(v):  # wrk latency ("812.00us", "1.20ms", "2.00s") in ms
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", v)
    return round(float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[m.group(2)], 3)
s_rps, s_p50, s_p99, m_rps, m_p50, m_p99 = sys.argv[1].split()
mem = [float(x) for x in sys.argv[2].split()]
print(json.dumps({
    "statusRps": float(s_rps), "statusP50Ms": ms(s_p50), "statusP99Ms": ms(s_p99),
    "msvcListRps": float(m_rps), "msvcListP50Ms": ms(m_p50), "msvcListP99Ms": ms(m_p99),
    "msvcListCount": int(sys.argv[3]),
    "msvcPostRps": float(sys.argv[4].split()[0]), "msvcPostP50Ms": ms(sys.argv[4].split()[1]),
    "msvcPostP99Ms": ms(sys.argv[4].split()[2]), "msvcPostNon2xx": int(sys.argv[4].split()[3]),
    "msvcPostTplRps": float(sys.argv[4].split()[4]), "msvcPostTplP50Ms": ms(sys.argv[4].split()[5]),
    "msvcPostTplP99Ms": ms(sys.argv[4].split()[6]), "msvcPostTplNon2xx": int(sys.argv[4].split()[7]),
    "idleRssMb": mem[0], "idlePssMb": mem[1], "idlePrivateDirtyMb": mem[2],
    "loadRssMb": mem[3], "loadPssMb": mem[4], "loadPrivateDirtyMb": mem[5]}))
PY
    exit 0
fi
echo "| figure | value | target |"
echo "|---|---|---|"
echo "| GET /api/v3/status | $s_rps req/s, p50 $s_p50, p99 $s_p99 | >= 30,000 req/s |"
echo "| GET /api/v3/microservices?application=bench ($count microservices) | $m_rps req/s, p50 $m_p50, p99 $m_p99 | - |"
echo "| POST /api/v3/microservices (plain body) | $p_rps req/s, p50 $p_p50, p99 $p_p99, non-2xx $p_bad | - |"
echo "| POST /api/v3/microservices (one templated env value) | $t_rps req/s, p50 $t_p50, p99 $t_p99, non-2xx $t_bad | - |"
echo "| memory idle (RSS / PSS / private dirty) | $idle_rss / $idle_pss / $idle_pd MB | RSS <= 16 MB |"
echo "| memory under load (RSS / PSS / private dirty) | $load_rss / $load_pss / $load_pd MB | - |"
echo
echo "wrk -t2 -c$conns -d${seconds}s on 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%d)"
