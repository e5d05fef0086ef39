#!/usr/bin/env python3
"""Aggregates the runs of bench/run into docs/benchmarks.md and docs/benchmarks.json.

Input: one JSON object per line, {"bench": name, "run": i, "figures": {key: number}} or
{"bench": name, "run": i, "error": text}. Every figure gets its median, min and max over the runs;
figures listed in FIGURES get a label, a unit and, where an issue names one, a target judged on
the median (MET / MISSED). Keys not listed (e.g. new ones of bench/messaging.sh) are reported too,
under their benchmark's area, with a unit guessed from the key's suffix."""
import argparse
import datetime
import json
import os
import platform
import statistics

AREAS = [
    ("sizes", "Binary sizes (Release)"),
    ("controller_http", "Controller: REST throughput and memory"),
    ("controller_db", "Controller: main user and agent endpoints, SQLite and PostgreSQL"),
    ("agents", "Controller: simulated agents (long-poll change delivery)"),
    ("agent", "Agent: memory and microservice start"),
    ("sdk_config", "SDK: configuration update -> on_config callback"),
    ("messaging", "Messaging: on-node and cross-node, each next to its raw baseline"),
    ("nats", "Messaging: cross-node NATS transport vs raw NATS (bench/nats_latency.sh)"),
]
BENCH_AREA = {"agents1k": "agents", "agents10k": "agents"}
COMMANDS = {
    "sizes": "bench/sizes.sh",
    "controller_http": "bench/controller_http.sh --seconds 5 (wrk -t2 -c64)",
    "controller_db": "bench/controller_db.sh --seconds 3 (wrk -t2 -c32; PostgreSQL local, fsync off)",
    "agents": "bench/agents.sh 1000 (+ wrk 5 s on config/changes) and bench/agents.sh --no-wrk 10000",
    "agent": "bench/agent.sh (10 creations of a cached busybox image, registry 2)",
    "sdk_config": "bench/sdk_config.sh (100 changes through PATCH /api/v3/microservices/<uuid>)",
    "messaging": "bench/messaging.sh",
    "nats": "bench/nats_latency.sh 1000 5 50000 (paced 1,000 msgs/s for 5 s; burst of 50,000)",
}

