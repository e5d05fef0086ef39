#!/usr/bin/env python3
"""Walks the help of every command of iofog-controller and iofog-agent, as an operator would read
it, and checks that the CLI keeps what the help promises:
  - `<bin> --help`, `--version` and `-v` answer with exit 0;
  - `<bin> <command> --help` and `<bin> <command> <action> --help` print that command's usage on
    stdout with exit 0 (help after an action works too);
  - every flag a command's help names is known to that command: running it (with a value) never
    gets an "unknown option" answer;
  - an option that does not exist is refused with exit 2 by every command and action.
Nothing here talks to a server: the Controller URL points at a closed loopback port and every
directory is a fresh temporary one. `start` is run with --foreground on free ports and stopped.
Usage: help_walk_test.py <build dir>"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

FLAG = re.compile(r"(?:^|(?<=[\s\[\(|,/]))(-{1,2}[A-Za-z][A-Za-z0-9-]*)")
UNKNOWN = re.compile(r"(unknown|bad|unrecognized|invalid) option", re.I)
failures = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


# Commands run in the test's own temporary directory: a flag given the value "x" (a data or
# config directory) then creates x/ there, never in the caller's working directory.
WORKDIR = None


def run(argv, env, timeout=10):
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout, cwd=WORKDIR)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        return 124, text(e.stdout), text(e.stderr)


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def block(text, title):
    """The first words of the indented lines under a heading such as 'Commands:'."""
    words, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith(title):
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)(,\s*([a-z][a-z0-9-]*))?\s", line + " ")
            if m:
                words.append(m.group(1))
                if m.group(3):
                    words.append(m.group(3))
            elif line.strip() == "" and words:
                break
            elif not line.startswith("   "):
                if words:
                    break
    return words


def actions(help_text):
    m = re.search(r"Usage: \S+ \S+ <([a-z|-]+)>", help_text)
    if m and "|" in m.group(1):
        return m.group(1).split("|")
    return block(help_text, "Actions:")


def flags(help_text, other_program):
    found = []
    for line in help_text.splitlines():
        if other_program in line:  # a hint about the other binary's flags
            continue
        for f in FLAG.findall(line):
            if f not in found and f not in ("--help", "-h"):
                found.append(f)
    return found


def walk(binary, other_program, env, extra_start):
    name = os.path.basename(binary)
    for args in (["--help"], ["--version"], ["-v"]):
        rc, out, err = run([binary] + args, env)
        if rc != 0 or not out.strip():
            fail(f"{name} {' '.join(args)}: exit {rc}, stdout {out[:80]!r}, stderr {err[:200]!r}")
    rc, top, _ = run([binary, "--help"], env)
    commands = block(top, "Commands:")
    if len(commands) < 5:
        fail(f"{name} --help lists only {commands}")
    checked = 0
    for cmd in commands:
        rc, text, err = run([binary, cmd, "--help"], env)
        if rc != 0 or "Usage:" not in text:
            fail(f"{name} {cmd} --help: exit {rc}, stdout {text[:80]!r}, stderr {err[:200]!r}")
            continue
        acts = actions(text) or [None]
        for act in acts:
            pre = [binary, cmd] + ([act] if act else [])
            rc, out, err = run(pre + ["--help"], env)
            if rc != 0 or "Usage:" not in out:
                fail(f"{' '.join(pre[1:])} --help: exit {rc}, stderr {err[:200]!r}")
            rc, out, err = run(pre + ["--no-such-option"], env)
            if rc != 2 or "--no-such-option" not in err:
                fail(f"{name} {' '.join(pre[1:])} --no-such-option: exit {rc} (want 2), "
                     f"stderr {err[:200]!r}")
        for f in flags(text, other_program):
            # a flag counts as known when some action of the command takes it
            complaint = None
            for act in acts:
                pre = [binary, cmd] + ([act] if act else [])
                argv = pre + [f, "x"]
                timeout = 10
                if cmd == "start":
                    argv = pre + extra_start() + [f] + ([] if f == "--foreground" else ["x"])
                    timeout = 3
                rc, out, err = run(argv, env, timeout)
                checked += 1
                if rc in (127, 126) or rc < 0:
                    fail(f"{' '.join(argv[1:])}: exit {rc}")
                complaint = next((line for line in err.splitlines()
                                  if UNKNOWN.search(line) and f in line), None)
                if complaint is None:
                    break
            if complaint is not None:
                fail(f"{name} {cmd} --help names {f}, but no action takes it: {complaint}")
    return checked


def main():
    build = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="iofog-helpwalk.")
    global WORKDIR
    WORKDIR = tmp
    try:
        env = dict(os.environ)
        env.update({"HOME": tmp, "XDG_CONFIG_HOME": tmp + "/xdg",
                    "IOFOG_CONTROLLER_URL": "http://127.0.0.1:9",
                    "IOFOG_CONTROLLER_DATA_DIR": tmp + "/controller",
                    "IOFOG_AGENT_CONFIG_DIR": tmp + "/agent"})
        env.pop("IOFOG_CONTROLLER_TOKEN", None)
        ctl = os.path.join(build, "controller", "iofog-controller")
        agent = os.path.join(build, "agent", "iofog-agent")
        n = walk(ctl, "iofog-agent", env,
                 lambda: ["--foreground", "--port", free_port(), "--data-dir", tmp + "/c2"])
        n += walk(agent, "iofog-controller", env,
                  lambda: ["--foreground", "--local-api-port", free_port(),
                           "--config-dir", tmp + "/a2"])
    finally:
        subprocess.run(["pkill", "-f", tmp], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n} flags run; {len(failures)} problems")
    print(f"1 passed, 0 failed" if not failures else f"0 passed, 1 failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
