#!/usr/bin/env bash
# SIGHUP reloads the configuration of a running binary (what `systemctl reload`, the units'
# ExecReload, sends). Controller: controller.json's logLevel info -> debug shows at once (request
# lines at debug appear), a changed port is named as needing a restart and the server keeps
# listening where it was, a malformed file changes nothing. Agent: config.json's statusFrequency and
# logLevel edited by hand are not seen before SIGHUP and are in the running daemon's `info` after
# it; a changed dockerUrl is named as needing a restart. Real binaries, loopback only, every
# process started here is stopped here.
# Usage: packaging/reload_test.sh <build-dir>
set -euo pipefail
build=$(cd "${1:?usage: reload_test.sh <build-dir>}" && pwd)
ctl=$build/controller/iofog-controller
agent=$build/agent/iofog-agent
tmp=$(mktemp -d /tmp/iofog-reload.XXXXXX)
# shellcheck source=packaging/test_lib.sh
. "$(dirname "$0")/test_lib.sh"
fails=0
passes=0
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- Controller ------------------------------------------------------------------------------
cdir=$tmp/controller
mkdir -m 0700 "$cdir"
port=$(free_port)
other_port=$(free_port)
printf '{"logLevel": "info", "port": %s, "bind": "127.0.0.1"}\n' "$port" >"$cdir/controller.json"
"$ctl" start --foreground --data-dir "$cdir" >"$tmp/controller.out" 2>&1 &
cpid=$!
pids+=("$cpid")
status_url=http://127.0.0.1:$port/api/v3/status
wait_for 20 curl -sf "$status_url" || { cat "$tmp/controller.out"; bad "the Controller did not start"; exit 1; }
curl -sf "$status_url" >/dev/null
sleep 0.3
if grep -q 'level=debug' "$tmp/controller.out"; then bad "debug lines at logLevel info"; else ok "no debug lines at logLevel info"; fi

printf '{"logLevel": "debug", "port": %s, "bind": "127.0.0.1"}\n' "$other_port" >"$cdir/controller.json"
kill -HUP "$cpid"
if wait_for 10 grep -q 'reloaded logLevel=debug (was info) restart_needed=port' "$tmp/controller.out"; then
    ok "Controller SIGHUP: reloaded, port named as needing a restart"
else
    bad "no reload line after SIGHUP: $(tail -n 3 "$tmp/controller.out")"
fi
curl -sf "$status_url" >/dev/null || bad "the Controller no longer answers on its port after SIGHUP"
if wait_for 5 grep -q 'level=debug module=http event=request method=GET path=[^ ]*/api/v3/status' "$tmp/controller.out"; then
    ok "Controller: request lines at debug after the reload"
else
    bad "no debug request line after the reload to debug"
fi
# Asked of the kernel, not by connecting: a test running beside this one may have taken the
# port meanwhile.
sleep 0.5
if ss -Hltnp "sport = :$other_port" | grep -q "pid=$cpid,"; then
    bad "the Controller moved to the new port without a restart"
else
    ok "Controller: still on its port (a port change needs a restart)"
fi

echo '{"logLevel": ' >"$cdir/controller.json" # malformed
kill -HUP "$cpid"
if wait_for 10 grep -q 'reload_failed' "$tmp/controller.out"; then
    ok "Controller: a malformed file is reported"
else
    bad "no reload_failed line for a malformed controller.json"
fi
if kill -0 "$cpid" 2>/dev/null && curl -sf "$status_url" >/dev/null; then
    ok "Controller: still running after a failed reload"
else
    bad "the Controller stopped after a failed reload"
fi
kill -TERM "$cpid"
wait_for 20 sh -c "! kill -0 $cpid" && ok "Controller: SIGTERM still stops it" || bad "the Controller ignored SIGTERM"

# --- Agent -----------------------------------------------------------------------------------
adir=$tmp/agent
mkdir -m 0700 "$adir"
lport=$(free_port)
"$agent" config -a "http://127.0.0.1:$port/api/v3/" -dl "$adir/data/" -ld "$adir/log/" -lp "$lport" \
    -sf 10 -ll INFO --config-dir "$adir" >/dev/null
IOFOG_LOG_LEVEL= "$agent" start --foreground --config-dir "$adir" >"$tmp/agent.out" 2>&1 &
apid=$!
pids+=("$apid")
wait_for 20 "$agent" status --config-dir "$adir" ||
    { cat "$tmp/agent.out"; bad "the Agent did not start"; exit 1; }
info() { "$agent" info --config-dir "$adir"; }
info_has() { info | grep -qiE "$1"; }
info_has 'status-update-frequency *: *10' && ok "Agent: statusFrequency 10 at start" ||
    bad "Agent info before the edit: $(info | grep -i 'status-update')"
python3 - "$adir/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["statusFrequency"] = 17
c["logLevel"] = "DEBUG"
c["dockerUrl"] = "unix:///nonexistent/docker.sock"
json.dump(c, open(path, "w"), indent=2)
EOF
sleep 0.5
info_has 'status-update-frequency *: *10' && ok "Agent: the edited file is not taken before SIGHUP" ||
    bad "Agent took the file without SIGHUP: $(info | grep -i 'status-update')"
kill -HUP "$apid"
if wait_for 10 info_has 'status-update-frequency *: *17'; then
    ok "Agent SIGHUP: statusFrequency 17 in the running daemon"
else
    bad "Agent info after SIGHUP: $(info | grep -i 'status-update')"
fi
if wait_for 5 grep -q 'reloaded logLevel=DEBUG .*restart_needed=dockerUrl' "$tmp/agent.out"; then
    ok "Agent: reload line names dockerUrl as needing a restart"
else
    bad "no Agent reload line: $(tail -n 3 "$tmp/agent.out")"
fi
info_has 'log-level *: *DEBUG' && ok "Agent: logLevel DEBUG in the running daemon" ||
    bad "Agent log level after SIGHUP: $(info | grep -i 'log-level')"
"$agent" status --config-dir "$adir" >/dev/null 2>&1 && ok "Agent: still answers after SIGHUP" ||
    bad "the Agent stopped answering after SIGHUP"
kill -TERM "$apid"
wait_for 30 sh -c "! kill -0 $apid" && ok "Agent: SIGTERM still stops it" || bad "the Agent ignored SIGTERM"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
