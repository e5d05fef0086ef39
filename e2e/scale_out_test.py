#!/usr/bin/env python3
"""Faults of the scale-out deployment (scripts/scale-out.sh), end to end, on 127.0.0.1 only.

The deployment: PostgreSQL, three Controllers on it, HAProxy in front, a three-server NATS
cluster, two Agents (controller URL = HAProxy, all three NATS URLs). An application puts a
"sensor" microservice on node 1 and a "viewer" on node 2 with a route between them; the test plays
both through the Agents' Local API (REST: /v2/config/get, /v2/messages/new, /v2/messages/next).

1. Controller failover. Every Agent's long-poll is first moved onto the liveness leader (the
   other replicas are put in maintenance in HAProxy for one change, then brought back), so the
   replica killed holds all of them and runs the liveness job. It is killed with SIGKILL; 100 ms
   later both microservices' configurations are changed through HAProxy. Each Agent must show its
   microservice the new configuration within 2 s (long-poll re-established through HAProxy on a
   live replica), and another replica must take the liveness job.
2. NATS failover. The sensor sends a numbered stream (200 msg/s, 6 s); after 2 s the nats-server
   the sending Agent is connected to gets SIGKILL. The viewer's messages are counted: lost and
   duplicated numbers are printed, duplicates must be 0, and lost is bounded by what was in flight.
3. Convergence. The killed Controller and nats-server are started again on their ports: HAProxy
   sees three healthy replicas, every nats-server has its two routes, every configuration change
   reads back the same on each replica, and a second stream arrives whole (lost 0, dups 0).

Exit 77 (CTest: skipped) only when a program it needs is not installed, naming it.
Usage: e2e/scale_out_test.py <build dir>
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "iofog-agent-e2e/busy:1"
FAILOVER_MAX_MS = 2000
RATE = 200
STREAM_S = 6
LOSS_MAX = 50  # messages in flight to the killed nats-server at SIGKILL (none are queued)


def log(*a):
    print(*a, flush=True)


def http(method, url, body=None, token=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait_for(what, fn, timeout_s, step=0.05):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout_s, what))


def read_env(path):
    env = {}
    for line in open(path):
        m = re.match(r"(\w+)='?(.*?)'?$", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    return env


class HAProxyAdmin:
    def __init__(self, path):
        self.path = path

    def cmd(self, text):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.path)
        s.sendall(text.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        s.close()
        return out.decode()

    def servers(self):
        """{name: (status, current sessions)} of the controllers backend."""
        out = {}
        lines = self.cmd("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            f = dict(zip(head, line.split(",")))
            if f.get("pxname") == "controllers" and f.get("svname", "").startswith("controller-"):
                out[f["svname"]] = (f["status"], int(f["scur"] or 0))
        return out


class Deployment:
    def __init__(self, build):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="iofog-scale-test.")
        self.env = {}

    def script(self, *args, check=True):
        cmd = ["bash", os.path.join(ROOT, "scripts/scale-out.sh"), *args, "--dir", self.dir,
               "--build", self.build]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
        if check and r.returncode != 0:
            raise AssertionError("scale-out.sh %s failed:\n%s%s" % (args[0], r.stdout, r.stderr))
        return r

    def up(self):
        self.script("up", "--lb-port", "0")
        self.env = read_env(os.path.join(self.dir, "env"))
        self.ctl_ports = self.env["CTL_PORTS"].split()
        self.nats_ports = self.env["NATS_PORTS"].split()
        self.local_ports = self.env["AGENT_LOCAL_PORTS"].split()
        self.nodes = self.env["NODES"].split()
        self.lb = self.env["LB_URL"]
        self.user = self.env["USER_TOKEN"]
        self.haproxy = HAProxyAdmin(os.path.join(self.dir, "haproxy.sock"))

    def down(self):
        self.script("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self, name):
        return int(open(os.path.join(self.dir, "pids", name)).read())

    def api(self, method, path, body=None):
        return http(method, self.lb + path, body, self.user)

    def local(self, i, path, body):
        return http("POST", "http://127.0.0.1:%s%s" % (self.local_ports[i], path), body)

    def controller_log(self, i):
        with open(os.path.join(self.dir, "logs", "controller-%d.log" % i), errors="replace") as f:
            return f.read()

    def leader(self):
        """The replica (1-3) whose last liveness_leader line says acquired, or None."""
        for i in (1, 2, 3):
            states = re.findall(r"liveness_leader state=(\w+)", self.controller_log(i))
            if states and states[-1] == "acquired" and self.alive("controller-%d" % i):
                return i
        return None

    def alive(self, name):
        """The part runs: its process exists and is no zombie (nobody may reap a killed one)."""
        try:
            with open("/proc/%d/stat" % self.pid(name)) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, ValueError, IndexError):
            return False

    def unreachable(self, i):
        """How many times agent i+1 logged that it could not reach the Controller."""
        with open(os.path.join(self.dir, "logs", "agent-%d.log" % (i + 1)), errors="replace") as f:
            return f.read().count("controller_unreachable")

    def restart(self, name):
        self.script("restart", name)


def config_of(d, i, msvc):
    st, ans = d.local(i, "/v2/config/get", {"id": msvc})
    return ans.get("config") if st == 200 and isinstance(ans, dict) else None


class Viewer(threading.Thread):
    """Drains the viewer's queue on agent 2 and counts each numbered message of a tag."""

    def __init__(self, d, viewer):
        super().__init__(daemon=True)
        self.d, self.viewer = d, viewer
        self.counts = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop.is_set():
            st, ans = self.d.local(1, "/v2/messages/next", {"id": self.viewer})
            if st == 200 and isinstance(ans, dict):
                for m in ans.get("messages", []):
                    text = base64.b64decode(m.get("contentdata", "")).decode(errors="replace")
                    with self.lock:
                        self.counts[text] = self.counts.get(text, 0) + 1
            time.sleep(0.02)

    def tally(self, tag, n):
        with self.lock:
            got = [self.counts.get("%s-%d" % (tag, k), 0) for k in range(n)]
        lost = sum(1 for c in got if c == 0)
        dups = sum(c - 1 for c in got if c > 1)
        return lost, dups


