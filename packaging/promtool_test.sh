#!/usr/bin/env bash
# `promtool check metrics` (Debian's prometheus package) on both /metrics outputs: a real
# Controller after requests that fill its counters and histograms (a matched route, an unmatched
# one, a 401), and a real Agent (not provisioned) after Local API calls. promtool's lint must
# report nothing; a known-bad sample first shows that it does report problems. Loopback only;
# both processes are stopped here.
# Usage: packaging/promtool_test.sh <build-dir>
set -euo pipefail
build=$(cd "${1:?usage: promtool_test.sh <build-dir>}" && pwd)
ctl=$build/controller/iofog-controller
agent=$build/agent/iofog-agent
command -v promtool >/dev/null || { echo "FAIL: promtool is not installed (scripts/install-deps.sh installs prometheus)"; exit 1; }
tmp=$(mktemp -d /tmp/iofog-promtool.XXXXXX)
# shellcheck source=packaging/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fails=0
passes=0
# promtool on the text in file $2, named $1: passes when it exits 0 and prints nothing.
check() {
    local out rc=0
    out=$(promtool check metrics <"$2" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
        echo "ok: promtool check metrics: $1 ($(grep -vc '^#' "$2") samples, $(grep -c '^# TYPE' "$2") metric families)"
        passes=$((passes + 1))
    else
        echo "FAIL: promtool check metrics on $1 exited $rc:"
        printf '%s\n' "$out" | sed 's/^/  /'
        fails=$((fails + 1))
    fi
}

# The check can fail: a sample without HELP and a counter without _total are reported.
printf '# TYPE bad_counter counter\nbad_counter 1\n' >"$tmp/bad.txt"
if promtool check metrics <"$tmp/bad.txt" >/dev/null 2>&1; then
    echo "FAIL: promtool accepted a known-bad sample"
    fails=$((fails + 1))
else
    echo "ok: promtool reports a known-bad sample"
    passes=$((passes + 1))
fi

cport=$(free_port)
mkdir -m 0700 "$tmp/c"
"$ctl" start --foreground --bind 127.0.0.1 --port "$cport" --data-dir "$tmp/c" --log-level warn \
    >"$tmp/controller.out" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$cport
wait_for 20 curl -sf "$base/api/v3/status" || { cat "$tmp/controller.out"; echo "FAIL: the Controller did not start"; exit 1; }
for _ in 1 2 3; do curl -s -o /dev/null "$base/api/v3/status"; done
curl -s -o /dev/null "$base/api/v3/no-such-route"
curl -s -o /dev/null "$base/api/v3/iofog-list"
curl -sf "$base/metrics" >"$tmp/controller.metrics" || { echo "FAIL: GET /metrics on the Controller"; exit 1; }
check "Controller /metrics" "$tmp/controller.metrics"

lport=$(free_port)
"$agent" config -a "$base/api/v3/" -dl "$tmp/a/data/" -ld "$tmp/a/log/" -lp "$lport" \
    --config-dir "$tmp/a" >/dev/null
"$agent" start --foreground --config-dir "$tmp/a" >"$tmp/agent.out" 2>&1 &
pids+=($!)
wait_for 20 "$agent" status --config-dir "$tmp/a" || { cat "$tmp/agent.out"; echo "FAIL: the Agent did not start"; exit 1; }
curl -s -o /dev/null "http://127.0.0.1:$lport/v2/config/get"
curl -s -o /dev/null "http://127.0.0.1:$lport/v2/messages/next"
curl -sf "http://127.0.0.1:$lport/metrics" >"$tmp/agent.metrics" || { echo "FAIL: GET /metrics on the Agent"; exit 1; }
check "Agent /metrics" "$tmp/agent.metrics"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
