#!/usr/bin/env bash
# The main job: brings up a working edge network on this machine and shows it working.
#   installs what is missing, builds, makes sure a Docker Engine runs, starts a Controller (SQLite in
#   a data directory) and an Agent, creates the first user, provisions the Agent, builds the example
#   images, registers them in the catalog (registry from_cache), deploys examples/demo/application.yaml
#   (sensor -> viewer through a route, plus config-echo), waits until every microservice is RUNNING,
#   shows messages arriving at the viewer's HTTP port, changes the sensor's configuration live and
#   shows it applied without a restart. Links iofog-controller and iofog-agent onto PATH; with the
#   default locations below, `iofog-agent status` and `iofog-controller microservice list` then work
#   as they are, in any shell. A wait that ends without success explains why: what it waited for,
#   each microservice's last status, the tail of the Agent's log and of the concerned containers'
#   logs, then a last line `demo: FAILED: <cause>` and exit 1.
# Usage: scripts/demo.sh [start] [--no-deps] [--no-build]   bring it up (re-running starts it afresh)
#        scripts/demo.sh stop                  stop it and remove its containers
#        scripts/demo.sh status                what runs
# Locations: the commands' defaults (Controller data /var/lib/iofog-controller, Agent configuration
#   /etc/iofog-agent, data /var/lib/iofog-agent, log /var/log/iofog-agent, demo files
#   /var/lib/iofog-demo); a location the demo did not create is never wiped (the demo stops instead).
# Environment: IOFOG_DEMO_DIR (everything under this one directory instead of the defaults),
#   IOFOG_DEMO_CONTROLLER_PORT (51121), IOFOG_DEMO_AGENT_PORT (54321), IOFOG_DEMO_VIEWER_PORT (5555),
#   IOFOG_DEMO_BIN_DIR (where the commands are linked, default /usr/local/bin), IOFOG_DEMO_APPLICATION
#   (the application YAML, default examples/demo/application.yaml), IOFOG_DEMO_BUILD (build
#   directory, default build/demo; with --no-build its binaries are used as they are),
#   IOFOG_DEMO_CONSOLE_PORT (the web console, 8008), IOFOG_DEMO_CONSOLE_DIR (the ECN Viewer package,
#   default /usr/local/share/iofog-ecn-viewer as scripts/install-deps.sh installs it; no console
#   when it is missing).
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
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ -n "${IOFOG_DEMO_DIR:-}" ]; then # one directory for all (tests, or a second demo)
    dir=$IOFOG_DEMO_DIR
    ctl_dir=$dir/controller agent_dir=$dir/agent agent_data=$dir/agent/data agent_logs=$dir/agent/log
else # where the commands look when given no flag, so they work as printed after the demo
    dir=/var/lib/iofog-demo
    ctl_dir=/var/lib/iofog-controller agent_dir=/etc/iofog-agent
    agent_data=/var/lib/iofog-agent agent_logs=/var/log/iofog-agent
fi
bin_dir=${IOFOG_DEMO_BIN_DIR:-/usr/local/bin}
application=${IOFOG_DEMO_APPLICATION:-examples/demo/application.yaml}
ctl_port=${IOFOG_DEMO_CONTROLLER_PORT:-51121}
agent_port=${IOFOG_DEMO_AGENT_PORT:-54321}
viewer_port=${IOFOG_DEMO_VIEWER_PORT:-5555}
console_port=${IOFOG_DEMO_CONSOLE_PORT:-8008}
console_dir=${IOFOG_DEMO_CONSOLE_DIR:-/usr/local/share/iofog-ecn-viewer}
build=${IOFOG_DEMO_BUILD:-$root/build/demo}
ctl=$build/controller/iofog-controller
agent=$build/agent/iofog-agent
app=demo
email=demo@example.com
password=demo-password-1

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ctlc() { "$ctl" "$@" --port "$ctl_port" --data-dir "$ctl_dir"; }
agentc() { "$agent" "$@" --config-dir "$agent_dir"; }
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

# The microservices of the demo as "name uuid status" lines (empty when the Controller does not answer).
ms_states() {
    ctlc microservice list --output json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin)["microservices"]:
    st = m.get("status") or {}
    print(m["name"], m["uuid"], st.get("status") or "?", (st.get("errorMessage") or "").replace("\n", " "))' \
        2>/dev/null || true
}

