#!/usr/bin/env bash
# A scale-out deployment on this machine, every part on 127.0.0.1 (docs/scale-out.md):
# one PostgreSQL, three Controllers sharing it, HAProxy in front of them (health checks on
# /api/v3/status, long-poll-friendly timeouts), a three-server NATS cluster, and Agents that
# reach the Controllers through HAProxy and are handed all three NATS URLs.
#
# Usage: scripts/scale-out.sh up|down|status [options]
#   up       start everything (fails, and stops what it started, if a part does not come up)
#   down     stop everything `up` started (also after a partial `up`) and remove the state
#   status   one line per part: running or not, its address and pid
#   restart NAME   start part NAME again as `up` started it (controller-N, nats-N, haproxy,
#            agent-N), e.g. after it was killed
# Options:
#   --dir DIR        state directory: pids, logs, data, ports (default /tmp/iofog-scale-out;
#                    env IOFOG_SCALE_DIR)
#   --build DIR      build directory with the binaries (default build/dev, else build/release;
#                    env IOFOG_SCALE_BUILD); installed iofog-controller/iofog-agent otherwise
#   --agents N       Agents to start (default 2, at least 2)
#   --controllers N  Controller replicas (default 3; more for fleets above 3 x 20,000 agents)
#   --lb-port PORT   HAProxy's port (default 51121; 0 picks a free one)
#   --no-agents      start no Agents (the simulated-agent benchmark brings its own)
# After `up`, DIR/env holds the addresses as shell assignments (LB_URL, CTL_PORTS, NATS_URLS,
# USER_TOKEN, ...), for scripts and tests that drive the deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

cmd=${1:-}
[ $# -gt 0 ] && shift
part=
if [ "$cmd" = restart ] && [ $# -gt 0 ]; then
    part=$1
    shift
fi
dir=${IOFOG_SCALE_DIR:-/tmp/iofog-scale-out}
build=${IOFOG_SCALE_BUILD:-}
n_agents=2
n_ctl=3
lb_port=51121
with_agents=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --agents) n_agents=$2; shift 2 ;;
        --controllers) n_ctl=$2; shift 2 ;;
        --lb-port) lb_port=$2; shift 2 ;;
        --no-agents) with_agents=; shift ;;
        -h|--help) cmd=--help; shift ;;
        *) echo "scale-out: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$cmd" in
    up|down|status) ;;
    restart) [ -n "$part" ] || { echo "scale-out: restart needs a part name" >&2; exit 2; } ;;
    -h|--help|help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
[ "$n_agents" -ge 2 ] 2>/dev/null || { echo "scale-out: --agents must be at least 2" >&2; exit 2; }
[ "$n_ctl" -ge 1 ] 2>/dev/null || { echo "scale-out: --controllers must be at least 1" >&2; exit 2; }
mkdir -p "$dir"
dir=$(realpath "$dir")

if [ -z "$build" ]; then
    for b in build/dev build/release; do
        [ -x "$b/controller/iofog-controller" ] && { build=$b; break; }
    done
fi
if [ -n "$build" ]; then
    controller_bin=$(realpath "$build/controller/iofog-controller")
    agent_bin=$(realpath "$build/agent/iofog-agent")
