#!/usr/bin/env bash
# End-to-end test of the main job's failure report: scripts/demo.sh is run on this build (free ports,
# a temporary directory) with an application whose viewer cannot reach the Agent (its env sets
# IOFOG_AGENT_HOST=127.0.0.1, the container's own loopback, where no Agent listens): the demo must
# exit non-zero within its bounded waits and print what it waited for, the last status of each
# microservice, the Agent's log tail, the viewer's container log and, as its last line, the one-line
# cause naming the viewer's unreachable Agent. `demo.sh stop` must then leave no container behind.
# Usage: e2e/demo_failure_test.sh <build dir>
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
cd "$(dirname "$0")/.."

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export IOFOG_DEMO_DIR IOFOG_DEMO_BIN_DIR IOFOG_DEMO_APPLICATION
IOFOG_DEMO_DIR=$(mktemp -d /tmp/iofog-e2e-demofail.XXXXXX)
IOFOG_DEMO_BIN_DIR=$IOFOG_DEMO_DIR.bin
IOFOG_DEMO_APPLICATION=$IOFOG_DEMO_DIR.yaml
export IOFOG_DEMO_BUILD=$build
export IOFOG_DEMO_CONTROLLER_PORT IOFOG_DEMO_AGENT_PORT IOFOG_DEMO_VIEWER_PORT
IOFOG_DEMO_CONTROLLER_PORT=$(free_port)
IOFOG_DEMO_AGENT_PORT=$(free_port)
IOFOG_DEMO_VIEWER_PORT=$(free_port)
export IOFOG_DEMO_CONSOLE_PORT
IOFOG_DEMO_CONSOLE_PORT=$(free_port)
log=$IOFOG_DEMO_DIR.log
node=
cleanup() {
    bash scripts/demo.sh stop >/dev/null 2>&1 || true
    rm -rf "$IOFOG_DEMO_DIR" "$IOFOG_DEMO_BIN_DIR" "$IOFOG_DEMO_APPLICATION" "$log"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "---- demo output ----" >&2; cat "$log" >&2; exit 1; }
expect() { grep -qE "$1" "$log" || fail "output lacks /$1/"; }

# The demo's application with one change: the viewer is pointed at an address without an Agent.
python3 - examples/demo/application.yaml >"$IOFOG_DEMO_APPLICATION" <<'PY'
import sys
out, in_viewer = [], False
for line in open(sys.argv[1]).read().splitlines():
    out.append(line)
    if line.strip() == "- name: viewer":
        in_viewer = True
    if in_viewer and line.strip() == "container:":
        out += ["        env:", "          - key: IOFOG_AGENT_HOST", "            value: \"127.0.0.1\""]
        in_viewer = False
print("\n".join(out))
PY
grep -q 'IOFOG_AGENT_HOST' "$IOFOG_DEMO_APPLICATION" || { echo "FAIL: the viewer's env was not added" >&2; exit 1; }

start=$(date +%s)
if bash scripts/demo.sh start --no-deps --no-build >"$log" 2>&1; then
    fail "demo.sh succeeded although the viewer cannot reach the Agent"
fi
took=$(( $(date +%s) - start ))
echo "demo.sh failed as it must, after $took s; its report:"
sed -n '/==> FAILED waiting for/,$p' "$log"
[ "$took" -lt 300 ] || fail "the failure took $took s (waits are bounded well below that)"
expect '==> FAILED waiting for sensor messages at the viewer'
expect 'last status of each microservice'
expect '^  viewer \([A-Za-z0-9-]+\): RUNNING'
expect '^  sensor \([A-Za-z0-9-]+\): RUNNING'
expect "last lines of the Agent's log"
expect '^last lines of container iofog_[A-Za-z0-9-]+ \(viewer, RUNNING\)'
expect '^last lines of container iofog_[A-Za-z0-9-]+ \(sensor, RUNNING\)'
last=$(tail -n 1 "$log")
grep -qE '^demo: FAILED: no sensor message reached the viewer within 20 s \(.*viewer: [^;]*(unreachable|cannot connect)[^;]*127\.0\.0\.1' <<<"$last" ||
    fail "the last line is not the cause naming the viewer's unreachable Agent: $last"
echo "cause: $last"

node=$(cat "$IOFOG_DEMO_DIR/node-uuid")
bash scripts/demo.sh stop >/dev/null 2>&1 || fail "demo.sh stop failed"
left=$(docker ps -aq --filter "label=iofog-uuid=$node" | wc -l)
[ "$left" -eq 0 ] || fail "$left containers of node $node left after stop"
echo "stop removed every container of node $node"