# Ends the demo after a wait that did not succeed: $1 what it waited for, $2 the cause (one line),
# $3.. the microservices whose container logs matter ("all": every one, "not-running": those not
# RUNNING). Prints each microservice's last status, the tail of the Agent's log and of those
# containers' logs, then `demo: FAILED: <cause>` (each of those containers' last log line that names
# an unreachable peer is added to the cause) and exits 1.
fail_wait() {
    local what=$1 cause=$2 name uuid state err hint=
    shift 2
    exec 1>&2
    printf '\n\033[1m==> FAILED waiting for %s\033[0m\n' "$what"
    echo "last status of each microservice (Controller):"
    local states
    states=$(ms_states)
    [ -n "$states" ] || echo "  (the Controller did not answer microservice list)"
    while read -r name uuid state err; do
        [ -n "$name" ] || continue
        echo "  $name ($uuid): $state${err:+ ($err)}"
    done <<<"$states"
    echo "Agent: $("$agent" status --config-dir "$agent_dir" 2>&1 | grep -E 'daemon|connection-to-controller' | tr -s ' ' | paste -sd ';' - || true)"
    echo "last lines of the Agent's log ($agent_logs/iofog-agent.log):"
    tail -n 15 "$agent_logs/iofog-agent.log" 2>/dev/null | sed 's/^/  /' || echo "  (none)"
    while read -r name uuid state err; do
        [ -n "$name" ] || continue
        case " $* " in *" all "*|*" $name "*) ;; *" not-running "*) [ "$state" != RUNNING ] || continue ;; *) continue ;; esac
        echo "last lines of container iofog_$uuid ($name, $state):"
        local out
        if out=$(docker logs --tail 10 "iofog_$uuid" 2>&1); then
            sed 's/^/  /' <<<"${out:-(no output)}"
            local h
            h=$(grep -iE 'unreachable|cannot connect|refused|no route' <<<"$out" | tail -1 | cut -c1-160 || true)
            [ -z "$h" ] || hint="${hint:+$hint; }$name: ${h#"$name: "}"
        else
            echo "  (no such container: $(docker inspect -f '{{.State.Status}}' "iofog_$uuid" 2>&1 | head -1))"
        fi
    done <<<"$states"
    echo "demo: FAILED: $cause${hint:+ ($hint)}"
    exit 1
}
trap 'rc=$?; echo "demo: FAILED: \`$BASH_COMMAND\` exited $rc (scripts/demo.sh line $LINENO)" >&2' ERR

