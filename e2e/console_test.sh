#!/usr/bin/env bash
# The web console in a browser: runs scripts/demo.sh on this build (free ports, a temporary
# directory; the Controller serves the ECN Viewer package scripts/install-deps.sh installed), checks
# that the demo prints the console's address and login, then e2e/console_test.cjs drives Debian's
# Chromium (headless, loopback only) with playwright-core: log in, the node RUNNING, the application
# and a microservice opened, no page error but the offline map's. Screenshots:
# <build>/e2e/console-{dashboard,node,application,microservice}.png. `demo.sh stop` at the end.
# Usage: e2e/console_test.sh <build dir>
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
cd "$(dirname "$0")/.."

viewer=${IOFOG_DEMO_CONSOLE_DIR:-/usr/local/share/iofog-ecn-viewer}
pw=${IOFOG_PLAYWRIGHT_DIR:-/usr/local/share/iofog-playwright}
for need in "$viewer/package.json" "$pw/node_modules/playwright-core/package.json" /usr/bin/chromium; do
    [ -e "$need" ] || { echo "FAIL: $need is missing (scripts/install-deps.sh installs it)"; exit 1; }
done
command -v node >/dev/null || { echo "FAIL: node is missing (scripts/install-deps.sh installs npm)"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export IOFOG_DEMO_DIR IOFOG_DEMO_BIN_DIR IOFOG_DEMO_BUILD=$build
IOFOG_DEMO_DIR=$(mktemp -d /tmp/iofog-e2e-console.XXXXXX)
IOFOG_DEMO_BIN_DIR=$IOFOG_DEMO_DIR.bin
export IOFOG_DEMO_CONTROLLER_PORT IOFOG_DEMO_AGENT_PORT IOFOG_DEMO_VIEWER_PORT IOFOG_DEMO_CONSOLE_PORT
export IOFOG_DEMO_NATS_PORT
IOFOG_DEMO_CONTROLLER_PORT=$(free_port)
IOFOG_DEMO_AGENT_PORT=$(free_port)
IOFOG_DEMO_VIEWER_PORT=$(free_port)
IOFOG_DEMO_CONSOLE_PORT=$(free_port)
IOFOG_DEMO_NATS_PORT=$(free_port)
log=$IOFOG_DEMO_DIR.log
cleanup() {
    bash scripts/demo.sh stop >/dev/null 2>&1 || true
    rm -rf "$IOFOG_DEMO_DIR" "$IOFOG_DEMO_BIN_DIR" "$log"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "---- demo output ----" >&2; cat "$log" >&2; exit 1; }

start=$(date +%s)
bash scripts/demo.sh start --no-deps --no-build >"$log" 2>&1 || fail "demo.sh exited with $?"
echo "demo up in $(($(date +%s) - start)) s"
line=$(grep -E '^Console +http://' "$log") || fail "the demo did not print the console's address"
echo "$line"
url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/' <<<"$line")
[ "$url" = "http://127.0.0.1:$IOFOG_DEMO_CONSOLE_PORT/" ] || fail "console address $url, expected port $IOFOG_DEMO_CONSOLE_PORT"
grep -q 'log in as demo@example.com / demo-password-1' <<<"$line" || fail "the console line lacks the login"
ver=$(curl -sf "http://127.0.0.1:$IOFOG_DEMO_CONTROLLER_PORT/api/v3/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"]["ecnViewer"])')
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$viewer/package.json")
[ "$ver" = "$want" ] || fail "/api/v3/status reports ecnViewer $ver, the package is $want"
echo "ok: /api/v3/status reports ecnViewer $ver"

mkdir -p "$build/e2e"
rm -f "$build"/e2e/console-*.png
start=$(date +%s)
IOFOG_PLAYWRIGHT_DIR=$pw timeout 240 node e2e/console_test.cjs "$url" demo@example.com demo-password-1 \
    "$build/e2e/console" || fail "the browser test failed"
echo "browser steps in $(($(date +%s) - start)) s; screenshots: $(ls "$build"/e2e/console-*.png | tr '\n' ' ')"
