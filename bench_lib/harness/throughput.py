"""The throughput phase of a cell: warm-up, then timed windows taken in turns with the other cells.

``warmup_steps`` untimed steps, then timed windows, each at least
``window_s`` of wall time long and grouped into ``repeats``. A step's batch
building (collate, host-to-device copy and, for the ``dgl`` backend, the
``DGLGraph``) and its compute (forward, backward, optimiser) are timed
apart, on the cell's step clock: the process's CPU clock for a one-thread
cell on a CPU (time slices given to other programs do not count against
it), else the wall clock with device synchronisation on CUDA. The
wall-clock rate and the share of the CPU the process got are recorded per
window beside it. A step that compiles is counted, not timed
(:mod:`bench_lib.harness.compiles`). The phase's own memory peak is read at
its end.

A data-parallel cell runs a fixed number of global steps per window, the
same on every rank (rank 0's choice after warm-up), on the wall clock; its
rates are every rank's, gathered when the phase closes.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
import numpy as np
import torch

from bench_lib.harness import distributed
from bench_lib.schema import CONTENDED_SHARE, CellSpec
from bench_lib.harness.compiles import CompileAccount
from bench_lib.harness.measure import Clock, minor_faults, peak_rss_mib, percentiles
from bench_lib.harness.memory import reset_peaks
from bench_lib.harness.step import sync
from bench_lib.strategies import GraphBatch

__all__ = ["ThroughputPhase"]


@dataclass
class _Repeat:
    """What the timed steps of one repeat add up to (times on the step clock)."""

    steps: int = 0
    graphs: int = 0
    nodes: int = 0
    slots: int = 0
    build_s: float = 0.0
    compute_s: float = 0.0
    wall_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.build_s + self.compute_s


@dataclass
class _Throughput:
    """The throughput phase's readings so far."""

    repeats: dict[int, _Repeat] = field(default_factory=dict)
    step_s: list[float] = field(default_factory=list)
    pad_bytes: list[int] = field(default_factory=list)
    batch_bytes: list[int] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)
    others_cpu_s: float = 0.0  # CPU-seconds other work used while the windows ran
    windows_wall_s: float = 0.0
    page_faults: int = 0
    # (graphs, step-clock s) of each window
    window_parts: list[tuple[int, float]] = field(default_factory=list)
    step_wall_s: list[float] = field(default_factory=list)  # wall time of each steady timed step
    # time the steady timed steps' batches took to build, wherever they were built
    built_s: float = 0.0
    compile_steps: int = 0  # timed steps that compiled (left out of the rates)
    # data-parallel cells: this rank's readings per timed global step
    rank_steps: dict[str, list[float]] = field(default_factory=lambda: {
        k: [] for k in ("build_s", "compute_s", "wait_s", "nodes", "edges", "graphs")})


