"""The training step's helpers: its loss function as the cell runs it (eager or compiled), the
masked regression loss, and the device synchronisation that ends a timed step."""

from __future__ import annotations

from typing import Callable

import torch

from bench_lib.schema import CellSpec
from bench_lib.models.ops import TorchOps
from bench_lib.strategies import GraphBatch
from bench_lib.tasks import Task, task_loss

__all__ = ["compile_kwargs", "make_loss", "masked_loss", "sync"]


def compile_kwargs(spec: CellSpec) -> dict:
    """``torch.compile`` keyword arguments of a compiled cell's ``execution``."""
    kwargs: dict = {"compile": {"dynamic": None}, "compile-dynamic": {"dynamic": True},
                    "cudagraphs": {"mode": "reduce-overhead"}}[spec.execution]
    extra = dict(spec.compile_options)
    # JSON and TOML have no tuples; inductor's options want them
    if isinstance(extra.get("options"), dict):
        extra["options"] = {k: tuple(v) if isinstance(v, list) else v
                            for k, v in extra["options"].items()}
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
            return task_loss(pred, batch.targets, batch.graph_mask, task.kind, model.target_std,
                             denominator,
                             loss=spec.loss)
        return masked_loss(pred, batch, task, model.target_std, denominator)

    return torch.compile(loss_of, **compile_kwargs(spec)) if spec.compiled else loss_of


def sync(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (CUDA); nothing on a CPU, whose operators return when
    done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _valid(batch: GraphBatch, column: int | None) -> torch.Tensor:
    """Real graphs whose label in ``column`` is known (finite); every real graph when there is no
    target."""
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
