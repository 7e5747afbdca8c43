"""One cell in one process: its setup and its step; the phases it runs, each in a module of its own.

The worker process (:mod:`bench_lib.harness.worker`) holds one
:class:`CellRun` and drives it on the runner's command, so that the cells
of a group take turns window by window. Phases:

1. setup (here): dataset (from cache), seeded split, the strategy's plan,
   model (:func:`build_model`); then the resident high-water mark is reset
   (``peak_reset_ok``).
2. throughput (:mod:`bench_lib.harness.throughput`): ``warmup_steps``
   untimed steps, then timed windows, each at least ``window_s`` of wall
   time long and grouped into ``repeats``, batch building and compute timed
   apart on the cell's step clock.
3. time to accuracy (:mod:`bench_lib.harness.to_target`, when the cell has a
   target value, ``CellSpec.goal``): from the same initial weights, train
   until the validation score (:mod:`bench_lib.harness.evaluation`) reaches
   the target or ``max_steps`` steps have run. ``steps_to_target`` is the
   primary figure; ``time_to_target_s`` is derived from it and the step time
   measured in phase 2.

Beside the phases: the step's loss (:mod:`bench_lib.harness.step`), the
memory each phase rises above the baseline read at setup's end
(:mod:`bench_lib.harness.memory`), and the steps that compiled
(:mod:`bench_lib.harness.compiles`).

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
import os
import time
from typing import Iterator

import numpy as np
import torch

from bench_lib.data import load_dataset, store_splits
from bench_lib.data.store import touch_mapped
from bench_lib.harness import distributed
from bench_lib.schema import CellSpec, EnvironmentSkip
from bench_lib.harness.compiles import CompileAccount, dynamo_counts
from bench_lib.harness.evaluation import evaluate_mae, evaluate_score, predict, target_stats
from bench_lib.harness.measure import release_free_memory, rss_mib
from bench_lib.harness.memory import phase_rises, reset_peaks
from bench_lib.harness.pipeline import BatchSource
from bench_lib.harness.planning import plan_metrics
from bench_lib.harness.step import (bounded_marks, compile_args, compile_kwargs, make_loss,
                                    mark_bounds, masked_loss, sync)
from bench_lib.harness.throughput import ThroughputPhase
from bench_lib.harness.to_target import TrainingPhase, train_to_target
from bench_lib.models import MODELS, create_model
from bench_lib.models.ops import graph_ops
from bench_lib.strategies import STRATEGIES, GraphBatch
from bench_lib.strategies.loader import BatchLoader
from bench_lib.tasks import Task, class_balance, resolve_task

# The loss, evaluation, compile and training-to-target names are re-exported from the modules that
# hold them, so that ``from bench_lib.harness.train import ...`` keeps working for the cell's
# callers.
__all__ = ["CellRun", "masked_loss", "evaluate_mae", "evaluate_score", "predict", "target_stats",
           "build_model",
           "cell_task", "labelled_store", "train_to_target", "run_cell_inprocess",
           "compile_kwargs", "dynamo_counts", "make_loss"]


def cell_task(spec: CellSpec, store) -> Task | None:
    """The cell's :class:`~bench_lib.tasks.Task` on ``store`` (as loaded), None when it has no
    target."""
    if spec.target is not None and spec.target not in store.meta.target_names:
        raise ValueError(f"target {spec.target!r} not in {spec.dataset}'s targets "
                         f"{list(store.meta.target_names)}")
    return resolve_task(store, spec.target, kind=spec.task, metric=spec.metric,
                        dataset=spec.dataset)


def labelled_store(store, task: Task | None):
    """``store`` whose targets are the task's labels (:meth:`Task.labels`; no target: unchanged)."""
    if task is None:
        return store
    meta = dataclasses.replace(store.meta, target_names=task.names)
    return dataclasses.replace(store, targets=task.labels(store.targets), meta=meta)


