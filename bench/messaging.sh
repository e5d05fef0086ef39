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
# The on-node bus shapes (issue 21), each next to the same shape through bench/ws_relay.c (a
# WebSocket relay on the Agent's own HTTP server and hub that does nothing but forward, and answers
# each message with a receipt-sized frame), driven by bench/bus_bench.c: 1->1 with receipts at 256 B
# and 16 KiB, 1->10 fan-out (deliveries/s), 10->1, and paced latency at 1,000 and 10,000
# messages/s (256 B); the ratio agent/raw is printed for each, with Agent A's peak RSS and CPU
# during each (and the relay's).
#
# Usage: bench/messaging.sh [--json] [--rate N] [--seconds N] [--burst N] [--size BYTES]
#                           [--bus-count N]
#        (defaults 1000 messages/s, 10 s, 20000, 64 bytes of content; 200,000 messages per
#        1->1 burst, a tenth of that per publisher in the fan-out and 10->1 runs)
# Prints a Markdown table; with --json also one flat JSON object of named figures as the last line.
# Targets: cross-node p99 <= 5 ms at 1,000 messages/s on loopback (issue 9); on-node 1->1 256 B
# >= 150,000 msgs/s and >= 0.5 x raw, fan-out >= 300,000 deliveries/s, paced 10,000/s p99 <= 1 ms
# and max <= 5 ms, paced 1,000/s p99 <= 3 x the WebSocket echo p99, Agent RSS <= 24 MB (issue 21).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

json=0
rate=1000
seconds=10
burst=20000
size=64
bus_count=200000
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=1; shift ;;
        --rate) rate=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --burst) burst=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --bus-count) bus_count=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

build=${IOFOG_BENCH_BUILD:-build/release}
bench_build iofog-controller iofog-agent nats-latency msg-bench bus-bench ws-relay
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
    agent_pid=$!
    agent_dirs+=("$dir")
    for _ in $(seq 1 100); do "$agent_bin" status --config-dir "$dir" >/dev/null 2>&1 && break; sleep 0.1; done
    key=$(call GET "/iofog/$node/provisioning-key" | jget key)
    "$agent_bin" provision "$key" --config-dir "$dir" >/dev/null
}
start_agent bench-a
aport=$lport anode=$node apid=$agent_pid
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
# The bus shapes on node A: "fan" -> fan0..fan9, many0..many9 -> "sink".
fan=$(msvc fan "$anode")
sink=$(msvc sink "$anode")
fan_to=() many=()
for i in $(seq 0 9); do
    fan_to+=("$(msvc "fan$i" "$anode")")
    many+=("$(msvc "many$i" "$anode")")
    call POST /routes "{\"name\":\"fan$i\",\"application\":\"msgbench\",\"from\":\"fan\",\"to\":\"fan$i\"}" >/dev/null
    call POST /routes "{\"name\":\"many$i\",\"application\":\"msgbench\",\"from\":\"many$i\",\"to\":\"sink\"}" >/dev/null
done

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
known "$aport" "${many[9]}"
known "$aport" "${fan_to[9]}"
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

# ---- on-node bus shapes, Agent A and the raw relay ----
bus=$PWD/$build/bench/bus-bench
relay_in=$work/relay.in
mkfifo "$relay_in"
fan_csv=$(IFS=,; echo "${fan_to[*]}")
relay_routes=(--route "$pub_on=$recv_on" --route "$fan=$fan_csv")
for m in "${many[@]}"; do relay_routes+=(--route "$m=$sink"); done
"$build/bench/ws-relay" --mode raw "${relay_routes[@]}" <"$relay_in" >"$work/relay.port" \
    2>>"$work/relay.log" &
rpid=$!
pids+=($rpid)
exec 7>"$relay_in" # the relay runs until this closes
for _ in $(seq 1 100); do [ -s "$work/relay.port" ] && break; sleep 0.05; done
rport=$(cat "$work/relay.port")

