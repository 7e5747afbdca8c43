"""One cell in one process: setup, timed windows, time to accuracy, memory.

The worker process (:mod:`bench_lib.harness.worker`) holds one
:class:`CellRun` and drives it on the runner's command, so that the cells
of a group take turns window by window. Phases:

1. setup: dataset (from cache), seeded split, the strategy's plan, model;
   then the resident high-water mark is reset (``peak_reset_ok``).
2. throughput: ``warmup_steps`` untimed steps, then timed windows, each at
   least ``window_s`` of wall time long and grouped into ``repeats``. A
   step's batch building (collate, host-to-device copy and, for the ``dgl``
   backend, the ``DGLGraph``) and its compute (forward, backward, optimiser)
   are timed apart, on the cell's step clock: the process's CPU clock for a
   one-thread cell on a CPU (time slices given to other programs do not
   count against it), else the wall clock with device synchronisation on
   CUDA. The wall-clock rate and
   the share of the CPU the process got are recorded per window beside it.
   The phase's own memory peak is read at its end.
3. time to accuracy (when the cell has a target value, ``CellSpec.goal``):
   from the same initial weights, train until the validation score (the
   cell's metric: MAE, ROC-AUC, average precision, accuracy; see
   :mod:`bench_lib.tasks`) reaches the target in the metric's direction or
   ``max_steps`` steps have run (``train_time_limit_s`` is only a safety
   limit); validation every ``eval_every`` steps is not counted as training
   time. ``steps_to_target`` is the primary figure; ``time_to_target_s`` is
   derived from it and the step time measured in phase 2, so that it does
   not depend on what else the machine was doing during training.
   Validation always uses the same unpadded batches, whatever the strategy.

The cell's store holds its task's labels (:meth:`Task.labels`: class
indices for a class column). Labels may be missing per graph and column (NaN,
as in ogbg-molpcba): the normalisation statistics, the loss and the metric
use the finite labels of real graphs only. An OGB set is scored by OGB's own
evaluator.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from bench_lib.data import load_dataset, store_splits
from bench_lib.data.store import touch_mapped
from bench_lib.harness import distributed
from bench_lib.harness.cell import COLD_CACHE_FLAG, CellSpec, EnvironmentSkip
from bench_lib.harness.measure import (CONTENDED_SHARE, Clock, minor_faults, peak_rss_mib, percentiles,
                                       release_free_memory, reset_peak_rss, rss_mib)
from bench_lib.models import MODELS, create_model
from bench_lib.harness.pipeline import BatchSource
from bench_lib.harness.planning import plan_metrics
from bench_lib.models.ops import TorchOps, graph_ops
from bench_lib.strategies import STRATEGIES, GraphBatch
from bench_lib.strategies.loader import BatchLoader
from bench_lib.tasks import METRICS, Task, class_balance, ogb_score, resolve_task, score, task_loss

__all__ = ["CellRun", "masked_loss", "evaluate_mae", "evaluate_score", "predict", "target_stats", "build_model",
           "cell_task", "labelled_store", "train_to_target", "run_cell_inprocess",
           "compile_kwargs", "dynamo_counts", "make_loss"]


def compile_kwargs(spec: CellSpec) -> dict:
    """``torch.compile`` keyword arguments of a compiled cell's ``execution``."""
    kwargs: dict = {"compile": {"dynamic": None}, "compile-dynamic": {"dynamic": True},
                    "cudagraphs": {"mode": "reduce-overhead"}}[spec.execution]
    extra = dict(spec.compile_options)
    if isinstance(extra.get("options"), dict):  # JSON and TOML have no tuples; inductor's options want them
        extra["options"] = {k: tuple(v) if isinstance(v, list) else v for k, v in extra["options"].items()}
    return {**kwargs, **extra}


