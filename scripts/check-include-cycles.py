#!/usr/bin/env python3
"""Fails when the modules of a source directory depend on each other in a circle.

Usage: scripts/check-include-cycles.py DIR [DIR...]   (exit 1 and the cycle when one is found)
       scripts/check-include-cycles.py --self-test     (the check finds the cycles it must)

A module is a file stem: agent/status.c and agent/status.h are the module "status"; a header
"X_internal.h" is the private header of module X. Module A depends on module B when
  - a file of A includes a header of B (#include "..."), or
  - a header of A declares a function that a .c file of B defines: A's header then speaks for B,
    and whoever includes it reaches B through it (a shared "internal" header that declares every
    file's entry points hides a circle this way).
A subdirectory below a checked directory is one module (its files share its private headers).
Files matched by PARTS belong to the named module instead of their own stem.
"""
import os
import re
import sys
import tempfile

# (pattern on the path without extension, module). The daemon's sync thread (changes long-poll,
# fetches, acks) reads and writes the daemon's state under its lock throughout: a file of the
# daemon module. The CLI's commands (cmd_*.c) are one module with their table, commands.h.
PARTS = [(r"agent/sync", "agent/daemon"), (r"agent/cmd_\w+", "agent/commands")]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A definition at the start of a line: "type name(" or "type\nname(" (clang-format breaks there).
DEFINITION = re.compile(r"^(?!static\b)(?:[A-Za-z_][\w \t\*]*?[\s\*])?([a-z_][a-z0-9_]*)\s*\([^;]*?\)\s*\{",
                        re.M | re.S)
DECLARATION = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "defined", "do"}


def module_of(rel):
    stem = os.path.splitext(rel)[0]
    for top in TOPS:
        sub = os.path.relpath(stem, top)
        if not sub.startswith("..") and os.sep in sub:
            return os.path.join(top, sub.split(os.sep)[0])
    if stem.endswith("_internal"):
        stem = stem[: -len("_internal")]
    for pattern, module in PARTS:
        if re.fullmatch(pattern, stem):
            return module
    return stem


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return COMMENT.sub(" ", f.read())


TOPS = []


def graph(root, dirs):
    TOPS[:] = [os.path.normpath(d) for d in dirs]
    files = {}
    for d in dirs:
        for base, _, names in os.walk(os.path.join(root, d)):
            for n in names:
                if n.endswith((".c", ".h")) and not n.endswith(("_test.c", "_fuzz.c")):
                    rel = os.path.relpath(os.path.join(base, n), root)
                    files[rel] = read(os.path.join(root, rel))
    defined_in = {}
    for rel, text in files.items():
        if rel.endswith(".c"):
            for m in DEFINITION.finditer(text):
                if m.group(1) not in KEYWORDS:
                    defined_in[m.group(1)] = module_of(rel)
    deps = {module_of(rel): set() for rel in files}
    why = {}
    for rel, text in files.items():
        me = module_of(rel)
        for inc in INCLUDE.findall(text):
            if inc in files and module_of(inc) != me:
                deps[me].add(module_of(inc))
                why.setdefault((me, module_of(inc)), f"{rel} includes {inc}")
        if rel.endswith(".h"):
            body = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
            for name in DECLARATION.findall(body):
                owner = defined_in.get(name)
                if owner is not None and owner != me:
                    deps[me].add(owner)
                    why.setdefault((me, owner), f"{rel} declares {name}() of {owner}")
    return deps, why


def find_cycle(deps):
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(deps.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(deps):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def check(root, dirs):
    deps, why = graph(root, dirs)
    cycle = find_cycle(deps)
    if cycle is None:
        print(f"no include cycle among {sum(1 for _ in deps)} modules of {', '.join(dirs)}")
        return 0
    print("include cycle: " + " -> ".join(cycle))
    for a, b in zip(cycle, cycle[1:]):
        print(f"  {a} -> {b}: {why[(a, b)]}")
    return 1


def self_test():
    """The two shapes the check exists for must fail; their fixed forms must pass."""
    cases = [
        # a shared internal header declaring another file's entry point
        ({"m/daemon_internal.h": "int m_admin_register(void);\nint m_daemon_run(void);\n",
          "m/daemon.c": '#include "m/daemon_internal.h"\nint m_daemon_run(void) { return m_admin_register(); }\n',
          "m/admin.c": '#include "m/daemon_internal.h"\nint m_admin_register(void) { return m_daemon_run(); }\n'},
         1),
        # two headers including each other's module
        ({"m/a.h": '#include "m/b.h"\n', "m/b.h": "int b_x(void);\n",
          "m/b.c": '#include "m/b.h"\n#include "m/a.h"\nint\nb_x(void) {\n    return 0;\n}\n',
          "m/a.c": '#include "m/a.h"\n'},
         1),
        # the fixed form: admin has its own header with callbacks, the daemon includes it
        ({"m/admin.h": "struct ops { int (*run)(void *); };\nint m_admin_register(const struct ops *o);\n",
          "m/admin.c": '#include "m/admin.h"\nint m_admin_register(const struct ops *o) { return o->run(0); }\n',
          "m/daemon.c": '#include "m/admin.h"\nstatic int run(void *c) { (void)c; return 0; }\n'
                        "int m_daemon_run(void) { struct ops o = {run}; return m_admin_register(&o); }\n"},
         0),
    ]
    for i, (tree, want) in enumerate(cases):
        with tempfile.TemporaryDirectory() as root:
            for rel, text in tree.items():
                os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                    f.write(text)
            got = check(root, ["m"])
            if got != want:
                print(f"self-test case {i}: exit {got}, expected {want}")
                return 1
    print("self-test passed")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2])
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return check(root, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