# key: (label, unit, target) with target None or (op, value, text)
LE, GE = "<=", ">="
FIGURES = {
    # sizes
    "controllerSizeKb": ("iofog-controller", "KiB", None),
    "controllerStrippedSizeKb": ("iofog-controller, stripped", "KiB", None),
    "agentSizeKb": ("iofog-agent", "KiB", None),
    "agentStrippedSizeKb": ("iofog-agent, stripped", "KiB", None),
    "libiofogSizeKb": ("libiofog.so", "KiB", None),
    "libiofogStrippedSizeKb": ("libiofog.so, stripped", "KiB", None),
    # controller_http
    "idleRssMb": ("Controller RSS, idle", "MB", (LE, 16, "<= 16 MB")),
    "idlePssMb": ("Controller PSS, idle", "MB", None),
    "idlePrivateDirtyMb": ("Controller private dirty, idle", "MB", None),
    "loadRssMb": ("Controller RSS, loaded (wrk on the microservice list)", "MB", None),
    "loadPssMb": ("Controller PSS, loaded", "MB", None),
    "loadPrivateDirtyMb": ("Controller private dirty, loaded", "MB", None),
    "statusRps": ("GET /api/v3/status", "req/s", (GE, 30000, ">= 30,000 req/s")),
    "statusP50Ms": ("GET /api/v3/status p50", "ms", None),
    "statusP99Ms": ("GET /api/v3/status p99", "ms", None),
    "msvcListRps": ("GET /api/v3/microservices?application= (100 microservices)", "req/s", None),
    "msvcListP50Ms": ("GET /api/v3/microservices?application= p50", "ms", None),
    "msvcListP99Ms": ("GET /api/v3/microservices?application= p99", "ms", None),
    "msvcListCount": ("microservices in that list", "", None),
    # agents
    "changesNoWaitRps": ("GET /api/v3/agent/config/changes, no wait (one agent, wrk -c64)",
                         "req/s", (GE, 10000, ">= 10,000 req/s")),
    "agents10000DeliveryP99Ms": ("10,000 agents: change delivery p99", "ms",
                                 (LE, 1000, "<= 1 s")),
    "agents10000RssMb": ("10,000 agents: Controller RSS", "MB", (LE, 100, "<= 100 MB")),
    # agent
    "agentRss0Mb": ("agent RSS, 0 microservices", "MB", (LE, 12, "<= 12 MB")),
    "agentPss0Mb": ("agent PSS, 0 microservices", "MB", None),
    "agentPrivateDirty0Mb": ("agent private dirty, 0 microservices", "MB", (LE, 3, "<= 3 MB")),
    "agentRss10Mb": ("agent RSS, 10 running microservices", "MB", (LE, 14, "<= 14 MB")),
    "agentPss10Mb": ("agent PSS, 10 running microservices", "MB", None),
    "agentPrivateDirty10Mb": ("agent private dirty, 10 running microservices", "MB",
                              (LE, 4, "<= 4 MB")),
    "runningContainers": ("containers running for the 10-microservice figure", "", None),
    "creations": ("creations measured per run", "", None),
    "createToRunningP50Ms": ("POST /api/v3/microservices -> RUNNING, cached image, p50", "ms",
                             (LE, 1000, "<= 1 s")),
    "createToRunningP90Ms": ("POST /api/v3/microservices -> RUNNING, p90", "ms", None),
    "createToRunningMaxMs": ("POST /api/v3/microservices -> RUNNING, max", "ms", None),
    # sdk_config
    "changes": ("configuration changes per run", "", None),
    "configCallbacks": ("on_config callbacks per run", "", None),
    "configToCallbackP50Ms": ("PATCH config -> on_config, p50", "ms", (LE, 100, "<= 100 ms")),
    "configToCallbackP99Ms": ("PATCH config -> on_config, p99", "ms", (LE, 100, "<= 100 ms")),
    "configToCallbackMaxMs": ("PATCH config -> on_config, max", "ms", None),
    "configToCallbackMinMs": ("PATCH config -> on_config, min", "ms", None),
    "seconds": ("duration of the changes", "s", None),
    # messaging: the on-node bus shapes (issue 21), each next to the raw relay
    "onNode1to1MsgsPerSec": ("on-node 1->1, 256 B, with receipts", "msgs/s",
                             (GE, 150000, ">= 150,000 msgs/s")),
    "raw1to1MsgsPerSec": ("raw relay 1->1, 256 B", "msgs/s", None),
    "onNode1to1MsgsPerSecRatio": ("on-node 1->1, 256 B: agent / raw relay", "",
                                  (GE, 0.5, ">= 0.5 x raw")),
    "onNode1to1Size16kMsgsPerSec": ("on-node 1->1, 16 KiB, with receipts", "msgs/s", None),
    "raw1to1Size16kMsgsPerSec": ("raw relay 1->1, 16 KiB", "msgs/s", None),
    "onNode1to1Size16kMsgsPerSecRatio": ("on-node 1->1, 16 KiB: agent / raw relay", "", None),
    "onNodeFanoutDeliveriesPerSec": ("on-node 1->10 fan-out, 256 B", "deliveries/s",
                                     (GE, 300000, ">= 300,000 deliveries/s")),
    "rawFanoutDeliveriesPerSec": ("raw relay 1->10 fan-out", "deliveries/s", None),
    "onNodeFanoutDeliveriesPerSecRatio": ("on-node fan-out: agent / raw relay", "", None),
    "onNode10to1MsgsPerSec": ("on-node 10->1, 256 B", "msgs/s", None),
    "raw10to1MsgsPerSec": ("raw relay 10->1", "msgs/s", None),
    "onNode10to1MsgsPerSecRatio": ("on-node 10->1: agent / raw relay", "", None),
    "onNodePaced10kP50Ms": ("on-node paced 10,000/s, 256 B: p50", "ms", None),
    "onNodePaced10kP99Ms": ("on-node paced 10,000/s: p99", "ms", (LE, 1, "<= 1 ms")),
    "onNodePaced10kMaxMs": ("on-node paced 10,000/s: max", "ms", (LE, 5, "<= 5 ms")),
    "rawPaced10kP99Ms": ("raw relay paced 10,000/s: p99", "ms", None),
    "onNodePaced1kP50Ms": ("on-node paced 1,000/s, 256 B: p50", "ms", None),
    "onNodePaced1kP99Ms": ("on-node paced 1,000/s: p99", "ms", None),
    "onNodePaced1kMaxMs": ("on-node paced 1,000/s: max", "ms", None),
    "rawPaced1kP99Ms": ("raw relay paced 1,000/s: p99", "ms", None),
    "wsEcho1kP99Ms": ("WebSocket ping/pong echo, paced 1,000/s: p99", "ms", None),
    "onNodePaced1kP99OverEcho": ("on-node paced 1,000/s p99 / echo p99", "",
                                 (LE, 3, "<= 3 x echo")),
    "agentBusRssMaxMb": ("Agent RSS during the bus runs (peak)", "MB", (LE, 24, "<= 24 MB")),
    "onNodeBusLostMsgs": ("on-node bus runs: messages lost", "msgs", None),
    "onNodeBusOrderErrors": ("on-node bus runs: per-publisher order errors", "", None),
    # nats
    "natsRate": ("paced rate", "msgs/s", None),
    "natsBurst": ("burst size", "msgs", None),
    "natsTransportP50Ms": ("agent NATS transport, paced 1,000/s: p50", "ms", None),
    "natsTransportP99Ms": ("agent NATS transport, paced 1,000/s: p99", "ms", (LE, 5, "<= 5 ms")),
    "natsTransportMaxMs": ("agent NATS transport, paced 1,000/s: max", "ms", None),
    "natsTransportLostMsgs": ("agent NATS transport, paced: lost", "msgs", None),
    "natsTransportBurstMsgsPerSec": ("agent NATS transport, burst throughput", "msgs/s", None),
    "natsTransportBurstP99Ms": ("agent NATS transport, burst p99", "ms", None),
    "natsRawP50Ms": ("raw NATS pub/sub baseline, paced 1,000/s: p50", "ms", None),
    "natsRawP99Ms": ("raw NATS pub/sub baseline, paced 1,000/s: p99", "ms", None),
    "natsRawMaxMs": ("raw NATS pub/sub baseline, paced 1,000/s: max", "ms", None),
    "natsRawLostMsgs": ("raw NATS pub/sub baseline, paced: lost", "msgs", None),
    "natsRawBurstMsgsPerSec": ("raw NATS pub/sub baseline, burst throughput", "msgs/s", None),
    "natsRawBurstP99Ms": ("raw NATS pub/sub baseline, burst p99", "ms", None),
}
AGENT_SIM = {
    "DeliveryP50Ms": ("change delivery p50", "ms"),
    "DeliveryP99Ms": ("change delivery p99", "ms"),
    "DeliveryMaxMs": ("change delivery max", "ms"),
    "RssMb": ("Controller RSS", "MB"),
    "CpuPercent": ("Controller CPU", "%"),
    "SetupSeconds": ("set-up (create + provision)", "s"),
    "ChangesMeasured": ("changes measured", ""),
}
DB_ENDPOINTS = {
    "IofogList": "GET /api/v3/iofog-list",
    "MsvcList": "GET /api/v3/microservices?application= (20)",
    "AgentConfig": "GET /api/v3/agent/config",
    "AgentChanges": "GET /api/v3/agent/config/changes",
    "AgentStatusPut": "PUT /api/v3/agent/status (write)",
}
SUFFIX_UNITS = [("MsgsPerSec", "msgs/s"), ("PerSec", "/s"), ("Rps", "req/s"), ("Ms", "ms"),
                ("Us", "us"), ("Mb", "MB"), ("Kb", "KiB"), ("Percent", "%"), ("Seconds", "s"),
                ("Bytes", "B")]


