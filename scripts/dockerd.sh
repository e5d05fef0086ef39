#!/usr/bin/env bash
# Makes sure a Docker Engine answers on /var/run/docker.sock. When none does, starts dockerd in the
# background (log in $IOFOG_DOCKERD_LOG, default /var/log/iofog-dockerd.log) and waits until it
# answers, for up to $IOFOG_DOCKERD_WAIT seconds (default 60).
# Usage: scripts/dockerd.sh [status|start|stop]   (default: start)
#   status  exit 0 if an engine answers, 1 otherwise
#   start   start dockerd unless an engine answers already
#   stop    stop a dockerd this script started (its pid is in /run/iofog-dockerd.pid)
set -euo pipefail

sock=/var/run/docker.sock
log=${IOFOG_DOCKERD_LOG:-/var/log/iofog-dockerd.log}
pidfile=/run/iofog-dockerd.pid
wait_s=${IOFOG_DOCKERD_WAIT:-60}

answers() {
    [ -S "$sock" ] && curl -sf --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
}

case "${1:-start}" in
    -h|--help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    status)
        if answers; then echo "dockerd: engine answers on $sock"; exit 0; fi
        echo "dockerd: no engine answers on $sock"; exit 1 ;;
    stop)
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")"
            for _ in $(seq 1 100); do
                kill -0 "$(cat "$pidfile")" 2>/dev/null || break
                sleep 0.2
            done
            rm -f "$pidfile"
            echo "dockerd: stopped"
        else
            echo "dockerd: not started by this script"
        fi
        exit 0 ;;
    start) ;;
    *) echo "usage: $0 [status|start|stop]" >&2; exit 2 ;;
esac

if answers; then
    echo "dockerd: engine already answers on $sock"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "dockerd: not installed; run scripts/install-deps.sh first" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "dockerd: starting the engine needs root" >&2
    exit 1
fi

# containerd comes with docker.io; dockerd starts its own when none runs.
mkdir -p "$(dirname "$log")"
echo "dockerd: starting (log: $log)"
nohup dockerd --host "unix://$sock" >>"$log" 2>&1 &
echo $! >"$pidfile"

for _ in $(seq 1 $((wait_s * 5))); do
    if answers; then
        echo "dockerd: engine answers on $sock"
        exit 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "dockerd: exited during start; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "dockerd: no answer after ${wait_s}s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
