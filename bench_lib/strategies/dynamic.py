"""Dynamic batching: graphs concatenated into one disjoint graph.

``dynamic``: a fixed number of graphs per step, no padding, so every batch
has its own shape (as ``dgl.batch`` does). Wastes: nothing. Static shapes:
no, every batch has its own.

``dynamic-budget``: graphs taken in (shuffled) arrival order and added to the
batch until the next one would overflow the node, edge or graph budget
(jraph's ``dynamically_batch``), then padded to that budget. Static shapes:
yes. Wastes: whatever the greedy fill leaves empty (most at small budgets).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from bench_lib.strategies.base import Plan, Strategy, check_sizes, positive
from bench_lib.strategies.batch import BatchShape
from bench_lib.strategies.budget import SlotBudget, mean_graphs_per_step
from bench_lib.strategies.padding import ChunkPlanner, FixedCountStrategy
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["Dynamic", "DynamicBudget", "edge_bound", "graph_bound", "greedy_node_budget"]


def edge_bound(n_node: np.ndarray, n_edge: np.ndarray, max_nodes: int) -> int:
    """Most edges any set of graphs with at most ``max_nodes`` nodes can have:
    ``floor(max_nodes * max(n_edge / n_node))``, in integers."""
    has_nodes = n_node > 0
    if not np.any(has_nodes):
        return 0
    return int(np.max(n_edge[has_nodes] * max_nodes // n_node[has_nodes]))


def graph_bound(n_node: np.ndarray, max_nodes: int, what: str) -> int:
    """Most graphs that fit in ``max_nodes`` nodes (needs no empty graphs)."""
    smallest = int(np.min(n_node, initial=1))
    if smallest < 1:
        raise ValueError(f"{what}: the split has graphs without nodes; set `max_graphs` explicitly")
    return max(1, max_nodes // smallest)


@STRATEGIES.register
@dataclass(frozen=True)
class Dynamic(FixedCountStrategy):
    """Unpadded concatenation of ``batch_graphs`` graphs per step.

    Args:
      batch_graphs: graphs per step.
    """

    name = "dynamic"
    static_shape = False
    wastes = "nothing; every batch has a new shape (no compile-once, no CUDA graphs)"

    def prepare(self, n_node, n_edge, rng) -> ChunkPlanner:
        return ChunkPlanner(len(n_node), self.batch_graphs, None)

    @classmethod
    def for_budget(cls, budget, n_node, n_edge) -> "Dynamic":
        return cls(batch_graphs=budget.unpadded_batch_graphs(n_node, n_edge))


@dataclass(frozen=True)
class _BudgetPlanner:
    n_node: np.ndarray
    n_edge: np.ndarray
    max_nodes: int
    max_edges: int
    max_graphs: int
    shape: BatchShape

    def plan_epoch(self, rng: np.random.Generator) -> Plan:
        order = rng.permutation(len(self.n_node))
        cn = np.cumsum(self.n_node[order]).tolist()
        ce = np.cumsum(self.n_edge[order]).tolist()
        n, ends, start = len(order), [], 0
        while start < n:
            base_n = cn[start - 1] if start else 0
            base_e = ce[start - 1] if start else 0
            end = min(bisect.bisect_right(cn, base_n + self.max_nodes, lo=start),
                      bisect.bisect_right(ce, base_e + self.max_edges, lo=start),
                      start + self.max_graphs, n)
            ends.append(end)
            start = end
        sizes = np.diff(np.asarray([0] + ends, dtype=np.int64))
        return Plan.from_batch_sizes(order, sizes, self.shape)


@STRATEGIES.register
@dataclass(frozen=True)
class DynamicBudget(Strategy):
    """Greedy fill up to a node/edge/graph budget, padded to it.

    Args:
      max_nodes: real-node budget per batch.
      max_edges: real-edge budget; None derives the tightest bound implied
        by ``max_nodes`` and the split's densest graph.
      max_graphs: real-graph budget; None derives it from ``max_nodes`` and
        the smallest graph.
    """

    name = "dynamic-budget"
    static_shape = True
    wastes = "the slots the greedy fill in arrival order leaves empty (large at small budgets)"
    max_nodes: int = 256
    max_edges: int | None = None
    max_graphs: int | None = None

    def __post_init__(self) -> None:
        positive("max_nodes", self.max_nodes, allow_none=False)
        positive("max_edges", self.max_edges)
        positive("max_graphs", self.max_graphs)

    def prepare(self, n_node, n_edge, rng) -> _BudgetPlanner:
        n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
        check_sizes(n_node, n_edge, self.max_nodes, self.max_edges, "dynamic-budget batch")
        max_e = (self.max_edges if self.max_edges is not None
                 else edge_bound(n_node, n_edge, self.max_nodes))
        max_g = (self.max_graphs if self.max_graphs is not None
                 else graph_bound(n_node, self.max_nodes, self.name))
        return _BudgetPlanner(n_node, n_edge, self.max_nodes, max_e, max_g,
                              BatchShape.for_budget(self.max_nodes, max_e, max_g))

    @classmethod
    def for_budget(cls, budget, n_node, n_edge) -> "DynamicBudget":
        if isinstance(budget, SlotBudget):
            check_sizes(n_node, n_edge, budget.node_slots, budget.edge_slots,
                        "dynamic-budget batch")
            return cls(max_nodes=budget.node_slots, max_edges=budget.edge_slots)
        return cls(max_nodes=greedy_node_budget(cls, budget, n_node, n_edge))


def greedy_node_budget(cls, budget, n_node: np.ndarray, n_edge: np.ndarray) -> int:
    """The smallest ``max_nodes`` whose greedy fill (strategy ``cls``) carries
    ``budget.graphs_per_step`` graphs per step on average (a
    :class:`~bench_lib.strategies.budget.GraphBudget`)."""
    lo = int(np.max(n_node))
    hi = max(lo, int(budget.graphs_per_step * lo))
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_graphs_per_step(cls(max_nodes=mid), n_node, n_edge,
                                budget.seed) >= budget.graphs_per_step:
            hi = mid
        else:
            lo = mid + 1
    return lo
