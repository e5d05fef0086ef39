#!/usr/bin/env bash
# Simulated-agent fleet on the scale-out deployment (a benchmark, not a test; docs/scale-out.md).
# For each N: scripts/scale-out.sh up --no-agents (PostgreSQL, Controller replicas, HAProxy, the
# NATS cluster), then N simulated agents (bench/agent_sim.c) created, provisioned and holding
# long-polls of config/changes, spread evenly over the replicas, then 300 configuration changes
# at 50/s through the user API on HAProxy (a change lands on any replica and reaches the replica
# holding that agent's poll through PostgreSQL's notifications).
#
# One process here may hold at most `ulimit -Hn` (20,000) descriptors, so neither one Controller
# nor HAProxy can hold 100,000 polls: the simulators connect to the replicas directly (not through
# HAProxy), at most 16,000 agents per simulator process and per replica, and the number of
# replicas is max(3, ceil(N / 16,000)).
#
# Reports change delivery p50/p99/max (all simulators merged), each Controller's RSS and CPU during
# the changes, PostgreSQL's CPU (postmaster and backends) and connections, and the set-up time
# (create + provision + hold the polls). Targets: p99 <= 1 s, total Controller RSS <= 1 GB.
# Usage: bench/scale_out.sh [--json] [--changes K] [--rate R] [--status-interval S]
#                           [--keep-logs DIR] [N ...]
#        (default 10000; K 300, R 50/s, S 10 s between one agent's status reports; --keep-logs:
#        the logs of every part and simulator of each run are copied to DIR/N before tear-down)
# Environment: IOFOG_BENCH_BUILD (default build/release), IOFOG_BENCH_NO_BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
json=
keep_logs=
changes=300
rate=50
status_interval=10
counts=()
per_process=16000
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --json) json=1; shift ;;
        --changes) changes=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --status-interval) status_interval=$2; shift 2 ;;
        --keep-logs) keep_logs=$2; shift 2 ;;
        *) counts+=("$1"); shift ;;
    esac
