"""The batching check: is a model safe to batch?

A model is timed under every strategy only if a graph's output does not
depend on the batch it sits in. On a sample of graphs (the largest and
smallest by nodes and by edges, the rest drawn at random) two things are
compared, each for the per-graph predictions and for the parameter
gradients of a per-graph loss (``sum_g c_g * pred_g``, fixed random ``c``):

1. **isolation**: each graph alone (an unpadded batch of one) against the
   same graph inside each strategy's batches, padding included. The model is
   in training mode with dropout off and its batch-statistics layers
   (BatchNorm) on their running statistics, so that anything else that
   crosses graphs (a mean over the batch's nodes, a softmax across graphs,
   BatchNorm without running statistics) is caught.
2. **padding**: each strategy's padded batch against the same real graphs in
   one unpadded batch, in full training mode: batch statistics may depend on
   the batch's real graphs (as OGB's BatchNorm GIN does) but never on
   padding (BatchNorm over all node slots fails here);
3. **evaluation**: predictions in evaluation mode (validation's), each graph
   alone against inside each strategy's batch.

Dropout is turned off through its modules (``nn.Dropout``): a model that
draws random numbers in training by other means cannot pass. The outputs are
compared standardised (the model's target statistics set to 0 and 1 on the
copies the check runs), so that a large target mean cannot hide a leak.

Predictions must agree within :data:`PRED_TOL` (relative, against
``max(1, |reference|)``), gradients within :data:`GRAD_TOL` (per parameter
tensor, relative to its largest reference entry). The harness and the suite
run it for every model before any cell is timed
(:func:`bench_lib.harness.batching.check_cells`);
``python -m bench_lib.models check NAME`` runs it alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench_lib.strategies.base import Strategy
from bench_lib.strategies.batch import GraphBatch
from bench_lib.strategies.collate import collate
from bench_lib.strategies.loader import BatchLoader

__all__ = ["PRED_TOL", "GRAD_TOL", "Failure", "check_batching", "sample_graphs"]

PRED_TOL = 1e-5
GRAD_TOL = 1e-4


@dataclass(frozen=True)
class Failure:
    """The worst difference found for one strategy."""

    strategy: str
    part: str  # "isolation", "padding" or "evaluation"
    what: str  # "prediction" or "gradient"
    graph: int  # store index of the worst graph
    n_node: int
    difference: float
    tolerance: float

    def describe(self) -> str:
        against = {"isolation": "the same graph alone",
                   "padding": "the same real graphs without padding",
                   "evaluation": "the same graph alone in evaluation mode"}[self.part]
        where = f"graph {self.graph} ({self.n_node} nodes)"
        what = "its prediction" if self.what == "prediction" else "the gradient of its loss"
        return (f"under strategy {self.strategy!r}, {what} for {where} differs from {against} by "
                f"{self.difference:.3g} (relative; tolerance {self.tolerance:.0e})")


def sample_graphs(store, indices: np.ndarray, n: int = 16, seed: int = 0) -> np.ndarray:
    """Up to ``n`` store indices from ``indices``: the largest and smallest graph by
    nodes and by edges, then a seeded random draw."""
    indices = np.asarray(indices, dtype=np.int64)
    nn_, ne = store.n_node[indices], store.n_edge[indices]
    extremes = [indices[np.argmax(nn_)], indices[np.argmin(nn_)], indices[np.argmax(ne)],
                indices[np.argmin(ne)]]
    chosen = list(dict.fromkeys(int(i) for i in extremes))
    rest = np.setdiff1d(indices, chosen)
    draw = np.random.default_rng(seed).permutation(rest)[:max(n - len(chosen), 0)]
    return np.sort(np.concatenate([np.asarray(chosen, dtype=np.int64), draw]))


def _batch_statistics(module: nn.Module) -> bool:
    """torch's BatchNorm with running statistics, or a layer that says it has them
    (``batch_statistics = True``, as :class:`~bench_lib.models.norm.MaskedBatchNorm`)."""
    return ((isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats)
            or getattr(module, "batch_statistics", False) is True)


def _copy(model: nn.Module, mode: str) -> nn.Module:
    """A copy of ``model`` with standardised outputs (target statistics 0 and 1: the affine
    map back to target units cannot leak, and a large target mean would hide a leak in
    relative differences), in ``mode``: ``training`` (dropout off), ``isolation`` (the same
    with batch-statistics layers on their running statistics) or ``evaluation``."""
    model = copy.deepcopy(model)
    if hasattr(model, "set_target_stats") and hasattr(model, "mean_nodes"):
        model.set_target_stats(0.0, 1.0, float(model.mean_nodes))
    if mode == "evaluation":
        return model.eval()
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd) or (mode == "isolation"
                                                            and _batch_statistics(m)):
            m.eval()
    return model


def _relative(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-row largest relative difference, ``[rows]``."""
    diff = (pred - ref).abs() / ref.abs().clamp(min=1.0)
    diff = torch.where(torch.isnan(pred) | torch.isnan(ref), torch.full_like(diff, float("inf")),
                       diff)
    return diff.reshape(len(diff), -1).amax(dim=1)