def make_loss(model: torch.nn.Module, task: Task | int | None, spec: CellSpec,
              forward: torch.nn.Module | None = None) -> Callable:
    """The step's loss function ``loss(batch, ops=None, denominator=None)`` as the cell runs it.

    Eager: the model (or ``forward``, its ``DistributedDataParallel``
    wrapper) on the given operators (``TorchOps`` when none), the task's
    loss (:func:`~bench_lib.tasks.task_loss`, on a batch of the cell's
    labelled store; ``task`` an int: squared error on that column of a raw
    store; None: no target) divided by ``denominator`` labels when given (a
    data-parallel step's labels over every rank), else by the batch's own.
    Compiled (``spec.execution``): ``torch.compile`` of forward and loss on
    ``TorchOps``; AOTAutograd compiles the backward with it. The optimiser is
    left out and steps eagerly, the same for every cell (compiling its step
    apart and stepping Adam eagerly fails on a CPU)."""

    run = forward if forward is not None else model

    def loss_of(batch: GraphBatch, ops=None, denominator: int | None = None) -> torch.Tensor:
        pred = run(batch, ops=ops if ops is not None else TorchOps(batch))
        if isinstance(task, Task):
            return task_loss(pred, batch.targets, batch.graph_mask, task.kind, model.target_std, denominator,
                             loss=spec.loss)
        return masked_loss(pred, batch, task, model.target_std, denominator)

    return torch.compile(loss_of, **compile_kwargs(spec)) if spec.compiled else loss_of


def frames_compiled() -> int:
    """Frames dynamo has compiled so far in this process (cheap: read once per step)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["ok"])


def dynamo_counts() -> dict:
    """Dynamo's counters so far in this process: frames compiled, FX graphs, graph breaks."""
    from torch._dynamo.utils import counters

    return {"compiles": frames_compiled(), "compiled_graphs": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(counters["graph_break"].values()))}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _valid(batch: GraphBatch, column: int | None) -> torch.Tensor:
    """Real graphs whose label in ``column`` is known (finite); every real graph when there is no target."""
    if column is None:
        return batch.graph_mask
    return batch.graph_mask & torch.isfinite(batch.targets[:, column])


def masked_loss(pred: torch.Tensor, batch: GraphBatch, column: int | None, std: torch.Tensor,
                denominator: int | None = None) -> torch.Tensor:
    """Mean squared error in standardised units over the real graphs with a known label.

    ``column`` None (a dataset without a target, timed for throughput and
    memory only): the prediction is fitted to zero, the same computation.
    ``denominator``: divide the summed error by this many graphs instead of
    the batch's labelled graphs (a data-parallel step: every rank's)."""
    valid = _valid(batch, column)
    label = torch.zeros_like(pred[:, 0]) if column is None else batch.targets[:, column]
    target = torch.where(valid, label, torch.zeros_like(pred[:, 0]))
    err = torch.where(valid, (pred[:, 0] - target) / std.reshape(-1)[0], torch.zeros_like(target))
    if denominator is not None:
        return err.pow(2).sum() / max(int(denominator), 1)
    return err.pow(2).sum() / valid.sum().clamp(min=1)


