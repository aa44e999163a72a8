#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tests/layers.py --core OBJECT... --shell OBJECT...: the daemon's files
import in one direction (make check-layers, in make check-unit).

The graph is the honest one: an edge A -> B when A's object leaves a
symbol undefined (nm) that B's object defines, the symbols named on it.
It fails, listing them, on
  - a call from the core (--core: the pure core and the start-up code
    beside it) into the shell (--shell): the core does not know the shell;
  - a cycle (a strongly connected set of files) in the core or in the
    shell that tests/layers-known.txt does not list as it is.
tests/layers-known.txt lists the cycles not yet broken, one a line, as
"core: a b c" or "shell: a b c"; a listed one that is gone or smaller
fails too (the list says what is, so it only shrinks)."""

import os
import subprocess
import sys

DEFINED = set("TDBRCGSV")


def name(obj):
    return os.path.splitext(os.path.basename(obj))[0]


def symbols(objs):
    """Per object: the symbols it defines and those it needs."""
    defs, needs = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True,
                             check=True).stdout
        needs[o] = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "U":
                needs[o].add(f[1])
            elif len(f) == 3 and f[1] in DEFINED:
                defs.setdefault(f[2], o)
    return defs, needs


def graph(objs):
    """{a: {b: [symbols]}} between the files of objs."""
    defs, needs = symbols(objs)
    g = {name(o): {} for o in objs}
    for o in objs:
        for s in needs[o]:
            t = defs.get(s)
            if t is not None and t != o:
                g[name(o)].setdefault(name(t), []).append(s)
    return g


def cycles(g, group):
    """The strongly connected sets of more than one file within group
    (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in group:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(group):
        if v not in index:
            visit(v)
    return out


def shortest_cycle(g, scc):
    """The shortest cycle through scc's files, as a list (BFS from each)."""
    best = None
    for start in scc:
        prev, queue = {start: None}, [start]
        while queue:
            v = queue.pop(0)
            if v != start and start in g[v]:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                if best is None or len(path) < len(best):
                    best = path
                break
            for w in sorted(g[v]):
                if w in scc and w not in prev:
                    prev[w] = v
                    queue.append(w)
    return best + [best[0]]


def show(g, scc):
    print("layers:   e.g. %s" % " -> ".join(shortest_cycle(g, scc)))
    for a in scc:
        for b in sorted(g[a]):
            if b in scc:
                print("layers:   %s -> %s: %s" %
                      (a, b, " ".join(sorted(g[a][b]))))


def known_cycles(path):
    known = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            side, files = line.split(":", 1)
            known.add((side.strip(), " ".join(sorted(files.split()))))
    return known


def main(argv):
    core, shell, cur = [], [], None
    for a in argv:
        if a == "--core":
            cur = core
        elif a == "--shell":
            cur = shell
        elif cur is None:
            sys.exit("usage: tests/layers.py --core OBJECT... "
                     "--shell OBJECT...")
        else:
            cur.append(a)
    g = graph(core + shell)
    cset, sset = {name(o) for o in core}, {name(o) for o in shell}
    bad = 0
    for a in sorted(cset):
        for b in sorted(g[a]):
            if b in sset:
                print("layers: core %s calls the shell's %s: %s" %
                      (a, b, " ".join(sorted(g[a][b]))))
                bad = 1
    kpath = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "layers-known.txt")
    known = known_cycles(kpath)
    found = set()
    for side, group in (("core", cset), ("shell", sset)):
        for scc in cycles(g, group):
            key = (side, " ".join(scc))
            found.add(key)
            if key in known:
                continue
            print("layers: %s cycle: %s (not in tests/layers-known.txt "
                  "as it is):" % (side, " ".join(scc)))
            show(g, scc)
            bad = 1
    for side, files in sorted(known - found):
        print("layers: tests/layers-known.txt lists %s: %s, no longer a "
              "cycle as it is: write what is left of it, or remove it" %
              (side, files))
        bad = 1
    if bad:
        return 1
    print("layers: %d core and %d shell files: the core calls no shell; "
          "no cycle%s" % (len(cset), len(sset), "" if not known else
                          " but the %d listed in tests/layers-known.txt" %
                          len(known)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