done
[ ${#counts[@]} -eq 0 ] && counts=(10000)
build=${IOFOG_BENCH_BUILD:-build/release}
bench_build iofog-controller iofog-agent agent-sim
build=$(realpath "$build")
ulimit -n "$(ulimit -Hn)"

dir=
cleanup() {
    local p
    for p in ${sim_pids:-}; do kill "$p" 2>/dev/null || true; done
    [ -z "$dir" ] || bash scripts/scale-out.sh down --dir "$dir" >/dev/null 2>&1 || true
    [ -z "${work:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# utime+stime in seconds of a pid (0 when gone).
cpu_s() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    calc "(${12} + ${13}) / $(getconf CLK_TCK)"
}
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
# PostgreSQL: the postmaster and its children.
pg_pids() { echo "$1" $(pgrep -P "$1" || true); }
pg_cpu() {
    local t=0 p
    for p in $(pg_pids "$1"); do t=$(calc "$t + $(cpu_s "$p")"); done
    echo "$t"
}

[ -n "$json" ] || echo "| agents | replicas | change delivery p50 / p99 / max | Controller RSS (total; each) | Controller CPU (each) | PostgreSQL CPU, connections | set-up |"
[ -n "$json" ] || echo "|---|---|---|---|---|---|---|"
all_json=()
for n in "${counts[@]}"; do
    replicas=$(( (n + per_process - 1) / per_process ))
    [ "$replicas" -ge 3 ] || replicas=3
    sims=$replicas
    dir=$(mktemp -d /tmp/iofog-bench-scale.XXXXXX)
    work=$(mktemp -d /tmp/iofog-bench-scale-work.XXXXXX)
    t0=$(date +%s.%N)
    bash scripts/scale-out.sh up --dir "$dir" --build "$build" --no-agents --lb-port 0 \
        --controllers "$replicas" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$dir/env"
    read -ra ports <<<"$CTL_PORTS"
    ctl_pids=()
    for ((i = 1; i <= replicas; i++)); do ctl_pids+=("$(cat "$dir/pids/controller-$i")"); done
    pg_pid=$(cat "$dir/pids/postgres")
    sim_pids=
    ts=$(date +%s.%N)
    for ((j = 0; j < sims; j++)); do
        share=$(( n / sims + (j < n % sims ? 1 : 0) ))
        k=$(( changes / sims + (j < changes % sims ? 1 : 0) ))
        "$build/bench/agent-sim" --port "${ports[$((j % replicas))]}" --admin "$ADMIN_TOKEN" \
            --agents "$share" --changes "$k" --rate "$(calc "$rate / $sims")" \
            --change-port "$LB_PORT" --status-interval "$status_interval" --prefix "sim$j" \
            --go-file "$work/go" --delays-out "$work/delays-$j" >"$work/sim-$j.json" 2>"$work/sim-$j.err" &
        sim_pids+=" $!"
    done
    # Set-up: every simulator has created, provisioned and connected its agents.
    while :; do
        ready=0
        for ((j = 0; j < sims; j++)); do grep -q '^ready' "$work/sim-$j.err" 2>/dev/null && ready=$((ready + 1)); done
        [ "$ready" -lt "$sims" ] || break
        for p in $sim_pids; do
            kill -0 "$p" 2>/dev/null || { echo "bench: a simulator died:" >&2; cat "$work"/sim-*.err >&2; exit 1; }
        done
        sleep 1
    done
    setup=$(calc "$(date +%s.%N) - $ts")
    cpu0=(); for p in "${ctl_pids[@]}"; do cpu0+=("$(cpu_s "$p")"); done
    pg0=$(pg_cpu "$pg_pid")
    tc=$(date +%s.%N)
    touch "$work/go"
    sleep 2
    conns=$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'iofog'")
    for p in $sim_pids; do wait "$p" || { echo "bench: a simulator failed:" >&2; cat "$work"/sim-*.err >&2; exit 1; }; done
    sim_pids=
    secs=$(calc "$(date +%s.%N) - $tc")
    cpu=(); rss=(); rss_total=0
    for ((i = 0; i < replicas; i++)); do
        c1=$(cpu_s "${ctl_pids[$i]}")
        cpu+=("$(calc "($c1 - ${cpu0[$i]}) * 100 / $secs")")
        r=$(rss_mb "${ctl_pids[$i]}")
        rss+=("$r")
        rss_total=$(calc "$rss_total + $r")
    done
    pgcpu=$(calc "($(pg_cpu "$pg_pid") - $pg0) * 100 / $secs")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$(python3 - "$n" "$replicas" "$setup" "$rss_total" "${rss[*]}" "${cpu[*]}" "$pgcpu" "$conns" \
        "$load" "$(calc "$(date +%s.%N) - $t0")" "$work" <<'PY'
import glob, json, sys
n, rep, setup, rss_total, rss, cpu, pgcpu, conns, load, wall, work = sys.argv[1:12]
d = sorted(int(x) for f in glob.glob(work + "/delays-*") for x in open(f).read().split())
sims = [json.load(open(f)) for f in sorted(glob.glob(work + "/sim-*.json"))]
total = lambda k: sum(s.get(k, 0) for s in sims)
pct = lambda q: d[min(len(d) - 1, int(len(d) * q))] / 1000.0 if d else -1
print(json.dumps({"agents": int(n), "replicas": int(rep), "changesMeasured": len(d),
                  "deliveryP50Ms": pct(0.5), "deliveryP99Ms": pct(0.99),
                  "deliveryMaxMs": d[-1] / 1000.0 if d else -1,
                  "controllerRssTotalMb": float(rss_total),
                  "controllerRssMb": [float(x) for x in rss.split()],
                  "controllerCpuPercent": [float(x) for x in cpu.split()],
                  "postgresCpuPercent": float(pgcpu), "postgresConnections": int(conns),
                  "setupSeconds": round(float(setup), 1), "load": load,
                  "wallSeconds": round(float(wall), 1),
                  "changesSent": total("changesSent"), "changesFailed": total("changesFailed"),
                  "changeFailStatus": max((s.get("changeFailStatus", 0) for s in sims), default=0),
                  "undelivered": total("undelivered"),
                  "closedConnections": total("closedConnections"),
                  "lostAgents": total("lostAgents"),
                  "statusReportsPerSecond": round(total("statusReportsPerSecond"), 1)}))
PY
)
    all_json+=("$out")
    if [ -n "$keep_logs" ]; then
        mkdir -p "$keep_logs/$n"
        cp -r "$dir/logs" "$work"/sim-* "$keep_logs/$n/" 2>/dev/null || true
    fi
    bash scripts/scale-out.sh down --dir "$dir" >/dev/null 2>&1 || true
    dir=
    rm -rf "$work"
    work=
    [ -n "$json" ] || python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['agents']:,} | {r['replicas']} | {r['deliveryP50Ms']:.1f} / {r['deliveryP99Ms']:.1f} / "
      f"{r['deliveryMaxMs']:.1f} ms ({r['changesMeasured']} changes) "
      f"| {r['controllerRssTotalMb']:.0f} MB; {', '.join('%.0f' % x for x in r['controllerRssMb'])} "
      f"| {', '.join('%.1f' % x for x in r['controllerCpuPercent'])} % "
      f"| {r['postgresCpuPercent']:.1f} %, {r['postgresConnections']} "
      f"| {r['setupSeconds']:.0f} s (load {r['load']}) |")
print(f"<!-- {r['agents']}: changes sent {r['changesSent']}, failed {r['changesFailed']} "
      f"(last status {r['changeFailStatus']}), undelivered {r['undelivered']}, "
      f"agent connections closed (and reopened) {r['closedConnections']}, "
      f"agents lost {r['lostAgents']}, "
      f"status reports {r['statusReportsPerSecond']}/s -->")
PY
done
if [ -n "$json" ]; then
    printf '%s\n' "${all_json[@]}"
    exit 0
fi
echo
echo "$changes changes at $rate/s through HAProxy; status every $status_interval s per agent;" \
    "$(nproc) cores; build $build; $(date -u +%Y-%m-%dT%H:%MZ)"
