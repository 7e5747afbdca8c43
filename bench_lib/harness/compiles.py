"""Compile accounting of a cell: the steps that compiled, what their compiling cost, dynamo's
counters.

A step that compiles is not steady state: it is counted, not timed, and
its wall time beyond a steady step's is the cell's ``compile_s``.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from bench_lib.schema import COLD_CACHE_FLAG
from bench_lib.harness.step import sync

__all__ = ["frames_compiled", "dynamo_counts", "CompileAccount"]


def frames_compiled() -> int:
    """Frames dynamo has compiled so far in this process (cheap: read once per step)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["ok"])


def dynamo_counts() -> dict:
    """Dynamo's counters so far in this process: frames compiled, FX graphs, graph breaks."""
    from torch._dynamo.utils import counters

    return {"compiles": frames_compiled(),
            "compiled_graphs": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(counters["graph_break"].values())),
            "frames_not_compiled": int(counters["frames"]["total"] - counters["frames"]["ok"]),
            "graph_break_reasons": _reasons(counters["graph_break"])}


def _reasons(breaks) -> dict[str, int]:
    """Graph-break reasons, each cut to 200 characters, their counts added where the cut ones
    agree."""
    out: dict[str, int] = {}
    for reason, n in breaks.items():
        out[str(reason)[:200]] = out.get(str(reason)[:200], 0) + int(n)
    return out


class CompileAccount:
    """The compiles of one cell's steps on ``device`` (``compiled``: whether its step is
    ``torch.compile``'s; an eager cell counts none).

    Example::

        before, started = account.frames(), time.perf_counter()
        ...                                      # one step
        if account.note_step(before, started):   # it compiled: not a steady step
            ...
    """

    def __init__(self, compiled: bool, device: torch.device) -> None:
        self.compiled = compiled
        self.device = device
        self.walls: list[float] = []  # wall seconds of every step that compiled
        self.first_step_compiles: int | None = None  # frames compiled by the end of the first step

    def frames(self) -> int:
        """Frames compiled so far in this process (0 for an eager cell)."""
        return frames_compiled() if self.compiled else 0

    def note_step(self, compiles_before: int, started: float) -> bool:
        """Note one step begun at ``started`` (``perf_counter``); True when it
        compiled, and then its wall time, its own compute included, is kept
        for ``compile_s``."""
        after = self.frames()
        if self.first_step_compiles is None:
            self.first_step_compiles = after
        if after == compiles_before:
            return False
        sync(self.device)
        self.walls.append(time.perf_counter() - started)
        return True

    def seconds(self, steady_walls: list[float]) -> float:
        """Wall seconds the compiling steps took beyond a steady step's wall time (the median of
        ``steady_walls``, the steady timed steps' wall times)."""
        if not self.walls:
            return 0.0
        steady = statistics.median(steady_walls) if steady_walls else 0.0
        return max(0.0, sum(self.walls) - steady * len(self.walls))

    def metrics(self, steady_walls: list[float]) -> dict:
        """The cell's compile metrics: ``compile_s`` (:meth:`seconds`), the cache it compiled with,
        dynamo's counts and the recompiles after the first step (all 0 for an eager cell)."""
        if not self.compiled:
            return {"compile_s": 0.0, "compiles": 0, "recompiles": 0, "graph_breaks": 0,
                    "compiled_graphs": 0, "graph_break_reasons": {}, "frames_not_compiled": 0}
        counts = dynamo_counts()
        cache = "cold" if os.environ.get(COLD_CACHE_FLAG) else "shared"
        return {"compile_s": self.seconds(steady_walls), "compile_cache": cache, **counts,
                "recompiles": counts["compiles"] - (self.first_step_compiles or 0)}
