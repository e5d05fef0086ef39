#!/usr/bin/env bash
# The cost of HTTPS on the Controller (not a test): requests/s and latency of GET /api/v3/status
# and GET /api/v3/agent/config/changes (an agent token) under wrk with keep-alive, on one
# Controller serving plain HTTP and one serving HTTPS with a certificate from a throw-away CA
# (openssl), in the same run, on loopback.
# Usage: bench/controller_https.sh [--build DIR] [--seconds N] [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

build=${IOFOG_BENCH_BUILD:-build/release}
seconds=10
conns=32
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --connections) conns=$2; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is not installed (scripts/install-deps.sh)" >&2; exit 1; }
bench_build iofog-controller
bin="$build/controller/iofog-controller"
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

(cd "$dir" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj '/CN=bench CA' >/dev/null 2>&1 &&
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
        -subj '/CN=127.0.0.1' >/dev/null 2>&1 &&
    printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
        -days 2 -extfile ext >/dev/null 2>&1)

# start NAME SCHEME [flags...]: a Controller in $dir/NAME; sets url_NAME and token_NAME (agent).
start() {
    local name=$1 scheme=$2 port
    shift 2
    port=$(bench_free_port)
    mkdir -p "$dir/$name"
    "$bin" start --foreground --bind 127.0.0.1 --port "$port" --data-dir "$dir/$name" \
        --log-level error "$@" &
    pids+=($!)
    local url="$scheme://127.0.0.1:$port"
    local c=(curl -sf --cacert "$dir/ca.pem")
    for _ in $(seq 1 100); do "${c[@]}" "$url/api/v3/status" >/dev/null && break; sleep 0.1; done
    local admin
    admin=$(cat "$dir/$name/admin-token")
    api() { "${c[@]}" -X "$1" "$url$2" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}; }
    api POST /api/v3/user/signup \
        '{"firstName":"Bench","lastName":"Mark","email":"bench@example.com","password":"password1"}' >/dev/null
    local node key token
    node=$(api POST /api/v3/iofog '{"name":"bench-node","fogType":1}' | bench_json '["uuid"]')
    key=$(api GET "/api/v3/iofog/$node/provisioning-key" | bench_json '["key"]')
    token=$("${c[@]}" -X POST "$url/api/v3/agent/provision" -H 'Content-Type: application/json' \
        -d "{\"key\":\"$key\",\"type\":1}" | bench_json '["token"]')
    printf -v "url_$name" '%s' "$url"
    printf -v "token_$name" '%s' "$token"
}
start plain http
start tls https --tls-cert "$dir/server.pem" --tls-key "$dir/server.key"

run() { # url token -> "req/s p50 p99"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -H "Authorization: $2" "$1" 2>&1 | awk '
        /Requests\/sec/ {rps=$2}
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
        END {print rps, p50, p99}'
}
echo "| route | HTTP req/s (p50, p99) | HTTPS req/s (p50, p99) | HTTPS / HTTP |"
echo "|---|---|---|---|"
for path in /api/v3/status /api/v3/agent/config/changes; do
    read -r a50 ap50 ap99 <<<"$(run "$url_plain$path" "$token_plain")"
    read -r b50 bp50 bp99 <<<"$(run "$url_tls$path" "$token_tls")"
    ratio=$(python3 -c "print(f'{float($b50)/float($a50):.2f}')")
    echo "| GET $path | $a50 ($ap50, $ap99) | $b50 ($bp50, $bp99) | $ratio |"
done
echo
echo "wrk -t2 -c$conns -d${seconds}s keep-alive on 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%d), $build"