@torch.no_grad()
def predict(model, loader: BatchLoader, device: torch.device, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """``(labels [n, L], predictions [n, outputs])`` of the real graphs of one pass of ``loader``, in the
    model's evaluation mode."""
    was_training = model.training
    model.eval()
    labels, preds = [], []
    for batch in loader.epoch(0):
        batch = batch.to(device)
        pred = model(batch, backend=backend)
        labels.append(batch.targets[batch.graph_mask].double().cpu().numpy())
        preds.append(pred[batch.graph_mask].double().cpu().numpy())
    model.train(was_training)
    return np.concatenate(labels), np.concatenate(preds)


def evaluate_score(model, loader: BatchLoader, task: Task, device: torch.device, backend: str,
                   dataset: str = "") -> tuple[float, str]:
    """``(score, what computed it)``: the task's metric over one pass of ``loader`` (a batch of the cell's
    labelled store); OGB's evaluator for an OGB set scored by its own metric."""
    y, pred = predict(model, loader, device, backend)
    if not np.isfinite(pred).all():  # a diverged model: not reached, recorded as such (the rankers raise on NaN)
        return float("nan"), "bench_lib"
    official = ogb_score(dataset, task.metric, y, pred) if dataset else None
    if official is not None:
        return official, f"ogb evaluator ({dataset})"
    return score(task.metric, y, pred), "bench_lib"


def evaluate_mae(model, loader: BatchLoader, column: int, device: torch.device, backend: str) -> float:
    """Mean absolute error of output 0 on target ``column`` over the real graphs with a known label."""
    y, pred = predict(model, loader, device, backend)
    return score("mae", y[:, [column]], pred[:, :1])


def target_stats(store, train: np.ndarray, column: int, per_atom: bool) -> tuple[float, float]:
    """Mean and std of the finite labels of ``column`` over the training graphs
    (per atom for the models that standardise per atom, as SchNet and PaiNN do)."""
    y = store.targets[train, column].astype(np.float64)
    if per_atom:
        y = y / store.n_node[train]
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise ValueError(f"no training graph has a finite label in target column {column}")
    return float(y.mean()), float(max(y.std(), 1e-6))


def cell_task(spec: CellSpec, store) -> Task | None:
    """The cell's :class:`~bench_lib.tasks.Task` on ``store`` (as loaded), None when it has no target."""
    if spec.target is not None and spec.target not in store.meta.target_names:
        raise ValueError(f"target {spec.target!r} not in {spec.dataset}'s targets {list(store.meta.target_names)}")
    return resolve_task(store, spec.target, kind=spec.task, metric=spec.metric, dataset=spec.dataset)


def labelled_store(store, task: Task | None):
    """``store`` whose targets are the task's labels (:meth:`Task.labels`; no target: unchanged)."""
    if task is None:
        return store
    meta = dataclasses.replace(store.meta, target_names=task.names)
    return dataclasses.replace(store, targets=task.labels(store.targets), meta=meta)


def build_model(spec: CellSpec, store, train: np.ndarray) -> tuple[torch.nn.Module, Task | None]:
    """``(model, task)`` of a cell on ``store`` as loaded: its model with one output per the task's
    outputs, initialised from ``torch``'s RNG as it stands, given the statistics of a regression target
    over the training graphs (no target: 0 and 1; a classification's logits: mean 0, and a per-atom model's
    sum readout divided by the mean node count, so that the first logits sit near 0)."""
    task = cell_task(spec, store)
    model = create_model(spec.model, store, n_targets=task.n_outputs if task else 1, **spec.model_params)
    mean_nodes = float(store.n_node[train].mean())
    per_atom = MODELS.get(spec.model).per_atom_target
    if task is None:
        mean, std = 0.0, 1.0
    elif task.kind == "regression":
        mean, std = target_stats(store, train, task.columns[0], per_atom=per_atom)
    else:
        mean, std = 0.0, (1.0 / mean_nodes if per_atom else 1.0)
    model.set_target_stats(mean, std, mean_nodes=mean_nodes)
    return model, task


def _stream(loader: BatchLoader) -> Iterator[GraphBatch]:
    epoch = 0
    while True:
        yield from loader.epoch(epoch)
        epoch += 1


def train_to_target(step: Callable[[], None], evaluate: Callable[[], float], target: float, max_steps: int,
                    eval_every: int, time_limit_s: float,
                    agree: Callable[[str | None], str | None] = lambda stop: stop,
                    higher_is_better: bool = False) -> dict:
    """Train with ``step()`` until ``evaluate()`` (the validation score) reaches ``target``: at or below it,
    or at or above it when ``higher_is_better``.

    Evaluates before the first step and every ``eval_every`` steps; stops at
    the target, after ``max_steps`` steps, or (safety) once ``time_limit_s``
    seconds have passed since it began, validation included. ``agree``
    turns this process's decision to stop (None: go on) into the one every
    process of a data-parallel cell takes (rank 0's). Returns
    ``reached_target``, ``steps_to_target``
    (None when not reached), ``time_to_target_wall_s``, ``train_stop``,
    ``best_val_score``, ``final_val_score``, ``train_steps``, ``train_wall_s``
    and the ``curve`` ``[[step, train wall s, val score], ...]``.
    """
    def at_target(value: float) -> bool:
        return value >= target if higher_is_better else value <= target

    n_steps, train_s = 0, 0.0
    began = time.perf_counter()
    value = evaluate()
    curve = [[0, 0.0, value]]
    stop = agree("target" if at_target(value) else None)
    while stop is None:
        t = time.perf_counter()
        for _ in range(min(eval_every, max_steps - n_steps)):
            step()
            n_steps += 1
        train_s += time.perf_counter() - t
        value = evaluate()
        curve.append([n_steps, round(train_s, 4), value])
        if at_target(value):
            stop = "target"
        elif n_steps >= max_steps:
            stop = "max_steps"
        elif time.perf_counter() - began >= time_limit_s:
            stop = "time_limit"
        stop = agree(stop)
    reached = stop == "target"
    scores = [c[2] for c in curve if c[2] == c[2]]  # a diverged model's NaN is no score
    best = (max(scores) if higher_is_better else min(scores)) if scores else float("nan")
    return {"reached_target": reached, "steps_to_target": n_steps if reached else None,
            "time_to_target_wall_s": train_s if reached else None, "train_stop": stop,
            "best_val_score": best, "final_val_score": curve[-1][2],
            "train_steps": n_steps, "train_wall_s": train_s, "curve": curve}


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
    repeats: dict[int, _Repeat] = field(default_factory=dict)
    step_s: list[float] = field(default_factory=list)
    pad_bytes: list[int] = field(default_factory=list)
    batch_bytes: list[int] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)
    others_cpu_s: float = 0.0  # CPU-seconds other work used while the windows ran
    windows_wall_s: float = 0.0
    page_faults: int = 0
    window_parts: list[tuple[int, float]] = field(default_factory=list)  # (graphs, step-clock s) of each window
    step_wall_s: list[float] = field(default_factory=list)  # wall time of each steady timed step
    built_s: float = 0.0  # time the steady timed steps' batches took to build, wherever they were built
    compile_steps: int = 0  # timed steps that compiled (left out of the rates)
    # data-parallel cells: this rank's readings per timed global step
    rank_steps: dict[str, list[float]] = field(default_factory=lambda: {
        k: [] for k in ("build_s", "compute_s", "wait_s", "nodes", "edges", "graphs")})


