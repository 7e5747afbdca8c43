"""``pad-bucket``: a budget-filled batch padded up to the nearest of a few shapes.

What users do when a compiler or CUDA graph wants static shapes but padding
every batch to the full budget wastes too much: graphs are taken in
(shuffled) arrival order until the node, edge or graph budget would
overflow (as ``dynamic-budget`` does), then the batch is padded up to the
smallest of ``buckets`` shapes that holds it, so at most ``buckets``
distinct shapes exist (at most that many compiles or CUDA graph captures).

Buckets (``spacing``): ``quantile`` puts the bucket edges at the quantiles of
the real nodes and edges of a planned epoch's batches; ``geometric`` spaces
them geometrically between the smallest planned batch and the budget. The
largest bucket is always the full budget, so every batch fits one. Wastes:
what the greedy fill leaves empty, less what the smaller buckets save.
Static shapes: no, but only ``buckets`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench_lib.strategies.base import Plan
from bench_lib.strategies.batch import BatchShape
from bench_lib.strategies.dynamic import DynamicBudget
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["PadBucket", "bucket_sizes"]

SPACINGS = ("quantile", "geometric")


def bucket_sizes(real: np.ndarray, top: int, k: int, spacing: str) -> np.ndarray:
    """``k`` ascending slot counts ending at ``top``, from the real sizes
    ``real`` of planned batches (before any padding slot is added)."""
    real = np.asarray(real, dtype=np.float64)
    if k == 1 or len(real) == 0:
        return np.array([top], dtype=np.int64)
    if spacing == "quantile":
        inner = np.ceil(np.quantile(real, np.arange(1, k) / k))
    else:
        low = max(float(real.min()), 1.0)
        inner = np.ceil(np.geomspace(low, top, k)[:-1])
    return np.minimum(np.append(inner, top), top).astype(np.int64)


@dataclass(frozen=True)
class _BucketPlanner:
    base: object  # the greedy-fill planner
    n_node: np.ndarray
    n_edge: np.ndarray
    buckets: tuple[BatchShape, ...]
    shape: None = None

    def plan_epoch(self, rng: np.random.Generator) -> Plan:
        plan = self.base.plan_epoch(rng)
        real_n, real_e = plan.batch_sums(self.n_node), plan.batch_sums(self.n_edge)
        bucket_of = np.full(plan.n_batch, len(self.buckets) - 1, dtype=np.int64)
        for j in range(len(self.buckets) - 2, -1, -1):  # smallest bucket that holds the batch wins
            fits = (real_n + 1 <= self.buckets[j].n_node) & (real_e <= self.buckets[j].n_edge)
            bucket_of[fits] = j
        return Plan(plan.graph_index, plan.batch_ptr, None, self.buckets, bucket_of)


@STRATEGIES.register
@dataclass(frozen=True)
class PadBucket(DynamicBudget):
    """Greedy fill up to a node/edge/graph budget, padded to the nearest of ``buckets`` shapes.

    Example: ``STRATEGIES.create("pad-bucket", max_nodes=512, buckets=4)``.

    Args:
      max_nodes, max_edges, max_graphs: the budget, as for ``dynamic-budget``
        (the largest bucket is that budget's shape).
      buckets: most distinct batch shapes (k).
      spacing: ``quantile`` or ``geometric`` (see the module).
    """

    name = "pad-bucket"
    static_shape = False
    wastes = ("the greedy fill's empty slots above the nearest of a few bucket shapes (at most "
              "`buckets` shapes)")
    buckets: int = 4
    spacing: str = "quantile"

    def __post_init__(self) -> None:
        super().__post_init__()
        whole = isinstance(self.buckets, (int, np.integer)) and not isinstance(self.buckets, bool)
        if not whole or self.buckets < 1:
            raise ValueError(f"`buckets` must be an integer >= 1 (got {self.buckets!r})")
        if self.spacing not in SPACINGS:
            raise ValueError(f"`spacing` must be one of {', '.join(SPACINGS)} (got "
                             f"{self.spacing!r})")

    def prepare(self, n_node, n_edge, rng) -> _BucketPlanner:
        base = super().prepare(n_node, n_edge, rng)
        n_node, n_edge = base.n_node, base.n_edge
        sample = base.plan_epoch(rng)  # the buckets come from a planned epoch's batch sizes
        top = base.shape
        nodes = bucket_sizes(sample.batch_sums(n_node), top.n_node - 1, self.buckets,
                             self.spacing) + 1
        edges = bucket_sizes(sample.batch_sums(n_edge), top.n_edge, self.buckets, self.spacing)
        shapes = list(dict.fromkeys(BatchShape(int(n), int(e),
                                               top.n_graph) for n, e in zip(nodes, edges)))
        return _BucketPlanner(base, n_node, n_edge, tuple(shapes))