def build_model(spec: CellSpec, store, train: np.ndarray) -> tuple[torch.nn.Module, Task | None]:
    """``(model, task)`` of a cell on ``store`` as loaded: its model with one output per the task's
    outputs, initialised from ``torch``'s RNG as it stands, given the statistics of a regression
    target over the training graphs (no target: 0 and 1; a classification's logits: mean 0, and a
    per-atom model's sum readout divided by the mean node count, so that the first logits sit near
    0)."""
    task = cell_task(spec, store)
    model = create_model(spec.model, store, n_targets=task.n_outputs if task else 1,
                         **spec.model_params)
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


class CellRun(ThroughputPhase, TrainingPhase):
    """One cell's state in its worker process: its setup and its step (here), its throughput phase
    (:class:`~bench_lib.harness.throughput.ThroughputPhase`) and its time-to-accuracy phase
    (:class:`~bench_lib.harness.to_target.TrainingPhase`).

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
        self._check_execution(spec)
        raw = load_dataset(spec.dataset, n_graphs=spec.n_graphs, seed=spec.dataset_seed,
                           **spec.dataset_options)
        self.splits = store_splits(raw, seed=spec.dataset_seed)
        self.task = cell_task(spec, raw) if spec.model != "none" else None
        self.store = labelled_store(raw, self.task)
        strategy = STRATEGIES.create(spec.strategy, **spec.strategy_params)
        t0 = time.perf_counter()
        self.loader = BatchLoader(self.store, strategy, self.splits["train"], seed=spec.seed)
        self.metrics: dict = {"prepare_s": time.perf_counter() - t0,
                              "torch_threads": torch.get_num_threads()}
        self.metrics.update(self._plan_metrics())
        self.model = self.opt = self.ddp = None
        self.metrics.update(self._task_metrics())
        self._loss = None
        self._denominators = None  # data-parallel cells: labelled graphs of each global step
        self._backward_end = 0.0
        self.compiles = CompileAccount(spec.compiled, self.device)
        if spec.model != "none":
            self._build_model()
        self.source = self._source()
        self._open_throughput()
        # the data file's pages in the baseline, not in a phase's rise
        for store in (raw, self.store):
            touch_mapped(store)
        gc.collect()
        release_free_memory()
        self.metrics["baseline_rss_mib"] = rss_mib()
        self.metrics["peak_reset_ok"] = reset_peaks(self.device)

    # -- setup ---------------------------------------------------------------------------
    def _check_execution(self, spec: CellSpec) -> None:
        """What this cell's execution and ranks need: skipped where the machine lacks it, not
        applicable where the cell cannot run that way; a data-parallel cell joins its group."""
        if spec.compiled and spec.backend != "torch":
            raise NotImplementedError(f"execution {spec.execution!r} needs backend 'torch': "
                                      f"torch.compile cannot trace DGL's message-passing kernels "
                                      f"(backend {spec.backend!r})")
        if spec.execution == "compile-marked" and not bounded_marks():
            raise EnvironmentSkip(f"execution 'compile-marked' bounds torch._dynamo.mark_dynamic "
                                  f"with min and max, which torch {torch.__version__} lacks")
        if spec.execution == "cudagraphs" and self.device.type != "cuda":
            raise EnvironmentSkip("execution 'cudagraphs' captures CUDA graphs: it needs device "
                                  "'cuda'")
        if spec.compiled and spec.model == "none":
            raise NotImplementedError(f"execution {spec.execution!r}: a loader-only cell has no "
                                      f"step to compile")
        if self.ranks > 1:
            if spec.compiled:
                raise NotImplementedError(
                    f"execution {spec.execution!r} with ranks > 1: data-parallel cells "
                    "run eager steps only")
            if spec.model == "none":
                raise NotImplementedError("ranks > 1: a loader-only cell has no gradient to "
                                          "all-reduce")
            if self.device.type == "cuda":
                if torch.cuda.device_count() < self.ranks:
                    raise EnvironmentSkip(f"ranks={self.ranks} on CUDA needs a GPU per rank; torch "
                                          f"sees {torch.cuda.device_count()}")
                torch.cuda.set_device(self.device)
            # no-op in the worker, which joined before reading the spec
            distributed.init_process_group()

    @staticmethod
    def _check_ranks(spec: CellSpec) -> tuple[int, int]:
        """``(rank, ranks)`` of this process; a data-parallel cell must be started by torchrun."""
        if spec.ranks == 1:
            return 0, 1
        rank, size = distributed.world()
        if size != spec.ranks:
            raise RuntimeError(
                f"the cell has ranks={spec.ranks} but runs in a world of {size} process(es); start "
                f"it with torch.distributed.run --nproc-per-node {spec.ranks} (the runner does)")
        return rank, size

    def _plan_metrics(self) -> dict:
        """Slots per step and efficiency, from the first epoch's plan."""
        return plan_metrics(self.loader.plan(0), self.loader.n_node, self.loader.n_edge)

    def _task_metrics(self) -> dict:
        """The class balance of a classification target over the training split (empty for
        regression)."""
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
        bounds = self._mark_bounds() if spec.execution == "compile-marked" else None
        self.metrics["compile_args"] = compile_args(spec, bounds)
        self._loss = make_loss(self.model, self.task, spec,
                               forward=self.ddp.module if self.ddp else None, bounds=bounds)

    def _mark_bounds(self) -> dict[str, list[list[int]]]:
        """``compile-marked``'s bounds: the smallest and largest batch of the epochs the cell can
        reach (its training budget's epochs, and ten more for the timed windows), cut where the
        compiler guards on this device (:func:`~bench_lib.costs.shapes.guard_splits`)."""
        from bench_lib.costs.shapes import guard_splits

        n_batch = max(len(self.loader.plan(0)), 1)
        epochs = min(64, 10 + -(-self.spec.max_steps // n_batch))
        return mark_bounds((self.loader.plan(e) for e in range(epochs)), self.loader.n_node,
                           self.loader.n_edge, splits=guard_splits(self.device.type))

    def _source(self) -> BatchSource:
        """The batch stream from epoch 0, built inline or ahead (``prefetch``)."""
        spec, on_cpu = self.spec, self.device.type == "cpu"
        # Operators go with the batch on a CPU (a DGLGraph is part of building it); a compiled step
        # builds its own.
        make_ops = (lambda b: graph_ops(b, spec.backend)) if on_cpu and not spec.compiled else None
        if self.ranks == 1:
            def stream():
                return _stream(self.loader)
        else:  # this rank's batches, and each global step's labelled graphs over every rank
            def stream():
                return distributed.rank_batches(self.loader, self.rank, self.ranks)
            store = self.loader.store
            valid = (np.ones(store.n_graph, np.int64) if self.task is None
                     else np.isfinite(store.targets).sum(1) if self.task.kind == "multilabel"
                     else np.isfinite(store.targets[:, 0]).astype(np.int64))
            self._denominators = distributed.global_denominators(self.loader, valid, self.ranks)
        return BatchSource(stream, prefetch=spec.prefetch, mode=spec.prefetch_with, pin=not on_cpu,
                           make_ops=make_ops)

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
            # on CUDA the all-reduce ends on the device, not when backward returns
            sync(self.device)
            self._backward_end = time.perf_counter()
        self.opt.step()

    def _step(self) -> None:
        """One untimed step (warm-up, training), compiles counted."""
        c0, t = self.compiles.frames(), time.perf_counter()
        batch, ops, _ = self._build()
        self._compute(batch, ops)
        self.compiles.note_step(c0, t)

    # -- finish --------------------------------------------------------------------------
    def finish(self) -> dict:
        """Every metric of the cell (closes the throughput phase if still open)."""
        self.close_throughput()
        self.source.close()
        self.metrics.update(self.compiles.metrics(self.tp.step_wall_s))
        # timed cells: their plan's costs
        if self.model is not None and self.spec.repeats > 0 and self.rank == 0:
            from bench_lib.harness.counted import counted_costs, eager_spec

            spec, task = eager_spec(self.spec), self.task
            try:
                self.metrics.update(counted_costs(
                    self.model, self.init_state,
                    lambda model, batch: make_loss(model, task, spec)(batch), self.loader))
            except Exception as err:  # noqa: BLE001
                # a model that runs on DGL's kernels only: the cell stands
                self.metrics.update(counted_steps=0,
                                    counted_error=f"{type(err).__name__}: {err}"[:300])
        self.metrics.update(phase_rises(self.metrics))
        return self.metrics


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