else
    controller_bin=$(command -v iofog-controller || true)
    agent_bin=$(command -v iofog-agent || true)
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
json_get() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# Running: the process exists and is no zombie (a killed part nobody reaped stays one here).
alive() {
    local pid stat
    [ -f "$dir/pids/$1" ] || return 1
    pid=$(cat "$dir/pids/$1")
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}
wait_tcp() { # port, tries of 0.1 s
    local i
    for ((i = 0; i < $2; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# Starts a long-running part in its own session; its pid goes to DIR/pids/NAME.
spawn() {
    local name=$1
    shift
    printf '%s\0' "$@" >"$dir/cmds/$name" # for restart
    setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pids/$name"
}

do_restart() {
    [ -f "$dir/cmds/$part" ] || { echo "scale-out: no part $part in $dir" >&2; exit 2; }
    ! alive "$part" || { echo "scale-out: $part is running (pid $(cat "$dir/pids/$part"))" >&2; exit 1; }
    local args=()
    mapfile -d '' args <"$dir/cmds/$part"
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    spawn "$part" "${args[@]}"
    echo "scale-out: $part started again (pid $(cat "$dir/pids/$part"))"
}

# ---- down ----
stop_pid() { # name: TERM, then KILL after 10 s
    local f=$dir/pids/$1 pid i
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if alive "$1"; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$1" || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

do_down() {
    [ -d "$dir/pids" ] || { rm -rf "$dir"; echo "scale-out: nothing running"; return 0; }
    local f name
    for f in "$dir"/pids/agent-*; do
        [ -e "$f" ] || continue
        name=$(basename "$f")
        # The Agent's own stop removes its microservices' containers.
        timeout 20 "$agent_bin" stop --config-dir "$dir/$name" >/dev/null 2>&1 || true
        stop_pid "$name"
    done
    # Containers of our nodes that an Agent killed with -9 left behind (ours only: by node uuid).
    if [ -f "$dir/nodes" ] && command -v docker >/dev/null; then
        local uuid left
        while read -r uuid; do
            left=$(docker ps -aq --filter "label=iofog-uuid=$uuid" 2>/dev/null || true)
            [ -z "$left" ] || docker rm -f $left >/dev/null 2>&1 || true
        done <"$dir/nodes"
    fi
    for f in "$dir"/pids/*; do
        [ -e "$f" ] || continue
        name=$(basename "$f")
        [ "$name" = postgres ] || stop_pid "$name"
    done
    if [ -f "$dir/pids/postgres" ]; then
        # Fast shutdown, then the data goes (pgtest.sh stop removes its directory).
        bash scripts/pgtest.sh stop "$dir/pg" >/dev/null 2>&1 || true
        stop_pid postgres
    fi
    rm -rf "$dir"
    echo "scale-out: stopped"
}

# ---- status ----
do_status() {
    [ -f "$dir/env" ] || { echo "scale-out: not up (no $dir/env)"; return 3; }
    # shellcheck disable=SC1091
    . "$dir/env"
    local bad=0 f name state
    for f in "$dir"/pids/*; do
        name=$(basename "$f")
        if alive "$name"; then state=running; else state=DOWN; bad=1; fi
        printf '%-12s %-8s pid %s\n' "$name" "$state" "$(cat "$f")"
    done
    local i=0 p
    for p in $CTL_PORTS; do
        i=$((i + 1))
        if curl -sf -m 2 "http://127.0.0.1:$p/api/v3/status" >/dev/null; then state=healthy; else state=unhealthy; fi
        echo "controller-$i http://127.0.0.1:$p $state"
    done
    if curl -sf -m 2 "$LB_URL/api/v3/status" >/dev/null; then state=healthy; else state=unhealthy; bad=1; fi
    echo "haproxy      $LB_URL $state (stats: $LB_STATS_URL)"
    echo "nats         $NATS_URLS"
    return $bad
}

# ---- up ----
fail_up() {
    echo "scale-out: $*; stopping what was started (logs were in $dir/logs)" >&2
    tail -n 5 "$dir"/logs/*.log >&2 2>/dev/null || true
    do_down >/dev/null 2>&1 || true
    exit 1
}

do_up() {
    [ -x "$controller_bin" ] && [ -x "$agent_bin" ] ||
        { echo "scale-out: iofog-controller/iofog-agent not found (build first, or --build DIR)" >&2; exit 1; }
    local need
    for need in haproxy nats-server; do
        command -v "$need" >/dev/null || [ -x "/usr/sbin/$need" ] ||
            { echo "scale-out: $need not installed (scripts/install-deps.sh)" >&2; exit 1; }
    done
    [ ! -f "$dir/env" ] || { echo "scale-out: already up in $dir (run down first)" >&2; exit 1; }
    mkdir -p "$dir/pids" "$dir/logs" "$dir/cmds"
    # PostgreSQL runs as another user when we are root (scripts/pgtest.sh): it must traverse DIR.
    chmod 755 "$dir"
    local haproxy nats
    haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
    nats=$(command -v nats-server || echo /usr/sbin/nats-server)
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    local t0=$SECONDS i

    # PostgreSQL: the one database every Controller shares (all state lives here).
    local pg_port
    pg_port=$(free_port)
    bash scripts/pgtest.sh start "$dir/pg" "$pg_port" || fail_up "PostgreSQL did not start"
    head -n 1 "$dir/pg/data/postmaster.pid" >"$dir/pids/postgres"
    local db_ok=
    for ((i = 0; i < 50; i++)); do
        psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'CREATE DATABASE iofog' >/dev/null 2>&1 &&
            { db_ok=1; break; }
        sleep 0.1
    done
    [ -n "$db_ok" ] || fail_up "CREATE DATABASE failed"
    local db_url="postgres://postgres@127.0.0.1:$pg_port/iofog"

    # NATS: three servers in one cluster, each routing to the two others.
    local nats_ports=() cluster_ports=() monitor_ports=() nats_urls=""
    for i in 1 2 3; do
        nats_ports+=("$(free_port)")
        cluster_ports+=("$(free_port)")
        monitor_ports+=("$(free_port)")
    done
    for i in 0 1 2; do
        local routes="" j
        for j in 0 1 2; do
            [ "$j" = "$i" ] && continue
            routes+="${routes:+,}nats://127.0.0.1:${cluster_ports[$j]}"
        done
        spawn "nats-$((i + 1))" "$nats" -a 127.0.0.1 -p "${nats_ports[$i]}" -n "iofog-nats-$((i + 1))" \
            -m "${monitor_ports[$i]}" \
            --cluster_name iofog --cluster "nats://127.0.0.1:${cluster_ports[$i]}" --routes "$routes"
        nats_urls+="${nats_urls:+,}nats://127.0.0.1:${nats_ports[$i]}"
    done
    for i in 0 1 2; do
        wait_tcp "${nats_ports[$i]}" 100 || fail_up "nats-server $((i + 1)) did not start"
    done

    # Controllers: same database, same NATS URLs for their agents, same admin token (each
    # reads it from its own data directory; the first writes it).
    local ctl_ports=()
    for ((i = 1; i <= n_ctl; i++)); do
        ctl_ports+=("$(free_port)")
        mkdir -p "$dir/controller-$i"
        if [ "$i" -gt 1 ]; then
            cp "$dir/controller-1/admin-token" "$dir/controller-$i/admin-token"
        fi
        # connectionMemoryBytes 4096: 8 KiB per held long-poll is more than a poll needs, and
        # at tens of thousands of polls per replica it is most of the RSS. Behind HAProxy every
        # agent connection comes from HAProxy's address: the per-address cap (default 256) must
        # hold them all. httpThreads 8: a request waits on PostgreSQL (token, flags) on its HTTP
        # thread, so with the default 2 a burst of polls leaves none free for /status and
        # HAProxy's health check times out on a live replica.
        echo '{"connectionMemoryBytes": 4096, "maxConnections": 40000, "maxConnectionsPerAddress": 40000, "httpThreads": 8}' \
            >"$dir/controller-$i/controller.json"
        spawn "controller-$i" "$controller_bin" start --foreground --bind 127.0.0.1 \
            --port "${ctl_ports[$((i - 1))]}" --data-dir "$dir/controller-$i" --db "$db_url" \
            --nats-url "$nats_urls" --log-level info
        local up=
        for ((j = 0; j < 150; j++)); do
            curl -sf -m 1 "http://127.0.0.1:${ctl_ports[$((i - 1))]}/api/v3/status" >/dev/null && { up=1; break; }
            alive "controller-$i" || break
            sleep 0.1
        done
        [ -n "$up" ] || fail_up "Controller $i did not start"
    done

    # HAProxy: round robin over the healthy replicas; a replica that fails two checks 500 ms
    # apart is out. Timeouts: a long-poll is held up to 60 s (agent longPollWait), so client and
    # server timeouts are above that; a request to a replica that just died is sent to another.
    [ "$lb_port" != 0 ] || lb_port=$(free_port)
    local stats_port
    stats_port=$(free_port)
    {
        echo "global"
        echo "    maxconn 9000"
        echo "    pidfile $dir/haproxy.pid"
        echo "    stats socket $dir/haproxy.sock mode 600 level admin"
        echo "defaults"
        echo "    mode http"
        echo "    option redispatch"
        echo "    retries 3"
        echo "    retry-on conn-failure empty-response 502 503"
        echo "    timeout connect 1s"
        echo "    timeout client 75s"
        echo "    timeout server 75s"
        echo "    timeout http-request 10s"
        echo "    timeout http-keep-alive 75s"
        echo "    timeout queue 5s"
        # Without it a check's whole timeout is its interval (500 ms): a replica slowed by load
        # would be marked down although it answers. A dead replica refuses the connection at once.
        echo "    timeout check 2s"
        echo "frontend api"
        echo "    bind 127.0.0.1:$lb_port"
        echo "    maxconn 8500"
        echo "    default_backend controllers"
        echo "frontend stats"
        echo "    bind 127.0.0.1:$stats_port"
        echo "    stats enable"
        echo "    stats uri /stats"
        echo "backend controllers"
        echo "    balance roundrobin"
        echo "    option httpchk GET /api/v3/status"
        echo "    http-check expect status 200"
        echo "    default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions"
        for ((i = 1; i <= n_ctl; i++)); do
            echo "    server controller-$i 127.0.0.1:${ctl_ports[$((i - 1))]} check"
        done
    } >"$dir/haproxy.cfg"
    "$haproxy" -c -q -f "$dir/haproxy.cfg" || fail_up "haproxy refused its configuration"
    spawn haproxy "$haproxy" -W -db -f "$dir/haproxy.cfg"
    local lb_url="http://127.0.0.1:$lb_port"
    local lb_ok=
    for ((i = 0; i < 100; i++)); do
        curl -sf -m 1 "$lb_url/api/v3/status" >/dev/null && { lb_ok=1; break; }
        sleep 0.1
    done
    [ -n "$lb_ok" ] || fail_up "HAProxy did not answer"

    # A user, through the load balancer.
    local admin user
    admin=$(cat "$dir/controller-1/admin-token")
    curl -sf -X POST "$lb_url/api/v3/user/signup" -H "Authorization: Bearer $admin" \
        -d '{"firstName":"Scale","lastName":"Out","email":"scale@example.com","password":"password1"}' \
        >/dev/null || fail_up "user signup failed"
    user=$(curl -sf -X POST "$lb_url/api/v3/user/login" \
        -d '{"email":"scale@example.com","password":"password1"}' | json_get '["accessToken"]') ||
        fail_up "user login failed"

    {
        echo "STATE_DIR='$dir'"
        echo "PG_PORT=$pg_port"
        echo "DB_URL='$db_url'"
        echo "CTL_PORTS='${ctl_ports[*]}'"
        echo "LB_PORT=$lb_port"
        echo "LB_URL='$lb_url'"
        echo "LB_STATS_URL='http://127.0.0.1:$stats_port/stats'"
        echo "NATS_PORTS='${nats_ports[*]}'"
        echo "NATS_CLUSTER_PORTS='${cluster_ports[*]}'"
        echo "NATS_URLS='$nats_urls'"
        echo "NATS_MONITOR_PORTS='${monitor_ports[*]}'"
        echo "ADMIN_TOKEN='$admin'"
        echo "USER_TOKEN='$user'"
        echo "CONTROLLER_BIN='$controller_bin'"
        echo "AGENT_BIN='$agent_bin'"
        echo "NATS_BIN='$nats'"
    } >"$dir/env"

    # Agents: each its own config directory and Local API port; the Controller URL is HAProxy.
    local agent_ports=() nodes=()
    if [ -n "$with_agents" ]; then
        for ((i = 1; i <= n_agents; i++)); do
            local ad=$dir/agent-$i lp node key
            lp=$(free_port)
            agent_ports+=("$lp")
            mkdir -p "$ad"
            "$agent_bin" config --config-dir "$ad" -a "$lb_url/api/v3/" -dl "$ad/data" -ld "$ad/log" \
                -lp "$lp" -sf 2 >/dev/null || fail_up "agent $i config failed"
            spawn "agent-$i" "$agent_bin" start --foreground --config-dir "$ad"
            node=$(curl -sf -X POST "$lb_url/api/v3/iofog" -H "Authorization: Bearer $user" \
                -d "{\"name\":\"scale-node-$i\",\"fogType\":1}" | json_get '["uuid"]') ||
                fail_up "node $i not created"
            nodes+=("$node")
            echo "$node" >>"$dir/nodes"
            key=$(curl -sf "$lb_url/api/v3/iofog/$node/provisioning-key" -H "Authorization: Bearer $user" |
                json_get '["key"]') || fail_up "no provisioning key for node $i"
            local ok=
            for ((j = 0; j < 100; j++)); do
                "$agent_bin" status --config-dir "$ad" >/dev/null 2>&1 && { ok=1; break; }
                alive "agent-$i" || break
                sleep 0.1
            done
            [ -n "$ok" ] || fail_up "agent $i did not start"
            "$agent_bin" provision "$key" --config-dir "$ad" >/dev/null || fail_up "agent $i not provisioned"
        done
        for ((i = 1; i <= n_agents; i++)); do
            local ok=
            for ((j = 0; j < 150; j++)); do
                "$agent_bin" status --config-dir "$dir/agent-$i" 2>/dev/null | grep -q ': ok' && { ok=1; break; }
                sleep 0.1
            done
            [ -n "$ok" ] || fail_up "agent $i did not reach the Controllers"
        done
    fi
    {
        echo "AGENT_DIRS='$(for ((i = 1; i <= ${#agent_ports[@]}; i++)); do printf '%s ' "$dir/agent-$i"; done)'"
        echo "AGENT_LOCAL_PORTS='${agent_ports[*]}'"
        echo "NODES='${nodes[*]}'"
    } >>"$dir/env"
    echo "scale-out: up in $((SECONDS - t0)) s, state in $dir"
    echo "  API (HAProxy)  $lb_url   stats http://127.0.0.1:$stats_port/stats"
    echo "  Controllers    ${ctl_ports[*]} (127.0.0.1) on $db_url"
    echo "  NATS cluster   $nats_urls"
    [ -z "$with_agents" ] || echo "  Agents         ${#agent_ports[@]}, Local API ports ${agent_ports[*]}"
    echo "  user token     in $dir/env (USER_TOKEN), admin token $dir/controller-1/admin-token"
}

case "$cmd" in
    up) do_up ;;
    down) do_down ;;
    status) do_status ;;
    restart) do_restart ;;
esac
