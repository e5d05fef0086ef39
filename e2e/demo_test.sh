#!/usr/bin/env bash
# End-to-end test of the main job: runs scripts/demo.sh on this build (free ports, a temporary
# directory), checks that its output shows the YAML deployment reaching RUNNING, sensor messages at
# the viewer, the live configuration change applied without a restart (same container, readings in
# the new range) and config-echo logging the new configuration; runs it a second time (it must
# start afresh); the commands it links onto PATH must work from a new environment that names only
# the data and configuration directories (`iofog-agent status`, `iofog-controller microservice
# list`, no flags); then `demo.sh stop` must leave no container of the demo's node behind.
# Usage: e2e/demo_test.sh <build dir>
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
cd "$(dirname "$0")/.."

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export IOFOG_DEMO_DIR
IOFOG_DEMO_DIR=$(mktemp -d /tmp/iofog-e2e-demo.XXXXXX)
export IOFOG_DEMO_BIN_DIR=$IOFOG_DEMO_DIR.bin
export IOFOG_DEMO_BUILD=$build
export IOFOG_DEMO_CONTROLLER_PORT IOFOG_DEMO_AGENT_PORT IOFOG_DEMO_VIEWER_PORT
IOFOG_DEMO_CONTROLLER_PORT=$(free_port)
IOFOG_DEMO_AGENT_PORT=$(free_port)
IOFOG_DEMO_VIEWER_PORT=$(free_port)
export IOFOG_DEMO_CONSOLE_PORT
IOFOG_DEMO_CONSOLE_PORT=$(free_port)
export IOFOG_DEMO_NATS_PORT
IOFOG_DEMO_NATS_PORT=$(free_port)
log=$IOFOG_DEMO_DIR.log
cleanup() {
    bash scripts/demo.sh stop >/dev/null 2>&1 || true
    rm -rf "$IOFOG_DEMO_DIR" "$IOFOG_DEMO_BIN_DIR" "$log"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; echo "---- demo output ----" >&2; cat "$log" >&2; exit 1; }
expect() { grep -qE "$1" "$log" || fail "output lacks /$1/"; }

for round in 1 2; do
    start=$(date +%s)
    bash scripts/demo.sh start --no-deps --no-build >"$log" 2>&1 || fail "demo.sh exited with $? (round $round)"
    echo "round $round: demo up and checked in $(( $(date +%s) - start )) s"
    expect 'config-echo: RUNNING, sensor: RUNNING, viewer: RUNNING'
    expect 'content=\{"temperature":[0-9.]+,"unit":"C"\}'
    expect 'content=\{"temperature":10[01]\.[0-9]+'
    expect 'same container: yes'
    expect 'sensor config frequency=500 minimum=100 maximum=101'
    expect 'config-echo: config \{"greeting":"hello again"\}'
done

# As docs/quickstart.md prints them, from an environment with nothing of the demo's but its
# directories (the demo's defaults are the commands' defaults; here they are not).
fresh() {
    env -i PATH="$IOFOG_DEMO_BIN_DIR:/usr/sbin:/usr/bin:/sbin:/bin" \
        IOFOG_AGENT_CONFIG_DIR="$IOFOG_DEMO_DIR/agent" IOFOG_CONTROLLER_DATA_DIR="$IOFOG_DEMO_DIR/controller" \
        timeout 30 "$@"
}
out=$(fresh iofog-agent status 2>&1) || fail "iofog-agent status from PATH failed: $out"
grep -qE 'connection-to-controller.*: ok' <<<"$out" || fail "iofog-agent status: $out"
echo "iofog-agent status (from $IOFOG_DEMO_BIN_DIR): $(grep -E 'connection-to-controller' <<<"$out" | tr -s ' ')"
out=$(fresh iofog-controller microservice list 2>&1) || fail "iofog-controller microservice list failed: $out"
for m in sensor viewer config-echo; do grep -q "$m" <<<"$out" || fail "microservice list lacks $m: $out"; done
echo "iofog-controller microservice list (from $IOFOG_DEMO_BIN_DIR, no --port): lists sensor, viewer, config-echo"

node=$(cat "$IOFOG_DEMO_DIR/node-uuid")
# The demo's nats-server asks for credentials, and the Controller gave the node its own user.
grep -q "\"user\":\"$node\"" "$IOFOG_DEMO_DIR/nats/auth.conf" || fail "no NATS user for node $node"
nats_says=$(python3 -c 'import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.recv(4096)
s.sendall(b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nPING\r\n"); time.sleep(0.5); print(s.recv(4096))' "$IOFOG_DEMO_NATS_PORT")
case "$nats_says" in *"Authorization Violation"*) ;; *) fail "anonymous NATS client answered: $nats_says" ;; esac
echo "nats-server refuses anonymous clients; node $node has its own NATS user"
[ -n "$(docker ps -q --filter "label=iofog-uuid=$node")" ] || fail "no running container of node $node"
bash scripts/demo.sh stop >"$log" 2>&1 || fail "demo.sh stop failed"
left=$(docker ps -aq --filter "label=iofog-uuid=$node" | wc -l)
[ "$left" -eq 0 ] || fail "$left containers of node $node left after stop"
echo "stop removed every container of node $node"