stop_all() {
    if [ -x "$agent" ] && [ -f "$agent_dir/iofog-agent.pid" ] && [ -e "$agent_dir/.iofog-demo" ]; then
        echo "stopping the Agent (its containers are removed)"
        agentc stop || true
    fi
    if [ -x "$ctl" ] && [ -f "$ctl_dir/iofog-controller.pid" ] && [ -e "$ctl_dir/.iofog-demo" ]; then
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
# The demo's locations are wiped; a default location only when the demo created it (.iofog-demo).
for d in "$ctl_dir" "$agent_dir" "$agent_data" "$agent_logs"; do
    [ -z "${IOFOG_DEMO_DIR:-}" ] || break
    if [ -e "$d" ] && [ ! -e "$d/.iofog-demo" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
        echo "demo: FAILED: $d holds files the demo did not create; move it away or set IOFOG_DEMO_DIR" >&2
        exit 1
    fi
done
for d in "$dir" "$ctl_dir" "$agent_dir" "$agent_data" "$agent_logs"; do
    rm -rf "$d"
    mkdir -p "$d"
    touch "$d/.iofog-demo"
done

say "commands on PATH ($bin_dir)"
mkdir -p "$bin_dir"
ln -sfn "$ctl" "$bin_dir/iofog-controller"
ln -sfn "$agent" "$bin_dir/iofog-agent"
echo "$bin_dir/iofog-controller -> $ctl"
echo "$bin_dir/iofog-agent -> $agent"

say "Controller on port $ctl_port (data: $ctl_dir)"
"$ctl" config add --port "$ctl_port" --data-dir "$ctl_dir" >/dev/null # later commands need no --port
natsc start || echo "nats-server did not start: messages stay on this node"
export IOFOG_CONTROLLER_NATS_URL="nats://127.0.0.1:$nats_port" \
    IOFOG_CONTROLLER_NATS_AUTH_FILE="$dir/nats/auth.conf" \
    IOFOG_CONTROLLER_NATS_PID_FILE="$dir/nats/nats-server.pid"
console_flags=()
[ -f "$console_dir/package.json" ] && console_flags=(--viewer-dir "$console_dir" --viewer-port "$console_port")
ctlc start "${console_flags[@]}"
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

say "Agent on port $agent_port (config: $agent_dir)"
node=$(ctlc iofog add -n edge-1 -y 1 --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
echo "$node" > "$dir/node-uuid"
key=$(ctlc iofog provisioning-key -i "$node" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
agentc config -a "http://127.0.0.1:$ctl_port/api/v3/" -dl "$agent_data" -ld "$agent_logs" -lp "$agent_port" -sf 5 >/dev/null
agentc start
agentc provision "$key"
printf 'waiting for the Agent to report to the Controller'
wait_for 30 sh -c "'$agent' status --config-dir '$agent_dir' | grep -q 'connection-to-controller.*: ok'" ||
    fail_wait "the Agent to report to the Controller (connection-to-controller: ok)" \
        "the Agent did not reach the Controller at http://127.0.0.1:$ctl_port/api/v3/ within 30 s" all

say "deploy $application"
sed "${sed_args[@]}" -e "s/VIEWER_PORT/$viewer_port/" "$application" >"$dir/application.yaml"
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
    if all_running 2>"$dir/states"; then cat "$dir/states"; break; fi
    cat "$dir/states"; sleep 1
done
all_running 2>/dev/null ||
    fail_wait "every microservice to be RUNNING (90 s)" \
        "not every microservice reached RUNNING within 90 s:$(tail -n 1 "$dir/states")" not-running

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
wait_for 20 show_viewer ||
    fail_wait "sensor messages at the viewer (http://127.0.0.1:$viewer_port/, 20 s)" \
        "no sensor message reached the viewer within 20 s" sensor viewer
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
wait_for 20 show_viewer 100 ||
    fail_wait "readings in the new range 100..101 at the viewer (20 s)" \
        "the sensor's new configuration did not show at the viewer within 20 s" sensor viewer
show_viewer 100
after=$(docker inspect -f '{{.Id}}' "iofog_$sensor")
echo "sensor container before: ${before:0:12}  after: ${after:0:12}  (same container: $([ "$before" = "$after" ] && echo yes || echo NO))"
[ "$before" = "$after" ] || { echo "demo: FAILED: the sensor was restarted: the change was not applied live" >&2; exit 1; }
docker logs "iofog_$sensor" 2>&1 | grep 'sensor config' | tail -2 | sed 's/^/  /'
ctlc microservice update --microservice-id "$(msvc_uuid config-echo)" --config '{"greeting":"hello again"}' >/dev/null
printf 'waiting for config-echo to log it'
wait_for 10 sh -c "docker logs iofog_$(msvc_uuid config-echo) 2>&1 | grep -q 'hello again'" ||
    fail_wait "config-echo to log its new configuration (10 s)" \
        "config-echo did not log its new configuration within 10 s" config-echo
docker logs --tail 2 "iofog_$(msvc_uuid config-echo)" 2>&1 | sed 's/^/  config-echo: /'

say "running"
cat <<EOF
Controller  http://127.0.0.1:$ctl_port/api/v3   (user $email / $password; data $ctl_dir)
Agent       Local API 127.0.0.1:$agent_port       (config $agent_dir)
Commands    $bin_dir/iofog-controller, $bin_dir/iofog-agent$(
    [ -n "${IOFOG_DEMO_DIR:-}" ] && printf '\n            (with IOFOG_CONTROLLER_DATA_DIR=%s IOFOG_AGENT_CONFIG_DIR=%s)' "$ctl_dir" "$agent_dir")
Viewer      http://127.0.0.1:$viewer_port/        (last messages from the sensor)
Console     $([ ${#console_flags[@]} -gt 0 ] && echo "http://127.0.0.1:$console_port/        (web console: log in as $email / $password)" ||
    echo "(none: no ECN Viewer package in $console_dir; scripts/install-deps.sh installs it)")
Try         iofog-agent status; iofog-controller microservice list
Containers:
$(docker ps --filter "label=iofog-uuid=$node" --format '  {{.Names}}  {{.Image}}  {{.Status}}')
Stop it all: scripts/demo.sh stop
EOF
