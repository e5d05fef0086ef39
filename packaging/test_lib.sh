# Shared by the packaging tests that start a real Controller and Agent (reload_test.sh,
# promtool_test.sh); sourced after they set $tmp, their scratch directory. Every pid a test adds
# to `pids` is stopped on exit (TERM, up to 30 s, then KILL) and $tmp is removed.
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or time is up (1).
wait_for() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