# measure PID CMD...: runs CMD while sampling PID's RSS every 50 ms; prints CMD's JSON with
# "rssMaxMb" and "cpuPercent" (PID's CPU time over the run's wall time) added.
measure() {
    local pid=$1 out t0 c0 t1 c1 peak
    shift
    : >"$work/rss"
    (while kill -0 "$pid" 2>/dev/null; do
        awk '/^VmRSS/ {print $2}' "/proc/$pid/status" >>"$work/rss" 2>/dev/null || true
        sleep 0.05
    done) &
    local sampler=$!
    t0=$(date +%s.%N)
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$("$@")
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    t1=$(date +%s.%N)
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    peak=$(sort -n "$work/rss" | tail -n 1)
    python3 -c '
import json, os, sys
o = json.loads(sys.argv[1])
o["rssMaxMb"] = int(sys.argv[2] or 0) / 1024
o["cpuPercent"] = (int(sys.argv[4]) - int(sys.argv[3])) / os.sysconf("SC_CLK_TCK") / (float(sys.argv[6]) - float(sys.argv[5])) * 100
print(json.dumps(o))' "$out" "$peak" "$c0" "$c1" "$t0" "$t1"
}
fan_args=() many_args=()
for r in "${fan_to[@]}"; do fan_args+=(--recv "$r"); done
for p in "${many[@]}"; do many_args+=(--pub "$p"); done
shape() { # name args... -> runs the shape on Agent A and on the relay; prints {"agent":..,"raw":..}
    local name=$1 a r
    shift
    a=$(measure "$apid" "$bus" --port "$aport" "$@")
    r=$(measure "$rpid" "$bus" --port "$rport" "$@")
    echo "{\"name\":\"$name\",\"agent\":$a,\"raw\":$r}"
}
shapes=()
shapes+=("$(shape one256 --test one --pub "$pub_on" --recv "$recv_on" --count "$bus_count" --size 256)")
shapes+=("$(shape one16k --test one --pub "$pub_on" --recv "$recv_on" --count $((bus_count / 10)) --size 16384)")
shapes+=("$(shape fanout --test fan --pub "$fan" "${fan_args[@]}" --count $((bus_count / 10)) --size 256)")
shapes+=("$(shape many --test many "${many_args[@]}" --recv "$sink" --count $((bus_count / 10)) --size 256)")
shapes+=("$(shape paced1k --test paced --pub "$pub_on" --recv "$recv_on" --rate 1000 --seconds 5 --size 256)")
shapes+=("$(shape paced10k --test paced --pub "$pub_on" --recv "$recv_on" --rate 10000 --seconds 3 --size 256)")
echo_1k=$("$bench" --mode echo --recv-port "$aport" --recv-id "$recv_on" --rate 1000 --seconds 5)
exec 7>&-
load=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$json" "$on" "$x" "$echo_" "$nats" "$xstat" "$(nproc)" "$load" "$echo_1k" \
    "${shapes[@]}" <<'PY'
import json, sys
as_json = sys.argv[1] == "1"
on, x, echo, nats = (json.loads(a) for a in sys.argv[2:6])
xstat, cores, load = sys.argv[6], sys.argv[7], sys.argv[8]
echo1k = json.loads(sys.argv[9])
shapes = {s["name"]: s for s in (json.loads(a) for a in sys.argv[10:])}
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

print()
print(f"On-node bus shapes: Agent A vs the raw relay (bench/ws_relay.c), load average {load}.")
print()
print("| shape | Agent | raw relay | agent/raw | lost (agent) | Agent RSS max | Agent CPU | relay CPU |")
print("|---|---|---|---|---|---|---|---|")
fig = {}
def thr(name, label, key, unit, fkey):
    s = shapes[name]; a, r = s["agent"], s["raw"]
    ratio = a[key] / r[key] if r[key] else 0
    print(f"| {label} | {a[key]:,.0f} {unit} | {r[key]:,.0f} {unit} | {ratio:.2f} | "
          f"{a['sent'] * a['receivers'] - a['received'] if name != 'many' else a['sent'] - a['received']} "
          f"| {a['rssMaxMb']:.1f} MB | {a['cpuPercent']:.0f} % | {r['cpuPercent']:.0f} % |")
    fig.update({fkey: a[key], fkey.replace("onNode", "raw"): r[key], fkey + "Ratio": ratio,
                fkey.replace("PerSec", "RssMaxMb"): a["rssMaxMb"],
                fkey.replace("PerSec", "CpuPercent"): a["cpuPercent"]})