def send_stream(d, sensor, tag, n, on_time=None):
    """Publishes n numbered messages at RATE/s from the sensor on agent 1; returns refusals."""
    refused = 0
    t0 = time.monotonic()
    for k in range(n):
        if on_time is not None:
            on_time(time.monotonic() - t0)
        body = {"publisher": sensor, "version": 4, "infotype": "text", "infoformat": "utf-8",
                "contentdata": base64.b64encode(("%s-%d" % (tag, k)).encode()).decode()}
        st, _ = d.local(0, "/v2/messages/new", body)
        if st != 200:
            refused += 1
        ahead = t0 + (k + 1) / RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return refused


def nats_connections(port_monitor):
    st, ans = http("GET", "http://127.0.0.1:%s/connz" % port_monitor)
    return ans.get("connections", []) if st == 200 and isinstance(ans, dict) else []


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/dev")
    for prog in ("haproxy", "nats-server", "psql", "docker"):
        if shutil.which(prog) is None and not os.path.exists("/usr/sbin/" + prog):
            log("SKIP: %s is not installed (scripts/install-deps.sh installs it)" % prog)
            return 77
    if not any(os.path.isdir(p) for p in __import__("glob").glob("/usr/lib/postgresql/*/bin")):
        log("SKIP: PostgreSQL server binaries are not installed (scripts/install-deps.sh)")
        return 77
    subprocess.run(["bash", "scripts/dockerd.sh", "start"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    subprocess.run(["bash", "scripts/test-image.sh", IMAGE], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)

    d = Deployment(build)

    def on_term(signum, frame):  # CTest's timeout: still stop everything started
        raise SystemExit("terminated by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    try:
        t = time.monotonic()
        d.up()
        log("deployment up in %.1f s (%s)" % (time.monotonic() - t, d.dir))
        run(d)
        log("PASS")
        return 0
    finally:
        d.down()


def run(d):
    # ---- the application: sensor on node 1, viewer on node 2, a route between them ----
    st, _ = d.api("POST", "/api/v3/application", {"name": "scale", "isActivated": True})
    assert st in (200, 201), st
    ids = {}
    for name, node in (("sensor", d.nodes[0]), ("viewer", d.nodes[1])):
        st, ans = d.api("POST", "/api/v3/microservices", {
            "name": name, "application": "scale", "iofogUuid": node, "registryId": 2,
            "config": json.dumps({"round": 0}),
            "images": [{"containerImage": IMAGE, "fogTypeId": 1}]})
        assert st == 201, (st, ans)
        ids[name] = ans["uuid"]
    st, ans = d.api("POST", "/api/v3/routes",
                    {"name": "s2v", "application": "scale", "from": "sensor", "to": "viewer"})
    assert st == 200, (st, ans)
    where = {"sensor": 0, "viewer": 1}
    for name, i in where.items():
        wait_for("agent %d to know %s" % (i + 1, name),
                 lambda: config_of(d, i, ids[name]) is not None, 30)

    # ---- 1. kill -9 the Controller holding every long-poll and the liveness job ----
    leader = wait_for("a liveness leader", d.leader, 15)
    others = [i for i in (1, 2, 3) if i != leader]
    for i in others:
        d.haproxy.cmd("set server controllers/controller-%d state maint" % i)
    # One change answers the held polls; the Agents poll again, through the leader only.
    for name, i in where.items():
        st, _ = d.api("PATCH", "/api/v3/microservices/%s" % ids[name], {"config": json.dumps({"round": 1})})
        assert st in (200, 204), st
    for name, i in where.items():
        wait_for("round 1 at agent %d" % (i + 1),
                 lambda: config_of(d, i, ids[name]) == json.dumps({"round": 1}), 10)
    time.sleep(0.5)  # the next polls are held by the leader
    held = d.haproxy.servers()["controller-%d" % leader][1]
    for i in others:
        d.haproxy.cmd("set server controllers/controller-%d state ready" % i)
    wait_for("the other replicas back up in HAProxy",
             lambda: all(d.haproxy.servers()["controller-%d" % i][0] == "UP" for i in others), 10)
    log("controller-%d leads liveness and holds %d HAProxy session(s) (both Agents' long-polls)"
        % (leader, held))
    assert held >= 2, held

    before = [d.unreachable(i) for i in range(len(d.nodes))]
    killed_at = time.monotonic()
    os.kill(d.pid("controller-%d" % leader), signal.SIGKILL)
    time.sleep(0.1)
    sent_at = time.monotonic()
    want = json.dumps({"round": 2})
    for name in where:
        st, ans = d.api("PATCH", "/api/v3/microservices/%s" % ids[name], {"config": want})
        assert st in (200, 204), (st, ans)
    seen = {}
    end = time.monotonic() + 10
    while len(seen) < len(where) and time.monotonic() < end:
        for name, i in where.items():
            if name not in seen and config_of(d, i, ids[name]) == want:
                seen[name] = time.monotonic()
        time.sleep(0.01)
    for name, i in where.items():
        if name in seen:
            log("controller failover: agent %d's %s got the change %.0f ms after the PATCH "
                "(%.0f ms after kill -9)" % (i + 1, name, (seen[name] - sent_at) * 1000,
                                             (seen[name] - killed_at) * 1000))
    assert len(seen) == len(where), "not every microservice got the change within 10 s: %s" % seen
    worst = max(seen.values()) - sent_at
    assert worst * 1000 <= FAILOVER_MAX_MS, "change took %.0f ms > %d ms" % (worst * 1000, FAILOVER_MAX_MS)
    for i in range(len(d.nodes)):
        log("agent %d logged controller_unreachable %d time(s) since the kill (0: HAProxy re-sent "
            "its long-poll to a live replica by itself)" % (i + 1, d.unreachable(i) - before[i]))
    new_leader = wait_for("another replica to take the liveness job", d.leader, 15, 0.02)
    log("liveness moved from controller-%d to controller-%d %.0f ms after kill -9"
        % (leader, new_leader, (time.monotonic() - killed_at) * 1000))
    assert new_leader != leader
    # The agents keep reporting through HAProxy: both nodes stay RUNNING.
    for node in d.nodes:
        st, ans = d.api("GET", "/api/v3/iofog/%s" % node)
        assert st == 200 and ans.get("daemonStatus") == "RUNNING", (st, ans)

    # ---- 2. kill -9 the nats-server the sending Agent uses, mid-stream ----
    viewer = Viewer(d, ids["viewer"])
    viewer.start()
    mon = d.env["NATS_MONITOR_PORTS"].split()

    def warm():
        send_stream(d, ids["sensor"], "warm", 1)
        return viewer.tally("warm", 1)[0] == 0
    wait_for("the cross-node path (NATS) to carry a message", warm, 30, 0.2)

    def sender_server():
        # The sending Agent's connection is the one whose in_msgs grew (it published).
        best, best_in = None, -1
        for k, p in enumerate(mon):
            for c in nats_connections(p):
                if c.get("name") == "iofog-agent" and c.get("in_msgs", 0) > best_in:
                    best, best_in = k, c.get("in_msgs", 0)
        return best
    victim = sender_server()
    assert victim is not None
    kill_state = {"done": False}

    def at(elapsed):
        if not kill_state["done"] and elapsed >= 2.0:
            os.kill(d.pid("nats-%d" % (victim + 1)), signal.SIGKILL)
            kill_state["done"] = True
            kill_state["t"] = time.monotonic()

    n = RATE * STREAM_S
    refused = send_stream(d, ids["sensor"], "a", n, at)
    assert refused == 0, refused
    time.sleep(3)
    lost, dups = viewer.tally("a", n)
    log("nats failover: nats-%d (the sender's server) killed mid-stream; %d messages sent at "
        "%d/s: lost %d, duplicated %d" % (victim + 1, n, RATE, lost, dups))
    assert dups == 0
    assert lost <= LOSS_MAX, lost
    # The stream after the kill arrived: the last second of it is whole.
    tail_lost = sum(1 for k in range(n - RATE, n) if viewer.counts.get("a-%d" % k, 0) == 0)
    assert tail_lost == 0, tail_lost

    # ---- 3. restart both: the system converges, nothing lost from the database ----
    t = time.monotonic()
    d.restart("controller-%d" % leader)
    d.restart("nats-%d" % (victim + 1))
    wait_for("three healthy replicas in HAProxy",
             lambda: all(s == "UP" for s, _ in d.haproxy.servers().values()), 20)

    def routes_ok():
        for p in mon:
            st, ans = http("GET", "http://127.0.0.1:%s/routez" % p)
            if st != 200 or ans.get("num_routes", 0) < 2:
                return False
        return True
    wait_for("every nats-server with its two routes", routes_ok, 20)
    log("restart: converged %.0f ms after restarting controller-%d and nats-%d"
        % ((time.monotonic() - t) * 1000, leader, victim + 1))
    for port in d.ctl_ports:
        for name in where:
            st, ans = http("GET", "http://127.0.0.1:%s/api/v3/microservices/%s" % (port, ids[name]),
                           token=d.user)
            assert st == 200 and ans.get("config") == want, (port, st, ans)
        for node in d.nodes:
            st, ans = http("GET", "http://127.0.0.1:%s/api/v3/iofog/%s" % (port, node), token=d.user)
            assert st == 200, (port, st)
    refused = send_stream(d, ids["sensor"], "b", RATE * 2)
    assert refused == 0
    wait_for("the second stream", lambda: viewer.tally("b", RATE * 2) == (0, 0), 10, 0.2)
    log("after restart: %d messages, lost 0, duplicated 0" % (RATE * 2))
    viewer.stop.set()


if __name__ == "__main__":
    sys.exit(main())