class _Graded:
    """Predictions and per-graph-loss gradients of a model on batches."""

    def __init__(self, model: nn.Module, backend: str, weights: dict[int, torch.Tensor],
                 dtype: torch.dtype) -> None:
        self.model, self.backend, self.dtype = model.to(dtype), backend, dtype
        self.weights = {g: w.to(dtype) for g, w in weights.items()}
        self.params = [p for p in model.parameters() if p.requires_grad]

    def forward(self, batch: GraphBatch) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """``(graphs, predictions [B, T], loss)`` of the batch's real graphs."""
        batch = GraphBatch(**{k: v.to(self.dtype) if isinstance(v, torch.Tensor)
                              and v.is_floating_point() else v
                              for k, v in batch.__dict__.items()})
        pred = self.model(batch, backend=self.backend)[batch.graph_mask]
        graphs = batch.graph_index[batch.graph_mask].tolist()
        c = torch.stack([self.weights[g] for g in graphs])
        return graphs, pred, (c * pred).sum()

    def grads(self, loss: torch.Tensor, retain: bool = False) -> list[torch.Tensor]:
        # nothing to train, or outputs that do not depend on it
        if not self.params or not loss.requires_grad:
            return [torch.zeros_like(p) for p in self.params]
        got = torch.autograd.grad(loss, self.params, retain_graph=retain, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(self.params, got)]

    def per_graph(self, batch: GraphBatch) -> dict[int, list[torch.Tensor]]:
        """Each real graph's own loss gradient, from one forward pass of the batch."""
        graphs, pred, _ = self.forward(batch)
        return {g: self.grads((self.weights[g] * pred[k]).sum(),
                              retain=True) for k, g in enumerate(graphs)}


def _grad_difference(got: list[torch.Tensor], ref: list[torch.Tensor]) -> float:
    overall = max((float(r.abs().max()) for r in ref if r.numel()), default=0.0)
    worst = 0.0
    for g, r in zip(got, ref):
        if not r.numel():
            continue
        scale = max(float(r.abs().max()), 1e-3 * overall, 1e-12)
        d = float((g - r).abs().max()) / scale
        worst = max(worst, d if d == d else float("inf"))
    return worst


def _add(total: list[torch.Tensor] | None, grads: list[torch.Tensor]) -> list[torch.Tensor]:
    return grads if total is None else [a + b for a, b in zip(total, grads)]


def _padded(batch: GraphBatch) -> bool:
    return bool((~batch.node_mask).any() or (~batch.edge_mask).any() or len(batch.graph_mask)
                > batch.n_real_graph + 1)


