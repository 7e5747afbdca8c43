"""Training to target, the time-to-accuracy phase of a cell (when it has a target value,
``CellSpec.goal``).

From the same initial weights as the throughput phase, train until the
validation score (the cell's metric: MAE, ROC-AUC, average precision,
accuracy; see :mod:`bench_lib.tasks`) reaches the target in the metric's
direction or ``max_steps`` steps have run (``train_time_limit_s`` is only
a safety limit); validation every ``eval_every`` steps is not counted as
training time. ``steps_to_target`` is the primary figure;
``time_to_target_s`` is derived from it and the step time measured in the
throughput phase, so that it does not depend on what else the machine was
doing during training. Validation always uses the same unpadded batches,
whatever the strategy.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

import torch

from bench_lib.harness import distributed
from bench_lib.schema import CellSpec
from bench_lib.harness.compiles import CompileAccount
from bench_lib.harness.evaluation import evaluate_score
from bench_lib.harness.measure import release_free_memory
from bench_lib.harness.memory import peaks, reset_peaks
from bench_lib.harness.step import sync
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.loader import BatchLoader
from bench_lib.tasks import METRICS, Task

__all__ = ["train_to_target", "TrainingPhase"]


def train_to_target(step: Callable[[], None], evaluate: Callable[[], float], target: float,
                    max_steps: int,
                    eval_every: int, time_limit_s: float,
                    agree: Callable[[str | None], str | None] = lambda stop: stop,
                    higher_is_better: bool = False) -> dict:
    """Train with ``step()`` until ``evaluate()`` (the validation score) reaches ``target``: at or
    below it, or at or above it when ``higher_is_better``.

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


class TrainingPhase:
    """The time-to-accuracy phase of :class:`~bench_lib.harness.train.CellRun` (a mixin):
    :meth:`train`.

    It uses the cell's model, optimiser, task, store and splits, its step (``_step``) and batch
    stream (``source``, ``_source``), the throughput phase (``close_throughput``, and its steady
    steps' wall times for ``compile_s``), its ``compiles`` and its ``metrics``, to which the phase's
    metrics are added."""

    spec: CellSpec
    device: torch.device
    rank: int
    ranks: int
    model: torch.nn.Module | None
    opt: torch.optim.Optimizer | None
    task: Task | None
    init_state: dict
    compiles: CompileAccount
    metrics: dict

    def train(self) -> None:
        """The time-to-accuracy run (nothing when the cell has no target).

        Memory: the training steps' peak and the validation passes' peak are
        read apart (the peak is read and reset around every validation pass),
        after the throughput phase's freed memory has been handed back."""
        self.close_throughput()
        spec = self.spec
        if spec.goal is None or self.model is None or self.task is None:
            return
        self._restart()
        val = BatchLoader(self.store, STRATEGIES.create("dynamic", batch_graphs=256),
                          self.splits["val"],
                          seed=spec.seed)
        gc.collect()
        release_free_memory()
        self.metrics["peak_reset_ok"] = self.metrics["peak_reset_ok"] and reset_peaks(self.device)
        train_peak, val_peak = [0.0, 0.0], [0.0, 0.0]
        source = ["bench_lib"]

        def step() -> None:
            self._step()

        def evaluate() -> float:
            sync(self.device)
            train_peak[:] = map(max, train_peak, peaks(self.device))
            reset_peaks(self.device)
            value = float("nan")
            if self.rank == 0:  # the weights are the same on every rank: rank 0 validates for all
                value, source[0] = evaluate_score(self.model, val, self.task, self.device,
                                                  spec.backend, spec.dataset)
            if self.ranks > 1:
                value = distributed.broadcast(value)
            val_peak[:] = map(max, val_peak, peaks(self.device))
            # what validation freed, so that the training peak does not inherit it
            release_free_memory()
            reset_peaks(self.device)
            return value

        agree = distributed.broadcast if self.ranks > 1 else (lambda stop: stop)
        result = train_to_target(step, evaluate, spec.goal, spec.max_steps, spec.eval_every,
                                 spec.train_time_limit_s, agree=agree,
                                 higher_is_better=METRICS[self.task.metric].higher_is_better)
        result["metric_source"] = source[0]
        self._note_training(result, train_peak, val_peak)

    def _restart(self) -> None:
        """Back to the throughput phase's start: its initial weights, a fresh optimiser, the cell's
        seed and the same plan from epoch 0."""
        self.model.load_state_dict(self.init_state)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.spec.lr)
        torch.manual_seed(self.spec.seed)
        self.source.close()
        self.source = self._source()  # the same plan, from epoch 0 again

    def _note_training(self, result: dict, train_peak: list[float], val_peak: list[float]) -> None:
        """Add :func:`train_to_target`'s ``result`` to the metrics, with the time to target (its
        steps at the throughput phase's step time, with and without ``compile_s``) and the training
        and validation peaks (``[resident MiB, CUDA MiB]``)."""
        if self.task.metric == "mae":  # the regression shorthand's own columns
            result["best_val_mae"] = result["best_val_score"]
            result["final_val_mae"] = result["final_val_score"]
        steps, step_s = result["steps_to_target"], self.metrics.get("step_s")
        # None without a step time (an untimed cell): the report fills it in later
        result["time_to_target_s"] = None if steps is None or step_s is None else steps * step_s
        result["time_to_target_with_compile_s"] = (None if result["time_to_target_s"] is None
                                                   else result["time_to_target_s"]
                                                   + self.compiles.seconds(self.tp.step_wall_s))
        self.metrics.update(result)
        if result["train_steps"]:
            self.metrics["train_peak_rss_mib"] = train_peak[0]
        self.metrics["validation_peak_rss_mib"] = val_peak[0]
        if self.device.type == "cuda":
            self.metrics["cuda_train_peak_mib"] = train_peak[1]
