#!/usr/bin/env bash
# The main job: brings up a working edge network on this machine and shows it working.
#   installs what is missing, builds, makes sure a Docker Engine runs, starts a Controller (SQLite in
#   a data directory) and an Agent, creates the first user, provisions the Agent, builds the example
#   images, registers them in the catalog (registry from_cache), deploys examples/demo/application.yaml
#   (sensor -> viewer through a route, plus config-echo), waits until every microservice is RUNNING,
#   shows messages arriving at the viewer's HTTP port, changes the sensor's configuration live and
#   shows it applied without a restart.
# Usage: scripts/demo.sh [start] [--no-deps] [--no-build]   bring it up (re-running starts it afresh)
#        scripts/demo.sh stop                  stop it and remove its containers
#        scripts/demo.sh status                what runs
# Environment: IOFOG_DEMO_DIR (default /var/lib/iofog-demo), IOFOG_DEMO_CONTROLLER_PORT (51121),
#              IOFOG_DEMO_AGENT_PORT (54321), IOFOG_DEMO_VIEWER_PORT (5555), IOFOG_DEMO_BUILD (build
#              directory, default build/demo; with --no-build its binaries are used as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

action=start
deps=1
build_it=1
for arg in "$@"; do
    case "$arg" in
        start|stop|status) action=$arg ;;
        --no-deps) deps=0 ;;
        --no-build) build_it=0 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

dir=${IOFOG_DEMO_DIR:-/var/lib/iofog-demo}
ctl_port=${IOFOG_DEMO_CONTROLLER_PORT:-51121}
agent_port=${IOFOG_DEMO_AGENT_PORT:-54321}
viewer_port=${IOFOG_DEMO_VIEWER_PORT:-5555}
build=${IOFOG_DEMO_BUILD:-$root/build/demo}
ctl=$build/controller/iofog-controller
agent=$build/agent/iofog-agent
app=demo
email=demo@example.com
password=demo-password-1

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ctlc() { "$ctl" "$@" --port "$ctl_port" --data-dir "$dir/controller"; }
agentc() { "$agent" "$@" --config-dir "$dir/agent"; }
# nats-server with the per-node users the Controller writes (docs/design/nats-security.md).
nats_port=${IOFOG_DEMO_NATS_PORT:-4222}
natsc() { IOFOG_NATS_DIR="$dir/nats" IOFOG_NATS_AUTH_FILE="$dir/nats/auth.conf" scripts/nats.sh "$1" "$nats_port"; }

# Waits up to $1 seconds for command "$2..." to succeed, printing a dot a second.
wait_for() {
    local secs=$1; shift
    for _ in $(seq 1 "$secs"); do
        if "$@" >/dev/null 2>&1; then echo; return 0; fi
        printf '.'; sleep 1
    done
    echo; return 1
}

stop_all() {
    if [ -x "$agent" ] && [ -f "$dir/agent/iofog-agent.pid" ]; then
        echo "stopping the Agent (its containers are removed)"
        agentc stop || true
    fi
    if [ -x "$ctl" ] && [ -f "$dir/controller/iofog-controller.pid" ]; then
        echo "stopping the Controller"
        ctlc stop || true
    fi
    [ -d "$dir/nats" ] && { natsc stop || true; }
    # Anything of ours a crashed run left behind (only containers carrying our label).
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        local left
        left=$(docker ps -aq --filter label=iofog-uuid 2>/dev/null || true)
        if [ -n "$left" ] && [ -f "$dir/node-uuid" ]; then
            left=$(docker ps -aq --filter "label=iofog-uuid=$(cat "$dir/node-uuid")" || true)
            [ -n "$left" ] && docker rm -f $left >/dev/null || true
        fi
    fi
}

if [ "$action" = stop ]; then
    stop_all
    echo "demo stopped"
    exit 0
fi
if [ "$action" = status ]; then
    [ -x "$agent" ] && agentc status || true
    docker ps --filter label=iofog-uuid --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}' || true
    exit 0
fi

if [ "$deps" -eq 1 ]; then
    say "dependencies (Debian packages)"
    scripts/install-deps.sh
fi

if [ "$build_it" -eq 1 ]; then
    say "build (Release, $build)"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DIOFOG_TESTS=OFF >/dev/null
    cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E '^\[100%\]|error' || true
fi
[ -x "$ctl" ] && [ -x "$agent" ] || { echo "no binaries in $build (build failed?)" >&2; exit 1; }

say "Docker Engine"
scripts/dockerd.sh start

say "clean start (a previous demo is stopped first)"
stop_all
rm -rf "$dir"
mkdir -p "$dir"

say "Controller on port $ctl_port (data: $dir/controller)"
mkdir -p "$dir/controller"
natsc start || echo "nats-server did not start: messages stay on this node"
export IOFOG_CONTROLLER_NATS_URL="nats://127.0.0.1:$nats_port" \
    IOFOG_CONTROLLER_NATS_AUTH_FILE="$dir/nats/auth.conf" \
    IOFOG_CONTROLLER_NATS_PID_FILE="$dir/nats/nats-server.pid"
ctlc start
ctlc user add -f Demo -l User -e "$email" -p "$password" >/dev/null
echo "user $email created"

say "example images (built locally, nothing pulled)"
IOFOG_BUILD_DIR=$build scripts/build-example-images.sh