def check_batching(model: nn.Module, store, strategies: dict[str, Strategy], backend: str = "torch",
                   sample: np.ndarray | None = None, seed: int = 0,
                   dtype: torch.dtype = torch.float64) -> list[Failure]:
    """The batching check of ``model`` on ``store`` under each of ``strategies``
    (label -> strategy instance at the budget it will be timed with).

    Returns the worst :class:`Failure` of each strategy that fails (empty: safe).
    ``sample``: store indices to check (default: :func:`sample_graphs` of all graphs).
    ``dtype``: the model's and the batches' floating-point type during the
    check (also torch's default type while it runs). Double precision by
    default: a leak is a matter of structure, not of rounding, and in single
    precision a BatchNorm's gradient over a few graphs differs by up to a few
    per cent between two summation orders of the same numbers.
    The model itself is not changed (the check runs on copies)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return _check(model, store, strategies, backend, sample, seed, dtype)
    finally:
        torch.set_default_dtype(before)


def _check(model, store, strategies, backend, sample, seed, dtype) -> list[Failure]:
    sample = (sample_graphs(store, np.arange(store.n_graph)) if sample is None
              else np.asarray(sample, np.int64))
    gen = torch.Generator().manual_seed(seed)
    weights = {int(g): torch.randn(1, generator=gen,
                                   dtype=torch.float64) / len(sample) for g in sample}
    n_node = {int(g): int(store.n_node[g]) for g in sample}

    isolated = _Graded(_copy(model, "isolation"), backend, weights, dtype)
    evaluating = _Graded(_copy(model, "evaluation"), backend, weights, dtype)
    alone_pred, alone_grad, alone_eval, total_alone = {}, {}, {}, None
    for g in sample.tolist():
        alone = collate(store, np.array([g]))
        _, pred, loss = isolated.forward(alone)
        alone_pred[g] = pred[0].detach()
        alone_grad[g] = isolated.grads(loss)
        total_alone = _add(total_alone, alone_grad[g])
        with torch.no_grad():
            alone_eval[g] = evaluating.forward(alone)[1][0]
    training = _Graded(_copy(model, "training"), backend, weights, dtype)

    failures = []
    for label, strategy in strategies.items():
        batches = list(BatchLoader(store, strategy, sample, seed=seed).epoch(0))
        found = _isolation(isolated, batches, alone_pred, alone_grad, total_alone, label, n_node)
        found = found or _padding(training, store, batches, label, n_node)
        found = found or _evaluation(evaluating, batches, alone_eval, label, n_node)
        if found:
            failures.append(found)
    return failures


def _worst_row(pred: torch.Tensor, ref: torch.Tensor, graphs: list[int]) -> tuple[float, int]:
    """``(difference, graph)`` of the row of ``pred`` furthest from ``ref``'s (relative)."""
    diff = _relative(pred.detach(), ref.detach())
    k = int(diff.argmax())
    return float(diff[k]), graphs[k]


@torch.no_grad()
def _evaluation(graded: _Graded, batches, alone, label, n_node) -> Failure | None:
    """Evaluation mode (validation's): each graph in the batch against the same graph alone."""
    worst = (0.0, -1)
    for batch in batches:
        graphs, pred, _ = graded.forward(batch)
        worst = max(worst, _worst_row(pred, torch.stack([alone[g] for g in graphs]), graphs))
    if worst[0] > PRED_TOL:
        return Failure(label, "evaluation", "prediction", worst[1], n_node[worst[1]], worst[0],
                       PRED_TOL)
    return None


def _isolation(graded: _Graded, batches, alone_pred, alone_grad, total_alone, label,
               n_node) -> Failure | None:
    worst, total = (0.0, -1), None
    for batch in batches:
        graphs, pred, loss = graded.forward(batch)
        worst = max(worst, _worst_row(pred, torch.stack([alone_pred[g] for g in graphs]), graphs))
        total = _add(total, graded.grads(loss))
    if worst[0] > PRED_TOL:
        return Failure(label, "isolation", "prediction", worst[1], n_node[worst[1]], worst[0],
                       PRED_TOL)
    if _grad_difference(total, total_alone) <= GRAD_TOL:
        return None
    worst = max(((_grad_difference(got, alone_grad[g]), g) for batch in batches
                 for g, got in graded.per_graph(batch).items()), default=(0.0, -1))
    return Failure(label, "isolation", "gradient", worst[1], n_node.get(worst[1], 0), worst[0],
                   GRAD_TOL)


def _padding(graded: _Graded, store, batches, label, n_node) -> Failure | None:
    for batch in batches:
        if not _padded(batch):
            continue
        bare = collate(store, batch.graph_index[batch.graph_mask].numpy())
        graphs, pred, loss = graded.forward(batch)
        _, ref, ref_loss = graded.forward(bare)
        d, g = _worst_row(pred, ref, graphs)
        if d > PRED_TOL:
            return Failure(label, "padding", "prediction", g, n_node[g], d, PRED_TOL)
        if _grad_difference(graded.grads(loss), graded.grads(ref_loss)) > GRAD_TOL:
            mine, theirs = graded.per_graph(batch), graded.per_graph(bare)
            d, g = max((_grad_difference(mine[g], theirs[g]), g) for g in graphs)
            return Failure(label, "padding", "gradient", g, n_node[g], d, GRAD_TOL)
    return None
