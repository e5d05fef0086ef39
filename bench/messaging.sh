#!/usr/bin/env bash
# Messaging benchmark (not a test): ioMessages between microservices on one node (the Agent's
# in-memory bus) and across nodes (two Agents and a nats-server), measured in the same run as the
# raw baselines: a loopback WebSocket ping/pong on the Agent's Local API and raw libnats pub/sub.
#
# Setup (all on 127.0.0.1, removed afterwards): a nats-server (scripts/nats.sh), a Controller
# started with --nats-url, two Agents (own config dirs and Local API ports) provisioned to two
# nodes, one application with publisher "pub-on" -> "recv-on" on node A and "pub-x" (node A) ->
# "recv-x" (node B), images from the local busybox test image (scripts/test-image.sh, needs the
# dockerd of scripts/dockerd.sh). bench/msg_bench.c plays publisher and receiver on the Local API
# message sockets: latency publish -> receive at RATE messages/s for SECONDS, then a burst of BURST
# messages (throughput). bench/nats_latency.c gives the raw libnats and transport figures.
#
# Usage: bench/messaging.sh [--json] [--rate N] [--seconds N] [--burst N] [--size BYTES]
#        (defaults 1000 messages/s, 10 s, 20000, 64 bytes of content)
# Prints a Markdown table; with --json also one flat JSON object of named figures as the last line.
# Target (issue 9): cross-node p99 <= 5 ms at 1,000 messages/s on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

json=0
rate=1000
seconds=10
burst=20000
size=64
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --rate) rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --burst) burst=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

build=${IOFOG_BENCH_BUILD:-build/release}
bench_build iofog-controller iofog-agent nats-latency msg-bench
ctl_bin=$PWD/$build/controller/iofog-controller
agent_bin=$PWD/$build/agent/iofog-agent
image=iofog-bench/busy:1

bash scripts/dockerd.sh start >/dev/null
docker image inspect "$image" >/dev/null 2>&1 || bash scripts/test-image.sh "$image" >/dev/null

jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