def describe(bench, key):
    """(label, unit, target) of a figure."""
    if key in FIGURES:
        return FIGURES[key]
    if key.startswith("agents"):
        for suffix, (label, unit) in AGENT_SIM.items():
            if key.endswith(suffix):
                n = key[len("agents"):-len(suffix)]
                return (f"{int(n):,} agents: {label}", unit, None)
    for backend in ("sqlite", "postgres"):
        if key.startswith(backend):
            rest = key[len(backend):]
            for ep, label in DB_ENDPOINTS.items():
                if rest.startswith(ep):
                    metric = rest[len(ep):]
                    unit = "req/s" if metric == "Rps" else "ms"
                    name = {"Rps": "", "P50Ms": " p50", "P99Ms": " p99"}.get(metric, metric)
                    return (f"{label}, {backend}{name}", unit, None)
    unit = ""
    for suffix, u in SUFFIX_UNITS:
        if key.endswith(suffix):
            unit = u
            break
    target = None
    low = key.lower()
    if (bench == "messaging" and "cross" in low and "p99" in low and
            not any(w in low for w in ("raw", "baseline", "burst"))):
        target = (LE, 5, "<= 5 ms (at 1,000 msgs/s)")
    return (key, unit, target)


def sort_key(key):
    """Figures in a table: the listed ones in their order, then simulated agents by count and
    metric, then endpoints by back end, endpoint and metric, then the rest by name."""
    if key.startswith("agents"):
        for i, suffix in enumerate(AGENT_SIM):
            n = key[len("agents"):-len(suffix)]
            if key.endswith(suffix) and n.isdigit():
                return (1, int(n), i, "")
    if key in FIGURES:
        return (0, list(FIGURES).index(key), 0, "")
    for b, backend in enumerate(("sqlite", "postgres")):
        for e, ep in enumerate(DB_ENDPOINTS):
            for m, metric in enumerate(("Rps", "P50Ms", "P99Ms")):
                if key == backend + ep + metric:
                    return (2, b * 100 + e, m, "")
    return (3, 0, 0, key)