class CellRun:
    """One cell's state in its worker process.

    Example::

        run = CellRun(spec)          # setup
        run.warmup()
        for r in range(spec.repeats):
            for _ in range(spec.windows):
                run.window(r)
        metrics = run.finish()       # time to accuracy (if any) and every metric
    """

    def __init__(self, spec: CellSpec) -> None:
        self.spec = spec
        torch.set_num_threads(spec.threads)
        torch.manual_seed(spec.seed)
        self.rank, self.ranks = self._check_ranks(spec)
        self.device = torch.device(spec.device)
        if self.device.type == "cuda" and self.ranks > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise EnvironmentSkip("device 'cuda' requested but torch sees no GPU")
        if spec.compiled and spec.backend != "torch":
            raise NotImplementedError(f"execution {spec.execution!r} needs backend 'torch': torch.compile cannot "
                                      f"trace DGL's message-passing kernels (backend {spec.backend!r})")
        if spec.execution == "cudagraphs" and self.device.type != "cuda":
            raise EnvironmentSkip("execution 'cudagraphs' captures CUDA graphs: it needs device 'cuda'")
        if spec.compiled and spec.model == "none":
            raise NotImplementedError(f"execution {spec.execution!r}: a loader-only cell has no step to compile")
        if self.ranks > 1:
            if spec.compiled:
                raise NotImplementedError(f"execution {spec.execution!r} with ranks > 1: data-parallel cells "
                                          "run eager steps only")
            if spec.model == "none":
                raise NotImplementedError("ranks > 1: a loader-only cell has no gradient to all-reduce")
            if self.device.type == "cuda":
                if torch.cuda.device_count() < self.ranks:
                    raise EnvironmentSkip(f"ranks={self.ranks} on CUDA needs a GPU per rank; torch sees "
                                          f"{torch.cuda.device_count()}")
                torch.cuda.set_device(self.device)
            distributed.init_process_group()  # no-op in the worker, which joined before reading the spec
        raw = load_dataset(spec.dataset, n_graphs=spec.n_graphs, seed=spec.dataset_seed, **spec.dataset_options)
        self.splits = store_splits(raw, seed=spec.dataset_seed)
        self.task = cell_task(spec, raw) if spec.model != "none" else None
        self.store = labelled_store(raw, self.task)
        strategy = STRATEGIES.create(spec.strategy, **spec.strategy_params)
        t0 = time.perf_counter()
        self.loader = BatchLoader(self.store, strategy, self.splits["train"], seed=spec.seed)
        self.metrics: dict = {"prepare_s": time.perf_counter() - t0, "torch_threads": torch.get_num_threads()}
        self.metrics.update(self._plan_metrics())
        self.model = self.opt = self.ddp = None
        self.metrics.update(self._task_metrics())
        self._loss = None
        self._denominators = None  # data-parallel cells: labelled graphs of each global step
        self._backward_end = 0.0
        self._steps_per_window = 1
        self._compile_walls: list[float] = []  # wall seconds of every step that compiled
        self._first_step_compiles: int | None = None  # frames compiled by the end of the first step
        if spec.model != "none":
            self._build_model()
        self.source = self._source()
        self.tp = _Throughput()
        self.clock = Clock()
        self.now = time.process_time if spec.timed_on_cpu_clock else time.perf_counter
        for store in (raw, self.store):  # the data file's pages in the baseline, not in a phase's rise
            touch_mapped(store)
        gc.collect()
        release_free_memory()
        self.metrics["baseline_rss_mib"] = rss_mib()
        self.metrics["peak_reset_ok"] = self._reset_peaks()
        self._throughput_open = True

    # -- setup ---------------------------------------------------------------------------
    @staticmethod
    def _check_ranks(spec: CellSpec) -> tuple[int, int]:
        """``(rank, ranks)`` of this process; a data-parallel cell must be started by torchrun."""
        if spec.ranks == 1:
            return 0, 1
        rank, size = distributed.world()
        if size != spec.ranks:
            raise RuntimeError(f"the cell has ranks={spec.ranks} but runs in a world of {size} process(es); "
                               "start it with torch.distributed.run --nproc-per-node "
                               f"{spec.ranks} (the runner does)")
        return rank, size

    def _plan_metrics(self) -> dict:
        """Slots per step and efficiency, from the first epoch's plan."""
        return plan_metrics(self.loader.plan(0), self.loader.n_node, self.loader.n_edge)

    def _task_metrics(self) -> dict:
        """The class balance of a classification target over the training split (empty for regression)."""
        if self.task is None or not self.task.classification:
            return {}
        out = {"class_balance": class_balance(self.task, self.store.targets[self.splits["train"]])}
        if self.task.kind == "binary":
            out["positive_class"] = self.task.class_names[1]
        return out

    def _build_model(self) -> None:
        spec = self.spec
        self.model, _ = build_model(spec, self.store, self.splits["train"])
        self.model.to(self.device).train()
        self.init_state = copy.deepcopy(self.model.state_dict())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=spec.lr)
        if self.ranks > 1:
            self.ddp = distributed.TimedDDP(self.model, self.device)
        self._loss = make_loss(self.model, self.task, spec, forward=self.ddp.module if self.ddp else None)

    def _source(self) -> BatchSource:
        """The batch stream from epoch 0, built inline or ahead (``prefetch``)."""
        spec, on_cpu = self.spec, self.device.type == "cpu"
        # Operators go with the batch on a CPU (a DGLGraph is part of building it); a compiled step builds its own.
        make_ops = (lambda b: graph_ops(b, spec.backend)) if on_cpu and not spec.compiled else None
        if self.ranks == 1:
            stream = lambda: _stream(self.loader)  # noqa: E731
        else:  # this rank's batches, and each global step's labelled graphs over every rank
            stream = lambda: distributed.rank_batches(self.loader, self.rank, self.ranks)  # noqa: E731
            store = self.loader.store
            valid = (np.ones(store.n_graph, np.int64) if self.task is None
                     else np.isfinite(store.targets).sum(1) if self.task.kind == "multilabel"
                     else np.isfinite(store.targets[:, 0]).astype(np.int64))
            self._denominators = distributed.global_denominators(self.loader, valid, self.ranks)
        return BatchSource(stream, prefetch=spec.prefetch, mode=spec.prefetch_with, pin=not on_cpu,
                           make_ops=make_ops)

    def _reset_peaks(self) -> bool:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return reset_peak_rss()

    # -- one step ------------------------------------------------------------------------
    def _build(self) -> tuple[GraphBatch, object, float]:
        """The next batch on the device, with its message-passing operators
        (the ``DGLGraph`` for the ``dgl`` backend; None for a compiled step,
        which builds its own) and the seconds its build took: everything a
        step needs before compute."""
        batch, ops, build_s = self.source.next()
        if self.device.type != "cpu":
            batch = batch.to(self.device, non_blocking=self.source.pin)
        if ops is None and not self.spec.compiled:
            ops = graph_ops(batch, self.spec.backend)
        return batch, ops, build_s

    def _compute(self, batch: GraphBatch, ops) -> None:
        """One optimiser step; reads nothing back, so it adds no device sync."""
        if self.model is None:  # a loader-only cell
            return
        self.opt.zero_grad(set_to_none=True)
        if self.ddp is None:
            self._loss(batch, ops).backward()
        else:  # the backward returns once every rank's gradients are summed
            self._loss(batch, ops, next(self._denominators)).backward()
            _sync(self.device)  # on CUDA the all-reduce ends on the device, not when backward returns
            self._backward_end = time.perf_counter()
        self.opt.step()

    def _compiles(self) -> int:
        return frames_compiled() if self.spec.compiled else 0

    def _count_step(self, compiles_before: int, started: float) -> bool:
        """Note one step begun at ``started`` (``perf_counter``); True when it
        compiled, and then its wall time, its own compute included, is kept
        for ``compile_s``."""
        after = self._compiles()
        if self._first_step_compiles is None:
            self._first_step_compiles = after
        if after == compiles_before:
            return False
        _sync(self.device)
        self._compile_walls.append(time.perf_counter() - started)
        return True

    def _step(self) -> None:
        """One untimed step (warm-up, training), compiles counted."""
        c0, t = self._compiles(), time.perf_counter()
        batch, ops, _ = self._build()
        self._compute(batch, ops)
        self._count_step(c0, t)

    # -- throughput ----------------------------------------------------------------------
    def warmup(self) -> None:
        last = None
        for _ in range(self.spec.warmup_steps):
            t = time.perf_counter()
            self._step()
            _sync(self.device)
            last = time.perf_counter() - t
        if self.ranks > 1:  # every rank runs the same number of global steps per window: rank 0's choice
            self._steps_per_window = distributed.broadcast(
                1 if last is None else max(1, math.ceil(self.spec.window_s / max(last, 1e-9))))

    def _window_ranks(self, repeat: int) -> None:
        """A data-parallel window: a fixed number of global steps (the same on every rank), wall clock."""
        rep = self.tp.repeats.setdefault(repeat, _Repeat())
        readings = self.tp.rank_steps
        graphs0, time0 = rep.graphs, rep.total_s
        faults = minor_faults()
        self.clock.start()
        for _ in range(self._steps_per_window):
            tb = time.perf_counter()
            batch, ops, build_s = self._build()
            _sync(self.device)
            tc = time.perf_counter()
            self._compute(batch, ops)
            _sync(self.device)
            te = time.perf_counter()
            nodes = self._note_step(rep, batch, te - tb, tc - tb, te - tc, build_s)
            ready, end = self.ddp.ready, self._backward_end
            for k, v in (("build_s", tc - tb), ("compute_s", (ready - tc) + (te - end)), ("wait_s", end - ready),
                         ("nodes", nodes), ("edges", int(batch.edge_mask.sum())), ("graphs", batch.n_real_graph)):
                readings[k].append(v)
        self._close_window(rep, faults, graphs0, time0)

    def _note_step(self, rep: _Repeat, batch: GraphBatch, wall_s: float, build_s: float, compute_s: float,
                   built_s: float) -> int:
        """Add one steady timed step (its wall time; build and compute on the step clock; the seconds its
        batch took to build wherever it was built) to ``rep`` and the throughput readings; returns the
        batch's real nodes."""
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
        """Stop the window's clock and note its readings (``faults``, ``graphs0``, ``time0``: at its start)."""
        reading = self.clock.stop()
        self.tp.page_faults += minor_faults() - faults
        self.tp.window_parts.append((rep.graphs - graphs0, rep.total_s - time0))
        rep.wall_s += reading.wall_s
        self.tp.cpu_share.append(reading.cpu_share(self.spec.threads))
        self.tp.others_cpu_s += reading.others_cpu_s
        self.tp.windows_wall_s += reading.wall_s

    def window(self, repeat: int) -> float | None:
        """Run whole timed steps for at least ``window_s`` wall seconds, counted in ``repeat``
        (a data-parallel cell: the global steps fixed after warm-up); returns the window's real graphs/s
        (None for a data-parallel cell, whose rate is every rank's, known when they are gathered)."""
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
            c0, wall0 = self._compiles(), time.perf_counter()
            tb = now()
            batch, ops, build_s = self._build()
            _sync(self.device)
            tc = now()
            self._compute(batch, ops)
            _sync(self.device)
            te = now()
            if self._count_step(c0, wall0):  # a compile is not steady state: counted, not timed
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
        if not self.tp.window_parts:  # a train-only cell (repeats = 0): nothing timed, nothing to summarise
            self.metrics["windows_timed"] = 0
            self.metrics.pop("prepare_s", None)  # planned beside other cells: not a measurement
            return
        self.metrics["throughput_peak_rss_mib"] = peak_rss_mib()
        if self.device.type == "cuda":
            self.metrics["cuda_throughput_peak_mib"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        self.metrics.update(self._throughput_metrics())
        if self.ranks > 1:
            self.metrics.update(self._rank_metrics())
        self.metrics["peak_reset_ok"] = self.metrics["peak_reset_ok"] and self._reset_peaks()

    def _throughput_metrics(self) -> dict:
        reps = [self.tp.repeats[r] for r in sorted(self.tp.repeats) if self.tp.repeats[r].steps]
        if not reps:
            raise RuntimeError("no timed window ran a steady step")
        rates = [r.graphs / r.total_s for r in reps]
        med = statistics.median
        p10, p50, p90 = percentiles(self.tp.step_s)
        steps = sum(r.steps for r in reps)
        built, waited = self.tp.built_s / steps, sum(r.build_s for r in reps) / steps  # per steady step
        on_cpu = self.device.type == "cpu"
        return {
            "step_clock": "cpu" if self.spec.timed_on_cpu_clock else "wall",
            "graphs_per_s": med(rates), "graphs_per_s_min": min(rates), "graphs_per_s_max": max(rates),
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
            "contended_windows": int(sum(s < CONTENDED_SHARE for s in self.tp.cpu_share)) if on_cpu else 0,
            "cpu_share_median": med(self.tp.cpu_share),
            # Summed over windows: /proc/stat counts in 10 ms ticks, too coarse for one 50 ms window.
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
        per = lambda i, r: [e["repeats"][r][i] for e in every]  # noqa: E731
        rate = lambda i, t: [sum(per(i, r)) / max(max(per(t, r)), 1e-12) for r in reps]  # noqa: E731
        graphs, wall = rate(0, 3), rate(0, 4)
        med = statistics.median
        windows = [sum(w[0] for w in ws) / max(max(w[1] for w in ws), 1e-12)
                   for ws in zip(*(e["windows"] for e in every))]
        return {"graphs_per_s": med(graphs), "graphs_per_s_min": min(graphs), "graphs_per_s_max": max(graphs),
                "repeat_graphs_per_s": [round(x, 3) for x in graphs], "graphs_per_wall_s": med(wall),
                "window_graphs_per_s": [round(x, 2) for x in windows],
                "real_nodes_per_s": med(rate(1, 3)), "padded_nodes_per_s": med(rate(2, 3)),
                **distributed.straggler_metrics(every)}

    # -- compile ---------------------------------------------------------------------------
    def _compile_s(self) -> float:
        """Wall seconds the compiling steps took beyond a steady step's wall time."""
        if not self._compile_walls:
            return 0.0
        steady = statistics.median(self.tp.step_wall_s) if self.tp.step_wall_s else 0.0
        return max(0.0, sum(self._compile_walls) - steady * len(self._compile_walls))

    def _compile_metrics(self) -> dict:
        if not self.spec.compiled:
            return {"compile_s": 0.0, "compiles": 0, "recompiles": 0, "graph_breaks": 0, "compiled_graphs": 0}
        counts = dynamo_counts()
        cache = "cold" if os.environ.get(COLD_CACHE_FLAG) else "shared"
        return {"compile_s": self._compile_s(), "compile_cache": cache, **counts,
                "recompiles": counts["compiles"] - (self._first_step_compiles or 0)}

    # -- time to accuracy ----------------------------------------------------------------
    def _peaks(self) -> tuple[float, float]:
        """(resident peak MiB, CUDA allocated peak MiB or NaN) since the last reset."""
        cuda = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda" else float("nan")
        return peak_rss_mib(), cuda

    def train(self) -> None:
        """The time-to-accuracy run (nothing when the cell has no target).

        Memory: the training steps' peak and the validation passes' peak are
        read apart (the peak is read and reset around every validation pass),
        after the throughput phase's freed memory has been handed back."""
        self.close_throughput()
        spec = self.spec
        if spec.goal is None or self.model is None or self.task is None:
            return
        self.model.load_state_dict(self.init_state)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=spec.lr)
        torch.manual_seed(spec.seed)
        self.source.close()
        self.source = self._source()  # the same plan, from epoch 0 again
        val = BatchLoader(self.store, STRATEGIES.create("dynamic", batch_graphs=256), self.splits["val"],
                          seed=spec.seed)
        gc.collect()
        release_free_memory()
        self.metrics["peak_reset_ok"] = self.metrics["peak_reset_ok"] and self._reset_peaks()
        train_peak, val_peak = [0.0, 0.0], [0.0, 0.0]
        source = ["bench_lib"]

        def step() -> None:
            self._step()

        def evaluate() -> float:
            _sync(self.device)
            train_peak[:] = map(max, train_peak, self._peaks())
            self._reset_peaks()
            value = float("nan")
            if self.rank == 0:  # the weights are the same on every rank: rank 0 validates for all
                value, source[0] = evaluate_score(self.model, val, self.task, self.device, spec.backend, spec.dataset)
            if self.ranks > 1:
                value = distributed.broadcast(value)
            val_peak[:] = map(max, val_peak, self._peaks())
            release_free_memory()  # what validation freed, so that the training peak does not inherit it
            self._reset_peaks()
            return value

        agree = distributed.broadcast if self.ranks > 1 else (lambda stop: stop)
        result = train_to_target(step, evaluate, spec.goal, spec.max_steps, spec.eval_every,
                                 spec.train_time_limit_s, agree=agree,
                                 higher_is_better=METRICS[self.task.metric].higher_is_better)
        result["metric_source"] = source[0]
        if self.task.metric == "mae":  # the regression shorthand's own columns
            result["best_val_mae"], result["final_val_mae"] = result["best_val_score"], result["final_val_score"]
        steps, step_s = result["steps_to_target"], self.metrics.get("step_s")
        result["time_to_target_s"] = None if steps is None or step_s is None else steps * step_s  # untimed: later
        result["time_to_target_with_compile_s"] = (None if result["time_to_target_s"] is None
                                                   else result["time_to_target_s"] + self._compile_s())
        self.metrics.update(result)
        if result["train_steps"]:
            self.metrics["train_peak_rss_mib"] = train_peak[0]
        self.metrics["validation_peak_rss_mib"] = val_peak[0]
        if self.device.type == "cuda":
            self.metrics["cuda_train_peak_mib"] = train_peak[1]

    def finish(self) -> dict:
        """Every metric of the cell (closes the throughput phase if still open)."""
        self.close_throughput()
        self.source.close()
        self.metrics.update(self._compile_metrics())
        if self.model is not None and self.spec.repeats > 0 and self.rank == 0:  # timed cells: their plan's costs
            from bench_lib.harness.counted import counted_costs, eager_spec

            spec, task = eager_spec(self.spec), self.task
            try:
                self.metrics.update(counted_costs(self.model, self.init_state,
                                                  lambda model, batch: make_loss(model, task, spec)(batch),
                                                  self.loader))
            except Exception as err:  # noqa: BLE001 (a model that runs on DGL's kernels only): the cell stands
                self.metrics.update(counted_steps=0, counted_error=f"{type(err).__name__}: {err}"[:300])
        base = self.metrics["baseline_rss_mib"]
        for phase in ("throughput", "train", "validation"):
            peak = self.metrics.get(f"{phase}_peak_rss_mib")
            if peak is not None:
                self.metrics[f"{phase}_rss_mib"] = rss_rise(peak, base)
        return self.metrics


def rss_rise(peak: float, base: float) -> float:
    """A phase's resident peak above the baseline, never below 0; NaN (unknown) when either is unknown
    (off Linux the baseline cannot be read: a rise of 0 would be a claim)."""
    if peak != peak or base != base:
        return float("nan")
    return max(0.0, peak - base)


def run_cell_inprocess(spec: CellSpec) -> dict:
    """Run ``spec`` alone in this process (no interleaving); returns its metrics.

    ``NotImplementedError``: the cell does not apply (recorded as skipped).
    """
    run = CellRun(spec)
    run.warmup()
    for r in range(spec.repeats):
        for _ in range(spec.windows):
            run.window(r)
    run.train()
    return run.finish()