class ThroughputPhase:
    """The throughput phase of :class:`~bench_lib.harness.train.CellRun` (a mixin): :meth:`warmup`,
    :meth:`window` per timed window, :meth:`close_throughput` once at its end.

    It uses the cell's step (``_build``, ``_compute``, ``_step``), its ``spec``, ``device``,
    ``rank`` and ``ranks``, its ``compiles`` and its ``metrics``, to which the phase's metrics are
    added; the cell calls :meth:`_open_throughput` once set up."""

    spec: CellSpec
    device: torch.device
    rank: int
    ranks: int
    compiles: CompileAccount
    metrics: dict
    ddp: distributed.TimedDDP | None
    # a data-parallel step: when its gradients' all-reduce ended (perf_counter)
    _backward_end: float

    def _open_throughput(self) -> None:
        """Empty readings, the window clock and the step clock (``spec.timed_on_cpu_clock``: the
        CPU's)."""
        self._steps_per_window = 1
        self.tp = _Throughput()
        self.clock = Clock()
        self.now = time.process_time if self.spec.timed_on_cpu_clock else time.perf_counter
        self._throughput_open = True

    def warmup(self) -> None:
        """``warmup_steps`` untimed steps; a data-parallel cell then fixes its global steps per
        window from the last one's time (rank 0's choice, the same on every rank)."""
        last = None
        for _ in range(self.spec.warmup_steps):
            t = time.perf_counter()
            self._step()
            sync(self.device)
            last = time.perf_counter() - t
        # every rank runs the same number of global steps per window: rank 0's choice
        if self.ranks > 1:
            self._steps_per_window = distributed.broadcast(
                1 if last is None else max(1, math.ceil(self.spec.window_s / max(last, 1e-9))))

    def _window_ranks(self, repeat: int) -> None:
        """A data-parallel window: a fixed number of global steps (the same on every rank), wall
        clock."""
        rep = self.tp.repeats.setdefault(repeat, _Repeat())
        readings = self.tp.rank_steps
        graphs0, time0 = rep.graphs, rep.total_s
        faults = minor_faults()
        self.clock.start()
        for _ in range(self._steps_per_window):
            tb = time.perf_counter()
            batch, ops, build_s = self._build()
            sync(self.device)
            tc = time.perf_counter()
            self._compute(batch, ops)
            sync(self.device)
            te = time.perf_counter()
            nodes = self._note_step(rep, batch, te - tb, tc - tb, te - tc, build_s)
            ready, end = self.ddp.ready, self._backward_end
            for k, v in (("build_s", tc - tb), ("compute_s", (ready - tc) + (te - end)),
                         ("wait_s", end - ready),
                         ("nodes", nodes), ("edges", int(batch.edge_mask.sum())),
                         ("graphs", batch.n_real_graph)):
                readings[k].append(v)
        self._close_window(rep, faults, graphs0, time0)

    def _note_step(self, rep: _Repeat, batch: GraphBatch, wall_s: float, build_s: float,
                   compute_s: float,
                   built_s: float) -> int:
        """Add one steady timed step (its wall time; build and compute on the step clock; the
        seconds its batch took to build wherever it was built) to ``rep`` and the throughput
        readings; returns the batch's real nodes."""
        nodes = int(batch.node_mask.sum())
        self.tp.step_wall_s.append(wall_s)
        self.tp.built_s += built_s
        rep.steps += 1
        rep.build_s += build_s
        rep.compute_s += compute_s
        rep.graphs += batch.n_real_graph
        rep.nodes += nodes
        rep.slots += batch.node_mask.shape[0]
        self.tp.step_s.append(build_s + compute_s)
        self.tp.pad_bytes.append(batch.padding_bytes())
        self.tp.batch_bytes.append(batch.nbytes())
        return nodes

    def _close_window(self, rep: _Repeat, faults: int, graphs0: int, time0: float) -> None:
        """Stop the window's clock and note its readings (``faults``, ``graphs0``, ``time0``: at its
        start)."""
        reading = self.clock.stop()
        self.tp.page_faults += minor_faults() - faults
        self.tp.window_parts.append((rep.graphs - graphs0, rep.total_s - time0))
        rep.wall_s += reading.wall_s
        self.tp.cpu_share.append(reading.cpu_share(self.spec.threads))
        self.tp.others_cpu_s += reading.others_cpu_s
        self.tp.windows_wall_s += reading.wall_s

    def window(self, repeat: int) -> float | None:
        """Run whole timed steps for at least ``window_s`` wall seconds, counted in ``repeat``
        (a data-parallel cell: the global steps fixed after warm-up); returns the window's real
        graphs/s (None for a data-parallel cell, whose rate is every rank's, known when they are
        gathered)."""
        if self.ranks > 1:
            self._window_ranks(repeat)
            return None
        rep = self.tp.repeats.setdefault(repeat, _Repeat())
        now = self.now
        faults = minor_faults()
        graphs0, time0 = rep.graphs, rep.total_s
        self.clock.start()
        start = time.perf_counter()
        while True:
            c0, wall0 = self.compiles.frames(), time.perf_counter()
            tb = now()
            batch, ops, build_s = self._build()
            sync(self.device)
            tc = now()
            self._compute(batch, ops)
            sync(self.device)
            te = now()
            # a compile is not steady state: counted, not timed
            if self.compiles.note_step(c0, wall0):
                self.tp.compile_steps += 1
                if time.perf_counter() - start >= self.spec.window_s:
                    break
                continue
            self._note_step(rep, batch, time.perf_counter() - wall0, tc - tb, te - tc, build_s)
            if time.perf_counter() - start >= self.spec.window_s:
                break
        self._close_window(rep, faults, graphs0, time0)
        graphs, seconds = self.tp.window_parts[-1]
        return graphs / max(seconds, 1e-12)

    def close_throughput(self) -> dict:
        """End the throughput phase (once) and return the metrics so far."""
        if self._throughput_open:
            self._close_throughput()
        return dict(self.metrics)

    def _close_throughput(self) -> None:
        self._throughput_open = False
        # a train-only cell (repeats = 0): nothing timed, nothing to summarise
        if not self.tp.window_parts:
            self.metrics["windows_timed"] = 0
            self.metrics.pop("prepare_s", None)  # planned beside other cells: not a measurement
            return
        self.metrics["throughput_peak_rss_mib"] = peak_rss_mib()
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
            self.metrics["cuda_throughput_peak_mib"] = peak / 2**20
        self.metrics.update(self._throughput_metrics())
        if self.ranks > 1:
            self.metrics.update(self._rank_metrics())
        self.metrics["peak_reset_ok"] = self.metrics["peak_reset_ok"] and reset_peaks(self.device)

    def _throughput_metrics(self) -> dict:
        reps = [self.tp.repeats[r] for r in sorted(self.tp.repeats) if self.tp.repeats[r].steps]
        if not reps:
            raise RuntimeError("no timed window ran a steady step")
        rates = [r.graphs / r.total_s for r in reps]
        med = statistics.median
        p10, p50, p90 = percentiles(self.tp.step_s)
        steps = sum(r.steps for r in reps)
        # build and wait seconds per steady step
        built, waited = self.tp.built_s / steps, sum(r.build_s for r in reps) / steps
        on_cpu = self.device.type == "cpu"
        return {
            "step_clock": "cpu" if self.spec.timed_on_cpu_clock else "wall",
            "graphs_per_s": med(rates), "graphs_per_s_min": min(rates),
            "graphs_per_s_max": max(rates),
            "repeat_graphs_per_s": [round(x, 3) for x in rates],
            "window_graphs_per_s": [round(g / max(s, 1e-12), 2) for g, s in self.tp.window_parts],
            "graphs_per_wall_s": med([r.graphs / max(r.wall_s, 1e-12) for r in reps]),
            "real_nodes_per_s": med([r.nodes / r.total_s for r in reps]),
            "padded_nodes_per_s": med([r.slots / r.total_s for r in reps]),
            "step_s": med([r.total_s / r.steps for r in reps]),
            "step_s_p10": p10, "step_s_p50": p50, "step_s_p90": p90,
            "batch_build_share": med([r.build_s / r.total_s for r in reps]),
            "batch_build_s": built,
            "batch_wait_s": waited,
            "build_hidden_share": 0.0 if not self.spec.prefetch else
            float(np.clip(1.0 - waited / max(built, 1e-12), 0.0, 1.0)),
            "compile_steps_timed": self.tp.compile_steps,
            "page_faults_per_step": self.tp.page_faults / steps,
            "padding_mib_per_step": float(np.mean(self.tp.pad_bytes)) / 2**20,
            "batch_mib_per_step": float(np.mean(self.tp.batch_bytes)) / 2**20,
            "windows_timed": len(self.tp.cpu_share),
            "contended_windows": int(sum(s < CONTENDED_SHARE for s in self.tp.cpu_share)) if on_cpu
                else 0,
            "cpu_share_median": med(self.tp.cpu_share),
            # Summed over windows: /proc/stat counts in 10 ms ticks, too coarse for one 50 ms
            # window.
            "others_cpus_mean": max(0.0, self.tp.others_cpu_s) / max(self.tp.windows_wall_s, 1e-12),
        }

    def _rank_metrics(self) -> dict:
        """Every rank's readings gathered: global rates (all ranks' graphs over the slowest rank's
        time, per repeat) and the straggler summary (:func:`distributed.straggler_metrics`)."""
        mine = {**self.tp.rank_steps, "peak_rss_mib": self.metrics["throughput_peak_rss_mib"],
                "repeats": {r: (x.graphs, x.nodes, x.slots, x.total_s, x.wall_s)
                            for r, x in self.tp.repeats.items() if x.steps}}
        mine["windows"] = self.tp.window_parts
        every = distributed.gather(mine)
        reps = sorted(every[0]["repeats"])
        def per(i, r):
            return [e["repeats"][r][i] for e in every]
        def rate(i, t):
            return [sum(per(i, r)) / max(max(per(t, r)), 1e-12) for r in reps]
        graphs, wall = rate(0, 3), rate(0, 4)
        med = statistics.median
        windows = [sum(w[0] for w in ws) / max(max(w[1] for w in ws), 1e-12)
                   for ws in zip(*(e["windows"] for e in every))]
        return {"graphs_per_s": med(graphs), "graphs_per_s_min": min(graphs),
                "graphs_per_s_max": max(graphs),
                "repeat_graphs_per_s": [round(x, 3) for x in graphs],
                "graphs_per_wall_s": med(wall),
                "window_graphs_per_s": [round(x, 2) for x in windows],
                "real_nodes_per_s": med(rate(1, 3)), "padded_nodes_per_s": med(rate(2, 3)),
                **distributed.straggler_metrics(every)}
