"""The import graph of bench_lib: no circle among modules, and its rooms (a package, or a module at
the top of bench_lib) on the floors of :data:`FLOORS`, every import running down a floor: data at
the bottom, the suite and its command lines at the top. Every import counts, those inside functions
and those of ``__main__`` modules too; :data:`UPWARD` lists the imports allowed to run back up, each
with its reason."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bench_lib"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


#: Each room's floor: a room imports only rooms on lower floors (a room's modules import each other
#: freely).
FLOORS = {
    # 1: the ground: optional imports, registries, signals, the shared parser, the verdict rule,
    # counted costs
    "deps": 1, "plugins": 1, "stopping": 1, "parsing": 1, "verdicts": 1, "costs": 1,
    # graph stores and dataset sources; what a target is and how it is scored
    "data": 2, "tasks": 2,
    "strategies": 3,  # the batch contract, the strategies, budgets and their arithmetic (fairness)
    "models": 4, "schema": 4,  # the GNNs; the suite's vocabulary: a cell, its settings, its record
    # suite files and the flags laid on them; strategies in a user's own loop
    "config": 5, "loaders": 5,
    "harness": 6, "stack": 6,  # running and measuring cells; a config fitted to this stack
    "cells": 7, "report": 7,  # a config planned into cells; reports from records alone
    "suite": 8,
    "advise": 9, "cli": 9,  # the commands built on the suite
}

#: Imports that run back up a floor, each with its reason (at most two).
UPWARD = {
    ("bench_lib.models.__main__", "cli"): "python -m bench_lib.models runs its command, which "
                                          "lives in cli",
    ("bench_lib.data.__main__", "cli"): "python -m bench_lib.data runs its command, which lives in "
                                        "cli",
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _graph(with_main: bool = False) -> dict[str, set[str]]:
    modules = _modules()
    edges = collections.defaultdict(set)
    for name, path in modules.items():
        if name.endswith("__main__") and not with_main:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("bench_lib")):
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("bench_lib")]
            else:
                continue
            edges[name].update(t for t in targets if t in modules and t != name)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm, iterative enough
    here)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_round_a_circle():
    assert _circles(_graph()) == []


def test_every_room_has_a_floor():
    assert {_room(m) for m in _modules() if m != "bench_lib"} == set(FLOORS)


def _upward(edges: dict[str, set[str]], floors: dict[str, int]) -> set[tuple[str, str]]:
    """(module, room) of each import that does not run down a floor. ``bench_lib`` itself, the
    face, stands outside the floors: it imports nothing when imported (its names load on first use),
    so a module may read ``__version__`` from it."""
    return {(a, _room(b)) for a, targets in edges.items() for b in targets
            if b != "bench_lib" and _room(b) != _room(a) and floors[_room(b)] >= floors[_room(a)]}


def test_imports_run_down_the_floors():
    assert _upward(_graph(with_main=True), FLOORS) == set(UPWARD)
    assert len(UPWARD) <= 2


def test_the_checker_finds_an_import_up_or_across_a_floor():
    edges = {"bench_lib.data.store": {"bench_lib.models.gin"},
             "bench_lib.models.gin": {"bench_lib.data.store"},
             "bench_lib.harness.step": {"bench_lib.stack", "bench_lib.harness.measure"}}
    floors = {"data": 2, "models": 4, "harness": 6, "stack": 6}
    assert (_upward(edges, floors)
            == {("bench_lib.data.store", "models"), ("bench_lib.harness.step", "stack")})


def test_the_checker_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_crosses_a_room():
    crossings = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("bench_lib.") and _room(node.module) != _room(name)):
                crossings += [f"{name} imports {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert crossings == []


def test_the_face_hands_on_the_stable_names_of_docs_api():
    """``bench_lib``'s ``__all__`` is the table of ``docs/api.md``, each name resolves, and
    importing the package imports none of them (no torch)."""
    import re
    import subprocess
    import sys

    import bench_lib

    table = (PACKAGE.parent / "docs"
             / "api.md").read_text().split("<!-- stable-names -->")[1].strip().split("\n\n")[0]
    documented = {name for row in table.splitlines()[2:]
                  for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert documented == set(bench_lib.__all__) - {"__version__"}
    assert all(getattr(bench_lib, name) is not None for name in documented)
    done = subprocess.run([sys.executable, "-c",
                           "import sys, bench_lib; print('torch' in sys.modules)"],
                          capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "False"
