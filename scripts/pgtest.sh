#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on 127.0.0.1 for tests and benchmarks (Debian's postgresql-15).
#
#   scripts/pgtest.sh start <dir> <port>   initdb into <dir>/data, start on 127.0.0.1:<port>
#   scripts/pgtest.sh stop <dir>           stop it (fast shutdown) and remove <dir>
#   scripts/pgtest.sh initdb <dir>         only the initdb step
#   scripts/pgtest.sh run <dir> <port>     exec the server in the foreground (the postmaster
#                                          replaces this script, so its pid is the caller's
#                                          child); it gets SIGQUIT (immediate shutdown) when
#                                          that caller dies, so a crashed test leaves no server
#
# The superuser is "postgres" with trust authentication on loopback only; the cluster listens on
# TCP 127.0.0.1 and on no Unix socket, so it needs no writable socket directory. fsync is off:
# the data is thrown away anyway.
#
# PostgreSQL refuses to run as root. When this script runs as root, initdb, pg_ctl and the
# server run as an unprivileged user (IOFOG_PG_USER, default "nobody") through runuser/setpriv,
# and <dir> is handed to that user; <dir> must therefore lie below directories that user can
# traverse (callers use /tmp). Anyone else runs the binaries directly.
set -euo pipefail

PGBIN=${IOFOG_PG_BIN:-}
if [[ -z "$PGBIN" ]]; then
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" ]] && PGBIN=$d
    done
fi
[[ -n "$PGBIN" && -x "$PGBIN/initdb" ]] || { echo "pgtest: no PostgreSQL binaries found" >&2; exit 2; }

SERVER_OPTS=(-c listen_addresses=127.0.0.1 -c "unix_socket_directories=" -c fsync=off
    -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
    -c shared_buffers=32MB)

# Runs a command as the unprivileged user when root; "exec" replaces this shell.
as_pg_exec() {
    if [[ $(id -u) -eq 0 ]]; then
        local user=${IOFOG_PG_USER:-nobody}
        exec setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
            --pdeathsig=SIGQUIT -- "$@"
    fi
    exec "$@" # the caller set the parent-death signal before running this script
}

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        local user=${IOFOG_PG_USER:-nobody}
        if command -v runuser >/dev/null; then
            runuser -u "$user" -- "$@"
        else
            setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
        fi
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[[ -n "$dir" ]] || { echo "usage: $0 start|run <dir> <port> | stop|initdb <dir>" >&2; exit 2; }

do_initdb() {
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown "${IOFOG_PG_USER:-nobody}" "$dir"
    fi
    cd "$dir" # the server's working directory must be readable by its user
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
}

case "$cmd" in
initdb)
    do_initdb
    ;;
run)
    port=${3:?port}
    cd "$dir"
    as_pg_exec "$PGBIN/postgres" -D "$dir/data" -p "$port" "${SERVER_OPTS[@]}"
    ;;
start)
    port=${3:?port}
    do_initdb
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=200 -c shared_buffers=32MB" >/dev/null ||
        { cat "$dir/data/server.log" >&2; exit 1; }
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        cd "$dir"
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|run <dir> <port> | stop|initdb <dir>" >&2
    exit 2
    ;;
esac
