"""The training step's helpers: its loss function as the cell runs it (eager or compiled), the
masked regression loss, and the device synchronisation that ends a timed step."""

from __future__ import annotations

from typing import Callable

import torch

from bench_lib.schema import CellSpec
from bench_lib.models.ops import TorchOps
from bench_lib.strategies import GraphBatch
from bench_lib.tasks import Task, task_loss

__all__ = ["compile_kwargs", "compile_args", "bounded_marks", "mark_bounds", "mark_batch",
           "make_loss",
           "masked_loss", "sync"]


#: torch.compile's own arguments per compiled execution (bench_lib.schema.EXECUTIONS says each)
_ROUTES = {"compile-static": {"dynamic": False}, "compile": {"dynamic": None},
           "compile-marked": {"dynamic": None}, "compile-dynamic": {"dynamic": True},
           "cudagraphs": {"mode": "reduce-overhead"}}
#: The batch's tensors by the dimension ``mark_dynamic`` bounds: node, edge and graph slots.
MARKED = {"node": ("node_features", "node_graph", "node_mask", "positions"),
          "edge": ("senders", "receivers", "edge_mask", "edge_features"),
          "graph": ("n_node", "n_edge", "graph_mask", "targets", "graph_index")}


def compile_kwargs(spec: CellSpec) -> dict:
    """``torch.compile`` keyword arguments of a compiled cell's ``execution``."""
    kwargs = dict(_ROUTES[spec.execution])
    extra = dict(spec.compile_options)
    # JSON and TOML have no tuples; inductor's options want them
    if isinstance(extra.get("options"), dict):
        extra["options"] = {k: tuple(v) if isinstance(v, list) else v
                            for k, v in extra["options"].items()}
    return {**kwargs, **extra}


def bounded_marks() -> bool:
    """Whether this torch's ``mark_dynamic`` takes ``min``/``max`` (torch 2.2's does not, and
    ``compile-marked`` cells are then skipped for the stack)."""
    import inspect

    return "min" in inspect.signature(torch._dynamo.mark_dynamic).parameters


def mark_bounds(plans, n_node, n_edge, splits: tuple[int, ...] = ()) -> dict[str, list[list[int]]]:
    """``{dimension: [[smallest, largest], ...]}`` of the node, edge and graph slots over
    ``plans``' steps (the epochs a cell can reach), for ``compile-marked``'s ``mark_dynamic``.

    A range that holds one of ``splits`` is cut there (``[lo, split]`` and ``[split + 1, hi]``):
    a size at which the compiler itself guards (inductor's CPU cascade sum at 4096,
    :func:`bench_lib.costs.shapes.guard_splits`) cannot be inside one marked range, which would be a
    constraint violation; each part then compiles once. A dimension the same in every step is left
    out (nothing to mark), and no bound is below 2 (torch specialises sizes 0 and 1)."""
    lo, hi = {}, {}
    for plan in plans:
        for dim, slots in zip(MARKED, plan.slots(n_node, n_edge)):
            if len(slots):
                lo[dim] = min(lo.get(dim, int(slots.min())), int(slots.min()))
                hi[dim] = max(hi.get(dim, int(slots.max())), int(slots.max()))
    out = {}
    for dim in lo:
        if lo[dim] == hi[dim]:
            continue
        ranges = [[max(lo[dim], 2), hi[dim]]]
        for cut in sorted(splits):
            a, b = ranges[-1]
            if a <= cut < b:
                ranges[-1:] = [[a, cut], [cut + 1, b]]
        # a part of one size cannot be a marked range (torch would specialise it)
        out[dim] = [r for r in ranges if r[0] < r[1]]
    return {dim: ranges for dim, ranges in out.items() if ranges}


def mark_batch(batch: GraphBatch, bounds: dict[str, list[list[int]]]) -> bool:
    """``torch._dynamo.mark_dynamic`` on ``batch``'s node, edge and graph dimensions within the
    range of ``bounds`` (:func:`mark_bounds`) its size lies in; a batch outside them is left
    unmarked (automatic dynamic shapes then recompile it, and the cell's recompiles show it). True
    when marked."""
    sizes = {"node": len(batch.node_mask), "edge": len(batch.edge_mask),
             "graph": len(batch.graph_mask)}
    chosen = {}
    for dim, ranges in bounds.items():
        inside = [r for r in ranges if r[0] <= sizes[dim] <= r[1]]
        if not inside:
            return False
        chosen[dim] = inside[0]
    for dim, (lo, hi) in chosen.items():
        for name in MARKED[dim]:
            t = getattr(batch, name)
            if t is not None:
                torch._dynamo.mark_dynamic(t, 0, min=lo, max=hi)
    return True


def compile_args(spec: CellSpec, bounds: dict[str, list[list[int]]] | None = None) -> dict:
    """What a cell's compiled step passed, as its record keeps it (``compile_args``):
    ``torch.compile``'s keyword arguments and, for ``compile-marked``, the ``mark_dynamic`` bounds
    per dimension; ``{}`` for an eager cell."""
    if not spec.compiled:
        return {}
    out = {"torch.compile": compile_kwargs(spec)}
    if spec.execution == "compile-marked":
        out["mark_dynamic"] = {dim: [{"min": lo, "max": hi} for lo, hi in ranges]
                               for dim, ranges in (bounds or {}).items()}
    return out


def make_loss(model: torch.nn.Module, task: Task | int | None, spec: CellSpec,
              forward: torch.nn.Module | None = None,
              bounds: dict[str, list[list[int]]] | None = None) -> Callable:
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
    apart and stepping Adam eagerly fails on a CPU). ``compile-marked`` marks each batch's
    dimensions within ``bounds`` (:func:`mark_batch`) before the compiled call."""

    run = forward if forward is not None else model

    def loss_of(batch: GraphBatch, ops=None, denominator: int | None = None) -> torch.Tensor:
        pred = run(batch, ops=ops if ops is not None else TorchOps(batch))
        if isinstance(task, Task):
            return task_loss(pred, batch.targets, batch.graph_mask, task.kind, model.target_std,
                             denominator,
                             loss=spec.loss)
        return masked_loss(pred, batch, task, model.target_std, denominator)

    if not spec.compiled:
        return loss_of
    compiled = torch.compile(loss_of, **compile_kwargs(spec))
    if spec.execution != "compile-marked" or not bounds:
        return compiled

    def marked(batch: GraphBatch, ops=None, denominator: int | None = None) -> torch.Tensor:
        mark_batch(batch, bounds)
        return compiled(batch, ops, denominator)

    return marked


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