work=$(mktemp -d)
pids=()
agent_dirs=()
cleanup() {
    for d in "${agent_dirs[@]}"; do
        "$agent_bin" stop --config-dir "$d" >/dev/null 2>&1 || true # removes its containers
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    [ -n "${nport:-}" ] && IOFOG_NATS_DIR=$work/nats scripts/nats.sh stop "$nport" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# nats-server and Controller
nport=$(bench_free_port)
IOFOG_NATS_DIR=$work/nats scripts/nats.sh start "$nport" >/dev/null
cport=$(bench_free_port)
mkdir -p "$work/ctl"
"$ctl_bin" start --foreground --bind 127.0.0.1 --port "$cport" --data-dir "$work/ctl" \
    --nats-url "nats://127.0.0.1:$nport" --log-level error 2>>"$work/ctl.log" &
pids+=($!)
api=http://127.0.0.1:$cport/api/v3
for _ in $(seq 1 100); do curl -sf "$api/status" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$api/user/signup" -H 'Content-Type: application/json' \
    -d '{"firstName":"Bench","lastName":"Messaging","email":"bench@example.com","password":"password1"}' \
    >/dev/null
token=$(curl -sf -X POST "$api/user/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"password1"}' | jget accessToken)
call() { # method path [body]
    curl -sf -X "$1" "$api$2" -H "Authorization: $token" -H 'Content-Type: application/json' \
        ${3:+-d "$3"}
}

# Two agents provisioned to two nodes
start_agent() { # name -> sets lport (its Local API port) and node (its node uuid)
    local name=$1 dir=$work/agent-$1 key
    lport=$(bench_free_port)
    node=$(call POST /iofog "{\"name\":\"$name\",\"fogType\":1}" | jget uuid)
    mkdir -p "$dir"
    "$agent_bin" config -a "$api/" -dl "$dir/data" -ld "$dir/log" -lp "$lport" -sf 2 \
        --config-dir "$dir" >/dev/null
    IOFOG_LOG_LEVEL=warn "$agent_bin" start --foreground --config-dir "$dir" 2>>"$dir.log" &
    pids+=($!)
    agent_dirs+=("$dir")
    for _ in $(seq 1 100); do "$agent_bin" status --config-dir "$dir" >/dev/null 2>&1 && break; sleep 0.1; done
    key=$(call GET "/iofog/$node/provisioning-key" | jget key)
    "$agent_bin" provision "$key" --config-dir "$dir" >/dev/null
}
start_agent bench-a
aport=$lport anode=$node
start_agent bench-b
bport=$lport bnode=$node

call POST /application '{"name":"msgbench","isActivated":true}' >/dev/null
msvc() { # name node -> uuid
    call POST /microservices "{\"name\":\"$1\",\"application\":\"msgbench\",\"iofogUuid\":\"$2\",\
\"registryId\":2,\"images\":[{\"containerImage\":\"$image\",\"fogTypeId\":1}]}" | jget uuid
}
pub_on=$(msvc pub-on "$anode")
recv_on=$(msvc recv-on "$anode")
pub_x=$(msvc pub-x "$anode")
recv_x=$(msvc recv-x "$bnode")
call POST /routes '{"name":"on","application":"msgbench","from":"pub-on","to":"recv-on"}' >/dev/null
call POST /routes '{"name":"x","application":"msgbench","from":"pub-x","to":"recv-x"}' >/dev/null

known() { # port uuid: the agent serves the microservice's config
    for _ in $(seq 1 200); do
        curl -sf -X POST "http://127.0.0.1:$1/v2/config/get" -H 'Content-Type: application/json' \
            -d "{\"id\":\"$2\"}" >/dev/null && return 0
        sleep 0.1
    done
    echo "agent on port $1 never learnt $2" >&2
    return 1
}
known "$aport" "$pub_x"
known "$bport" "$recv_x"
for d in "${agent_dirs[@]}"; do
    for _ in $(seq 1 100); do
        "$agent_bin" status --config-dir "$d" 2>/dev/null | grep -q ': connected,' && break
        sleep 0.1
    done
done

bench=$PWD/$build/bench/msg-bench
on=$("$bench" --mode bus --pub-port "$aport" --pub-id "$pub_on" --recv-port "$aport" \
    --recv-id "$recv_on" --rate "$rate" --seconds "$seconds" --burst "$burst" --size "$size")
x=$("$bench" --mode bus --pub-port "$aport" --pub-id "$pub_x" --recv-port "$bport" \
    --recv-id "$recv_x" --rate "$rate" --seconds "$seconds" --burst "$burst" --size "$size")
echo_=$("$bench" --mode echo --recv-port "$aport" --recv-id "$recv_on" --rate "$rate" \
    --seconds "$seconds")
nats=$(IOFOG_LOG_LEVEL=error "$build/bench/nats-latency" --url "nats://127.0.0.1:$nport" \
    --rate "$rate" --seconds "$seconds" --burst 100000 --size "$size")
xstat=$("$agent_bin" status --config-dir "${agent_dirs[0]}" | grep messaging-across-nodes || true)

python3 - "$json" "$on" "$x" "$echo_" "$nats" "$xstat" "$(nproc)" <<'PY'
import json, sys
as_json = sys.argv[1] == "1"
on, x, echo, nats = (json.loads(a) for a in sys.argv[2:6])
xstat, cores = sys.argv[6], sys.argv[7]
tp, rp = nats["transportPaced"], nats["rawPaced"]
tb, rb = nats["transportBurst"], nats["rawBurst"]
rate, secs = on["rate"], on["seconds"]
print(f"Paced at {rate} messages/s for {secs:.0f} s, {on['size']}-byte content, loopback, {cores} cores.")
print()
print("| path | paced: received | p50 | p99 | max | burst: msgs/s (received/sent) | burst p99 |")
print("|---|---|---|---|---|---|---|")
def row(label, p, b=None):
    burst = f"{b['msgsPerSec']:.0f} ({b['received']}/{b['sent']}) | {b['p99Ms']:.1f} ms" if b else "- | -"
    print(f"| {label} | {p['received']}/{p['sent']} | {p['p50Ms']:.3f} ms | {p['p99Ms']:.3f} ms "
          f"| {p['maxMs']:.3f} ms | {burst} |")
row("on-node: Local API socket -> bus -> socket (one Agent)", on,
    {"msgsPerSec": on["burstMsgsPerSec"], "received": on["burstReceived"], "sent": on["burstSent"], "p99Ms": on["burstP99Ms"]})
row("cross-node: socket -> Agent A -> NATS -> Agent B -> socket", x,
    {"msgsPerSec": x["burstMsgsPerSec"], "received": x["burstReceived"], "sent": x["burstSent"], "p99Ms": x["burstP99Ms"]})
row("baseline: WebSocket ping/pong round trip (Agent Local API)", echo)
row("baseline: agent NATS transport alone (in-process)", tp, tb)
row("baseline: raw libnats pub/sub", rp, rb)
print()
print(f"Agent A after the run: {xstat.strip()}")
print(f"Target: cross-node p99 <= 5 ms -> {'met' if x['p99Ms'] <= 5 else 'NOT met'} ({x['p99Ms']:.3f} ms)")
if as_json:
    print(json.dumps({
        "rateMsgsPerSec": rate,
        "onNodeP50Ms": on["p50Ms"], "onNodeP99Ms": on["p99Ms"], "onNodeMaxMs": on["maxMs"],
        "onNodeReceived": on["received"], "onNodeSent": on["sent"],
        "onNodeMsgsPerSec": on["burstMsgsPerSec"],
        "crossNodeP50Ms": x["p50Ms"], "crossNodeP99Ms": x["p99Ms"], "crossNodeMaxMs": x["maxMs"],
        "crossNodeReceived": x["received"], "crossNodeSent": x["sent"],
        "crossNodeMsgsPerSec": x["burstMsgsPerSec"],
        "wsEchoP50Ms": echo["p50Ms"], "wsEchoP99Ms": echo["p99Ms"],
        "natsTransportP50Ms": tp["p50Ms"], "natsTransportP99Ms": tp["p99Ms"],
        "natsTransportMsgsPerSec": tb["msgsPerSec"],
        "natsRawP50Ms": rp["p50Ms"], "natsRawP99Ms": rp["p99Ms"], "natsRawMsgsPerSec": rb["msgsPerSec"],
    }))
PY