def fmt(v, count=False):
    """A figure with 3-4 significant digits; counts (no unit, messages) as integers."""
    if v is None:
        return "-"
    if count and float(v).is_integer():
        return f"{int(v):,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpu": model, "nproc": os.cpu_count(), "memTotalMb": round(mem_kb / 1024),
            "kernel": platform.release(), "machine": platform.machine()}


def main():
    ap = argparse.ArgumentParser()
    for name in ("results", "md", "json", "command", "load", "load-end", "skipped", "date"):
        ap.add_argument("--" + name, default="")
    for name in ("runs", "runs10k", "build-seconds", "total-seconds"):
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()

    values = {}  # (area, key) -> [values]
    owner = {}
    errors = []
    runs_of = {}
    with open(a.results) as f:
        for line in f:
            r = json.loads(line)
            area = BENCH_AREA.get(r["bench"], r["bench"])
            if "error" in r:
                errors.append(f"{r['bench']} run {r['run']}: {r['error']}")
                continue
            runs_of[r["bench"]] = runs_of.get(r["bench"], 0) + 1
            for key, v in r["figures"].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    values.setdefault((area, key), []).append(float(v))
                    owner[(area, key)] = r["bench"]

    figures = {}
    missed = []
    for (area, key), vs in values.items():
        label, unit, target = describe(area, key)
        med = statistics.median(vs)
        status = None
        if target is not None:
            op, limit, _ = target
            status = "MET" if (med <= limit if op == LE else med >= limit) else "MISSED"
            if status == "MISSED":
                missed.append(f"{label}: {fmt(med)} {unit} (target {target[2]})")
        figures[key if key not in figures else f"{area}.{key}"] = {
            "area": area, "bench": owner[(area, key)], "label": label, "unit": unit,
            "median": med, "min": min(vs), "max": max(vs), "runs": len(vs), "values": vs,
            "target": target[2] if target else None, "status": status}

    now = datetime.datetime.now(datetime.timezone.utc)
    m = machine()
    skipped = [s for s in a.skipped.split(";") if s]
    doc = {"date": a.date or now.strftime("%Y-%m-%d %H:%M UTC"), "command": a.command, "machine": m,
           "loadAverageAtStart": a.load, "loadAverageAtEnd": a.load_end,
           "runsPerBenchmark": a.runs, "runs10kAgents": a.runs10k, "runsDone": runs_of,
           "buildSeconds": a.build_seconds, "totalSeconds": a.total_seconds,
           "skipped": skipped, "failed": errors, "missed": missed, "figures": figures}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")

    md = ["# Benchmarks", "",
          "Generated by `bench/run` (do not edit by hand; run it again). Each figure is the median "
          "of the runs of its benchmark, with min and max; a target from the issues is judged on "
          "the median. Machine-readable: [benchmarks.json](benchmarks.json).", "",
          f"- Date: {doc['date']}",
          f"- Command: `{a.command}` (Release build in build/release)",
          f"- Machine: {m['cpu']}, {m['nproc']} CPUs (nproc), {m['memTotalMb']:,} MB RAM "
          f"(MemTotal), Linux {m['kernel']} {m['machine']}",
          f"- Load average at start / end: {a.load} / {a.load_end} (the benchmarks' own processes "
          "count in it; a start figure above 1 means other work was running)",
          f"- Runs: {a.runs} per benchmark (binary sizes once: they do not vary), "
          f"{a.runs10k} of the 10,000-agent run; done: "
          + ", ".join(f"{k} {v}" for k, v in sorted(runs_of.items())),
          f"- Wall time: {a.total_seconds} s in all, of which {a.build_seconds} s building",
          ]
    if skipped:
        md.append("- Skipped to stay within the time budget: " + ", ".join(skipped))
    if errors:
        md.append("- Failed runs: " + "; ".join(errors))
    md.append("")
    if missed:
        md += ["## Targets missed", ""] + [f"- {x}" for x in missed] + [""]
    for area, title in AREAS + [(x, x) for x in sorted({f["area"] for f in figures.values()})
                                if x not in dict(AREAS)]:
        rows = [(k, f) for k, f in figures.items() if f["area"] == area]
        if not rows:
            if area == "messaging":
                md += [f"## {title}", "", "bench/messaging.sh is not in this tree: no on-node "
                       "figures (WebSocket echo baseline) in this run.", ""]
            continue
        rows.sort(key=lambda kf: sort_key(kf[0]))
        md += [f"## {title}", "", f"`{COMMANDS.get(area, area)}`", "",
               "| figure | median | min | max | unit | runs | target | status |",
               "|---|---|---|---|---|---|---|---|"]
        for k, f in rows:
            c = f["unit"] in ("", "msgs")
            md.append(f"| {f['label']} | {fmt(f['median'], c)} | {fmt(f['min'], c)} "
                      f"| {fmt(f['max'], c)} "
                      f"| {f['unit']} | {f['runs']} | {f['target'] or '-'} "
                      f"| {f['status'] or '-'} |")
        md.append("")
    # Hand-run benchmarks too long for bench/run (bench/scale_out.sh) keep their section: it
    # starts at KEPT_MARKER and is carried over from the file being replaced.
    try:
        with open(a.md) as f:
            old = f.read()
        if KEPT_MARKER in old:
            md.append(old[old.index(KEPT_MARKER):].rstrip("\n") + "\n")
    except OSError:
        pass
    with open(a.md, "w") as f:
        f.write("\n".join(md))


KEPT_MARKER = "<!-- kept by bench/report.py: hand-run benchmarks below -->"


if __name__ == "__main__":
    main()
