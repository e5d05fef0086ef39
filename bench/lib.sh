# Shared helpers of the benchmarks (sourced, not run): the Release build of what a benchmark runs,
# free ports, and for those that run a Controller and an Agent the same
# set-up as agent/agent_testutil.h with the Release binaries of $build: a Controller on a free
# loopback port with a private data directory and a user, a node, an iofog-agent configured with
# its own config directory and free Local API port, started with `start --foreground` and
# provisioned with the node's key. bench_teardown stops both and removes the node's containers.
# Needs: build (the build directory), python3, curl.

# bench_build TARGET...: builds the targets in Release in $build, unless IOFOG_BENCH_NO_BUILD is
# set (bench/run builds everything once before the benchmarks).
bench_build() {
    [ -z "${IOFOG_BENCH_NO_BUILD:-}" ] || return 0
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DIOFOG_TESTS=OFF >/dev/null
    cmake --build "$build" -j "$(nproc)" --target "$@" >/dev/null
}

bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_json <path expression> reads JSON on stdin and prints the value (e.g. '["uuid"]').
bench_json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# bench_api METHOD PATH [BODY]: the user API with the user's token.
bench_api() {
    curl -sf -X "$1" "$BENCH_URL$2" -H "Authorization: Bearer $BENCH_USER" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}
}

# bench_agent_cli ARGS...: the agent's CLI on the benchmark's config directory.
bench_agent_cli() { "$build/agent/iofog-agent" "$@" --config-dir "$BENCH_AGENT_DIR"; }

# Starts the Controller and a provisioned agent. Sets BENCH_DIR, BENCH_URL, BENCH_CTL_PID,
# BENCH_USER (user token), BENCH_NODE (node uuid), BENCH_AGENT_DIR, BENCH_AGENT_PID,
# BENCH_LOCAL_PORT. Returns non-zero when something does not come up.
bench_setup() {
    BENCH_DIR=$(mktemp -d)
    local port
    for _ in 1 2 3; do
        port=$(bench_free_port)
        "$build/controller/iofog-controller" start --foreground --bind 127.0.0.1 --port "$port" \
            --data-dir "$BENCH_DIR" --log-level error 2>>"$BENCH_DIR/controller.log" &
        BENCH_CTL_PID=$!
        BENCH_URL="http://127.0.0.1:$port"
        for _ in $(seq 1 100); do
            curl -sf "$BENCH_URL/api/v3/status" >/dev/null && break
            kill -0 "$BENCH_CTL_PID" 2>/dev/null || break
            sleep 0.05
        done
        curl -sf "$BENCH_URL/api/v3/status" >/dev/null && break
        kill "$BENCH_CTL_PID" 2>/dev/null || true
        wait "$BENCH_CTL_PID" 2>/dev/null || true
        BENCH_CTL_PID=
    done
    [ -n "$BENCH_CTL_PID" ] || { echo "bench: Controller did not start" >&2; return 1; }
    local admin
    admin=$(cat "$BENCH_DIR/admin-token")
    curl -sf -X POST "$BENCH_URL/api/v3/user/signup" -H "Authorization: Bearer $admin" \
        -d '{"firstName":"Bench","lastName":"Agent","email":"bench@example.com","password":"password1"}' \
        >/dev/null
    BENCH_USER=$(curl -sf -X POST "$BENCH_URL/api/v3/user/login" \
        -d '{"email":"bench@example.com","password":"password1"}' | bench_json '["accessToken"]')
    BENCH_NODE=$(bench_api POST /api/v3/iofog '{"name":"bench-node","fogType":1}' | bench_json '["uuid"]')
    bench_api POST /api/v3/application '{"name":"bench","isActivated":true}' >/dev/null

    BENCH_AGENT_DIR="$BENCH_DIR/agent"
    BENCH_LOCAL_PORT=$(bench_free_port)
    bench_agent_cli config -a "$BENCH_URL/api/v3/" -dl "$BENCH_AGENT_DIR/data" \
        -ld "$BENCH_AGENT_DIR/log" -lp "$BENCH_LOCAL_PORT" -sf 2 >/dev/null
    "$build/agent/iofog-agent" start --foreground --config-dir "$BENCH_AGENT_DIR" \
        2>>"$BENCH_DIR/agent.log" &
    BENCH_AGENT_PID=$!
    local up=
    for _ in $(seq 1 100); do
        bench_agent_cli status >/dev/null 2>&1 && { up=1; break; }
        kill -0 "$BENCH_AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$up" ] || { echo "bench: agent did not start" >&2; return 1; }
    local key
    key=$(bench_api GET "/api/v3/iofog/$BENCH_NODE/provisioning-key" | bench_json '["key"]')
    bench_agent_cli provision "$key" >/dev/null
    for _ in $(seq 1 100); do
        bench_agent_cli status 2>/dev/null | grep -q ': ok' && return 0
        sleep 0.1
    done
    echo "bench: agent did not connect to the Controller" >&2
    return 1
}

# Stops the agent (its containers go with it; any left are removed) and the Controller.
bench_teardown() {
    if [ -n "${BENCH_AGENT_PID:-}" ]; then
        bench_agent_cli stop >/dev/null 2>&1 || kill "$BENCH_AGENT_PID" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$BENCH_AGENT_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$BENCH_AGENT_PID" 2>/dev/null || true
        wait "$BENCH_AGENT_PID" 2>/dev/null || true
        BENCH_AGENT_PID=
    fi
    if [ -n "${BENCH_NODE:-}" ]; then
        local left
        left=$(docker ps -aq --filter "label=iofog-uuid=$BENCH_NODE" 2>/dev/null || true)
        [ -z "$left" ] || docker rm -f $left >/dev/null 2>&1 || true
    fi
    if [ -n "${BENCH_CTL_PID:-}" ]; then
        kill "$BENCH_CTL_PID" 2>/dev/null || true
        wait "$BENCH_CTL_PID" 2>/dev/null || true
        BENCH_CTL_PID=
    fi
    [ -z "${BENCH_DIR:-}" ] || rm -rf "$BENCH_DIR"
    BENCH_DIR=
}

# Memory of a process from /proc/<pid>/smaps_rollup: "RSS PSS PrivateDirty" in MB.
bench_mem() {
    awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_Dirty:/{d=$2} END{printf "%.2f %.2f %.2f\n", r/1024, p/1024, d/1024}' \
        "/proc/$1/smaps_rollup"
}