thr("one256", "1->1, 256 B, with receipts", "msgsPerSec", "msgs/s", "onNode1to1MsgsPerSec")
thr("one16k", "1->1, 16 KiB, with receipts", "msgsPerSec", "msgs/s", "onNode1to1Size16kMsgsPerSec")
thr("fanout", "1->10 fan-out, 256 B", "deliveriesPerSec", "deliveries/s", "onNodeFanoutDeliveriesPerSec")
thr("many", "10->1, 256 B", "msgsPerSec", "msgs/s", "onNode10to1MsgsPerSec")
for name, label, key in (("paced1k", "paced 1,000 msgs/s", "onNodePaced1k"),
                         ("paced10k", "paced 10,000 msgs/s", "onNodePaced10k")):
    s = shapes[name]; a, r = s["agent"], s["raw"]
    ratio = a["p99Ms"] / r["p99Ms"] if r["p99Ms"] else 0
    print(f"| {label}: p50 / p99 / max | {a['p50Ms']:.3f} / {a['p99Ms']:.3f} / {a['maxMs']:.3f} ms "
          f"| {r['p50Ms']:.3f} / {r['p99Ms']:.3f} / {r['maxMs']:.3f} ms | {ratio:.2f} (p99) "
          f"| {a['sent'] - a['received']} | {a['rssMaxMb']:.1f} MB | {a['cpuPercent']:.0f} % | {r['cpuPercent']:.0f} % |")
    fig.update({key + "P50Ms": a["p50Ms"], key + "P99Ms": a["p99Ms"], key + "MaxMs": a["maxMs"],
                key.replace("onNode", "raw") + "P50Ms": r["p50Ms"],
                key.replace("onNode", "raw") + "P99Ms": r["p99Ms"],
                key.replace("onNode", "raw") + "MaxMs": r["maxMs"],
                key + "P99Ratio": ratio, key + "RssMaxMb": a["rssMaxMb"],
                key + "CpuPercent": a["cpuPercent"]})
print(f"| WebSocket ping/pong echo, paced 1,000/s: p50 / p99 / max | - | {echo1k['p50Ms']:.3f} / "
      f"{echo1k['p99Ms']:.3f} / {echo1k['maxMs']:.3f} ms | - | - | - | - | - |")
over_echo = shapes["paced1k"]["agent"]["p99Ms"] / echo1k["p99Ms"] if echo1k["p99Ms"] else 0
lost = sum(s["agent"]["sent"] * (s["agent"]["receivers"] if n != "many" else 1) - s["agent"]["received"]
           for n, s in shapes.items())
order = sum(s["agent"]["orderErrors"] for s in shapes.values())
rss = max(s["agent"]["rssMaxMb"] for s in shapes.values())
fig.update({"onNodePaced1kP99OverEcho": over_echo, "wsEcho1kP99Ms": echo1k["p99Ms"],
            "onNodeBusLostMsgs": lost, "onNodeBusOrderErrors": order, "agentBusRssMaxMb": rss})
print()
def verdict(ok):
    return "MET" if ok else "MISSED"
one, fan = fig["onNode1to1MsgsPerSec"], fig["onNodeFanoutDeliveriesPerSec"]
print(f"1->1 >= 150,000 msgs/s: {verdict(one >= 150000)} ({one:,.0f}); "
      f">= 0.5 x raw: {verdict(fig['onNode1to1MsgsPerSecRatio'] >= 0.5)} ({fig['onNode1to1MsgsPerSecRatio']:.2f})")
print(f"fan-out >= 300,000 deliveries/s: {verdict(fan >= 300000)} ({fan:,.0f})")
p10 = shapes["paced10k"]["agent"]
print(f"paced 10,000/s p99 <= 1 ms: {verdict(p10['p99Ms'] <= 1)} ({p10['p99Ms']:.3f} ms); "
      f"max <= 5 ms: {verdict(p10['maxMs'] <= 5)} ({p10['maxMs']:.3f} ms)")
print(f"paced 1,000/s p99 <= 3 x echo p99: {verdict(over_echo <= 3)} ({over_echo:.2f} x)")
print(f"Agent RSS during the runs <= 24 MB: {verdict(rss <= 24)} ({rss:.1f} MB); "
      f"lost {lost}, order errors {order}")
if as_json:
    print(json.dumps({**fig,
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
