#!/usr/bin/env bash
# Cross-node messaging benchmark (not a test): a nats-server on loopback (scripts/nats.sh) and
# bench/nats_latency.c, which runs two NATS transports in one process (node A publishes, node B
# hosts the receiver) and raw libnats publish/subscribe of same-sized payloads, each paced at RATE
# messages/s for SECONDS (latency p50/p99/max, publish call -> deliver callback) and as a burst
# (throughput). Prints a Markdown table (the raw JSON goes to stderr), or with --json one flat
# JSON object on the last line.
# Usage: bench/nats_latency.sh [--json] [RATE [SECONDS [BURST]]]   (default 1000 10 100000)
# Target (issue 9): p99 <= 5 ms at 1,000 messages/s on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
json=
[ "${1:-}" = --json ] && { json=1; shift; }
rate=${1:-1000}
seconds=${2:-10}
burst=${3:-100000}
build=${IOFOG_BENCH_BUILD:-build/release}
bench_build nats-latency

port=$(bench_free_port)
export IOFOG_NATS_DIR
IOFOG_NATS_DIR=$(mktemp -d)
trap 'scripts/nats.sh stop "$port" >/dev/null; rm -rf "$IOFOG_NATS_DIR"' EXIT
scripts/nats.sh start "$port" >/dev/null
out=$(IOFOG_LOG_LEVEL=error "$build/bench/nats-latency" --url "nats://127.0.0.1:$port" \
    --rate "$rate" --seconds "$seconds" --burst "$burst")
echo "$out" >&2
python3 - "$out" "$json" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
if sys.argv[2]:
    flat = {"natsRate": r["rate"], "natsBurst": r["burst"]}
    for name, label in (("transport", "Transport"), ("raw", "Raw")):
        p, b = r[name + "Paced"], r[name + "Burst"]
        flat[f"nats{label}P50Ms"] = p["p50Ms"]
        flat[f"nats{label}P99Ms"] = p["p99Ms"]
        flat[f"nats{label}MaxMs"] = p["maxMs"]
        flat[f"nats{label}LostMsgs"] = p["sent"] - p["received"]
        flat[f"nats{label}BurstMsgsPerSec"] = b["msgsPerSec"]
        flat[f"nats{label}BurstP99Ms"] = b["p99Ms"]
    print(json.dumps(flat))
    sys.exit(0)
print(f"| path | paced {r['rate']}/s: received | p50 | p99 | max | burst {r['burst']}: msgs/s | burst p99 |")
print("|---|---|---|---|---|---|---|")
for name, label in (("transport", "agent NATS transport (ioMessage encode/decode)"), ("raw", "raw libnats pub/sub")):
    p, b = r[name + "Paced"], r[name + "Burst"]
    print(f"| {label} | {p['received']}/{p['sent']} | {p['p50Ms']:.3f} ms | {p['p99Ms']:.3f} ms "
          f"| {p['maxMs']:.3f} ms | {b['msgsPerSec']:.0f} ({b['received']}/{b['sent']}) | {b['p99Ms']:.1f} ms |")
PY
