#!/usr/bin/env python3
"""Layering check: file-level call and include cycles in src/ (issue #16).

Calls: from the symbols each object file of a build defines and uses (nm). Includes: #include "..." lines
(a header stands for its .c files). Prints every strongly connected group of two or more files outside
src/core and src/io. Usage: dev/file_cycles.py BUILD_DIR  (run from the source root)."""
import os, re, subprocess, sys
from collections import defaultdict

build = sys.argv[1] if len(sys.argv) > 1 else "build"
objdir = os.path.join(build, "CMakeFiles", "pc_objects.dir")
defs, uses = {}, defaultdict(set)
owner = {}
for root, _, files in os.walk(objdir):
    for f in files:
        if not f.endswith(".o"): continue
        path = os.path.join(root, f)
        src = os.path.relpath(path, objdir)[:-2]          # src/x/y.c
        out = subprocess.run(["nm", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDRB": owner[parts[2]] = src
            elif len(parts) == 2 and parts[0] == "U": uses[src].add(parts[1])
edges = defaultdict(set)
for src, syms in uses.items():
    for s in syms:
        o = owner.get(s)
        if o and o != src: edges[src].add(o)
# includes: a .c including a header depends on the .c files beside it with the same stem
for root, _, files in os.walk("src"):
    for f in files:
        if not f.endswith((".c", ".h")): continue
        p = os.path.join(root, f)
        for inc in re.findall(r'#include "([^"]+)"', open(p, errors="replace").read()):
            h = os.path.normpath(os.path.join("src", inc)) if not inc.startswith("posecrafter") else None
            if h and os.path.exists(h[:-2] + ".c") and h[:-2] + ".c" != p: edges[p].add(h[:-2] + ".c")
def skip(n): return n.startswith("src/core/") or n.startswith("src/io/")
# Tarjan
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if skip(w): continue
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: comps.append(sorted(c))
sys.setrecursionlimit(10000)
for v in list(edges):
    if not skip(v) and v not in index: strong(v)
for c in comps: print("cycle:", " <-> ".join(c))
print(f"{len(comps)} cycles among {len([v for v in edges if not skip(v)])} files")
sys.exit(1 if comps else 0)