say "catalog items (registry from_cache)"
sed_args=()
for name in sensor viewer config-echo; do
    id=$(ctlc catalog add -n "demo-$name" -x "iofog-example/$name:1" -g 2 -c example --output json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    echo "catalog item $id: demo-$name -> iofog-example/$name:1 (registry 2, from_cache)"
    var=CATALOG_$(echo "$name" | tr 'a-z-' 'A-Z_')
    sed_args+=(-e "s/$var/$id/")
done

say "Agent on port $agent_port (config: $dir/agent)"
node=$(ctlc iofog add -n edge-1 -y 1 --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
echo "$node" > "$dir/node-uuid"
key=$(ctlc iofog provisioning-key -i "$node" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
agentc config -a "http://127.0.0.1:$ctl_port/api/v3/" -dl "$dir/agent/data" -ld "$dir/agent/log" -lp "$agent_port" -sf 5 >/dev/null
agentc start
agentc provision "$key"
printf 'waiting for the Agent to report to the Controller'
wait_for 30 sh -c "'$agent' status --config-dir '$dir/agent' | grep -q 'connection-to-controller.*: ok'"

say "deploy examples/demo/application.yaml"
sed "${sed_args[@]}" -e "s/VIEWER_PORT/$viewer_port/" examples/demo/application.yaml >"$dir/application.yaml"
ctlc application add -f "$dir/application.yaml"

say "waiting until every microservice is RUNNING"
all_running() {
    ctlc microservice list --output json | python3 -c '
import json, sys
ms = json.load(sys.stdin)["microservices"]
states = {m["name"]: (m.get("status") or {}).get("status", "?") for m in ms}
print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(states.items())), file=sys.stderr)
sys.exit(0 if ms and all(s == "RUNNING" for s in states.values()) else 1)'
}
for _ in $(seq 1 90); do
    if all_running 2>/tmp/iofog-demo-states; then cat /tmp/iofog-demo-states; break; fi
    cat /tmp/iofog-demo-states; sleep 1
done
all_running 2>/dev/null || { echo "not every microservice reached RUNNING; see $dir/agent/log" >&2; exit 1; }

say "messages arriving at the viewer (http://127.0.0.1:$viewer_port/)"
# The viewer serves the last ioMessages as JSON; contentdata is base64 (classic JSON REST API item).
show_viewer() { # [min temperature]: prints the last messages; fails when none is at least min
    curl -sf "http://127.0.0.1:$viewer_port/" | python3 -c '
import base64, json, sys
low = float(sys.argv[1])
msgs = json.load(sys.stdin)
msgs = msgs.get("messages", msgs) if isinstance(msgs, dict) else msgs
hits = 0
for m in msgs[-3:]:
    body = base64.b64decode(m.get("contentdata", "")).decode("utf-8", "replace")
    print("  id=%s publisher=%s content=%s" % (m.get("id"), m.get("publisher"), body))
    hits += json.loads(body).get("temperature", -1e9) >= low
sys.exit(0 if hits else 1)' "${1:--1000}"
}
wait_for 20 show_viewer
show_viewer

say "live configuration change (no restart)"
msvc_uuid() {
    ctlc microservice list --output json |
        python3 -c 'import json,sys; print([m["uuid"] for m in json.load(sys.stdin)["microservices"] if m["name"]==sys.argv[1]][0])' "$1"
}
sensor=$(msvc_uuid sensor)
before=$(docker inspect -f '{{.Id}}' "iofog_$sensor")
echo "iofog-controller microservice update --microservice-id $sensor --config '{\"frequency\":500,\"minimum\":100,\"maximum\":101}'"
ctlc microservice update --microservice-id "$sensor" --config '{"frequency":500,"minimum":100,"maximum":101}' >/dev/null
printf 'waiting for readings in the new range (100..101)'
wait_for 20 show_viewer 100
show_viewer 100
after=$(docker inspect -f '{{.Id}}' "iofog_$sensor")
echo "sensor container before: ${before:0:12}  after: ${after:0:12}  (same container: $([ "$before" = "$after" ] && echo yes || echo NO))"
[ "$before" = "$after" ] || { echo "the sensor was restarted: the change was not applied live" >&2; exit 1; }
docker logs "iofog_$sensor" 2>&1 | grep 'sensor config' | tail -2 | sed 's/^/  /'
ctlc microservice update --microservice-id "$(msvc_uuid config-echo)" --config '{"greeting":"hello again"}' >/dev/null
printf 'waiting for config-echo to log it'
wait_for 10 sh -c "docker logs iofog_$(msvc_uuid config-echo) 2>&1 | grep -q 'hello again'"
docker logs --tail 2 "iofog_$(msvc_uuid config-echo)" 2>&1 | sed 's/^/  config-echo: /'

say "running"
cat <<EOF
Controller  http://127.0.0.1:$ctl_port/api/v3   (user $email / $password; data $dir/controller)
Agent       Local API 127.0.0.1:$agent_port       (config $dir/agent; iofog-agent status --config-dir $dir/agent)
Viewer      http://127.0.0.1:$viewer_port/        (last messages from the sensor)
Containers:
$(docker ps --filter "label=iofog-uuid=$node" --format '  {{.Names}}  {{.Image}}  {{.Status}}')
Stop it all: scripts/demo.sh stop
EOF
