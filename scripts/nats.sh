#!/usr/bin/env bash
# Runs Debian's nats-server for the demo and the benchmarks, bound to 127.0.0.1 unless told
# otherwise. Pid file and log live in a state dir: $IOFOG_NATS_DIR, default /tmp/iofog-nats-<port>.
# Usage: scripts/nats.sh start|stop|status|url [port]     (port default 4222)
# Environment: IOFOG_NATS_BIND (default 127.0.0.1), IOFOG_NATS_ARGS (extra nats-server arguments),
# IOFOG_NATS_AUTH_FILE (per-node users: the file iofog-controller --nats-auth-file writes; a
# locked placeholder is written when it does not exist yet; give the Controller --nats-pid-file
# <state dir>/nats-server.pid so that it reloads), IOFOG_NATS_TLS_CERT + IOFOG_NATS_TLS_KEY
# (TLS on; clients then use tls://), IOFOG_NATS_TLS_CA (also require client certificates).
set -euo pipefail
cmd=${1:-}
port=${2:-4222}
bind=${IOFOG_NATS_BIND:-127.0.0.1}
dir=${IOFOG_NATS_DIR:-/tmp/iofog-nats-$port}
pidfile=$dir/nats-server.pid
log=$dir/nats-server.log
scheme=nats
[ -n "${IOFOG_NATS_TLS_CERT:-}" ] && scheme=tls

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
start)
    if running; then
        echo "nats-server already running (pid $(cat "$pidfile"), $scheme://$bind:$port)"
        exit 0
    fi
    server=$(command -v nats-server || echo /usr/sbin/nats-server)
    [ -x "$server" ] || { echo "nats-server not installed (apt-get install nats-server)" >&2; exit 1; }
    mkdir -p "$dir"
    conf_args=()
    if [ -n "${IOFOG_NATS_AUTH_FILE:-}" ] || [ -n "${IOFOG_NATS_TLS_CERT:-}" ]; then
        conf=$dir/nats.conf
        umask 077
        : >"$conf"
        if [ -n "${IOFOG_NATS_AUTH_FILE:-}" ]; then
            auth=$(realpath -m "$IOFOG_NATS_AUTH_FILE")
            if [ ! -f "$auth" ]; then
                # Until the Controller writes its users: one nobody knows the password of, so
                # that nats-server asks every client for credentials from the start.
                mkdir -p "$(dirname "$auth")"
                secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=')
                printf 'authorization {
  users = [
    {"user":"_iofog_locked","password":"%s","permissions":{"publish":{"deny":[">"]},"subscribe":{"deny":[">"]}}}
  ]
}
' \
                    "$secret" >"$auth"
            fi
            # nats-server resolves an include relative to the including file, absolute or not.
            printf 'include "%s"\n' "$(realpath -m --relative-to="$dir" "$auth")" >>"$conf"
        fi
        if [ -n "${IOFOG_NATS_TLS_CERT:-}" ]; then
            [ -n "${IOFOG_NATS_TLS_KEY:-}" ] || { echo "IOFOG_NATS_TLS_KEY is required with IOFOG_NATS_TLS_CERT" >&2; exit 2; }
            {
                echo "tls {"
                echo "  cert_file: \"$(realpath "$IOFOG_NATS_TLS_CERT")\""
                echo "  key_file: \"$(realpath "$IOFOG_NATS_TLS_KEY")\""
                if [ -n "${IOFOG_NATS_TLS_CA:-}" ]; then
                    echo "  ca_file: \"$(realpath "$IOFOG_NATS_TLS_CA")\""
                    echo "  verify: true"
                fi
                echo "}"
            } >>"$conf"
        fi
        conf_args=(-c "$conf")
    fi
    # shellcheck disable=SC2086 # IOFOG_NATS_ARGS is a list of arguments
    setsid "$server" "${conf_args[@]}" -a "$bind" -p "$port" -P "$pidfile" ${IOFOG_NATS_ARGS:-} >>"$log" 2>&1 < /dev/null &
    for _ in $(seq 1 100); do
        if running && (exec 3<>"/dev/tcp/$bind/$port") 2>/dev/null; then
            echo "nats-server running (pid $(cat "$pidfile"), $scheme://$bind:$port, log $log)"
            exit 0
        fi
        sleep 0.1
    done
    echo "nats-server did not start; see $log" >&2
    tail -n 5 "$log" >&2 || true
    exit 1
    ;;
stop)
    if ! running; then
        echo "nats-server not running"
        rm -f "$pidfile"
        exit 0
    fi
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "nats-server stopped"; exit 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "nats-server killed"
    ;;
status)
    if running; then
        echo "nats-server running (pid $(cat "$pidfile"), $scheme://$bind:$port)"
    else
        echo "nats-server not running"
        exit 3
    fi
    ;;
url)
    echo "$scheme://$bind:$port"
    ;;
*)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    [ -n "$cmd" ] && [ "$cmd" != "-h" ] && [ "$cmd" != "--help" ] && exit 2
    exit 0
    ;;
esac
