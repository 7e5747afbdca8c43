"""``pad``: every graph padded to the split's largest graph.

Wastes: for each graph, ``max_n - n`` node slots and ``max_e - e`` edge slots
(on nci5k about 86% of node slots), plus, at an equal slot budget, whatever
the budget holds beyond ``batch_graphs`` largest graphs. Static shapes: yes, a
fixed number of graphs per step, each sized as the largest graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench_lib.strategies.base import GraphTooLargeError, Plan, Strategy, positive
from bench_lib.strategies.batch import BatchShape
from bench_lib.strategies.budget import SlotBudget
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["PadToMax", "ChunkPlanner", "FixedCountStrategy"]


@dataclass(frozen=True)
class ChunkPlanner:
    """Shuffle graphs every epoch and cut them into runs of ``batch_graphs``
    (the last run may be short)."""

    n_graph: int
    batch_graphs: int
    shape: BatchShape | None

    def plan_epoch(self, rng: np.random.Generator) -> Plan:
        order = rng.permutation(self.n_graph)
        n_full, rest = divmod(self.n_graph, self.batch_graphs)
        sizes = np.full(n_full + (1 if rest else 0), self.batch_graphs, dtype=np.int64)
        if rest:
            sizes[-1] = rest
        return Plan.from_batch_sizes(order, sizes, self.shape)


@dataclass(frozen=True)
class FixedCountStrategy(Strategy):
    """Base of the strategies with a fixed number of graphs per step.

    Args:
      batch_graphs: graphs per step.
    """

    batch_graphs: int = 32

    def __post_init__(self) -> None:
        positive("batch_graphs", self.batch_graphs, allow_none=False)


@STRATEGIES.register
@dataclass(frozen=True)
class PadToMax(FixedCountStrategy):
    """Naive padding: ``batch_graphs`` graphs per step, each padded to the
    split's largest node and edge counts.

    Example: ``STRATEGIES.create("pad", batch_graphs=64)``.

    Args:
      batch_graphs: graphs per step.
      node_slots, edge_slots: pad every batch to this many node (edge) slots
        instead of ``batch_graphs`` times the largest graph's (at least that
        many); what an equal slot budget gives ``pad``.
    """

    name = "pad"
    static_shape = True
    wastes = "every graph padded to the largest graph's nodes and edges"
    node_slots: int | None = None
    edge_slots: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        positive("node_slots", self.node_slots)
        positive("edge_slots", self.edge_slots)

    def prepare(self, n_node, n_edge, rng) -> ChunkPlanner:
        max_n = int(np.max(n_node, initial=0))
        max_e = int(np.max(n_edge, initial=0))
        b = self.batch_graphs
        for slots, per_graph, what in ((self.node_slots, max_n, "node"),
                                       (self.edge_slots, max_e, "edge")):
            if slots is not None and slots < b * per_graph:
                raise ValueError(f"pad: {what}_slots={slots} cannot hold batch_graphs={b} graphs "
                                 f"of {per_graph} {what}s (the largest); need >= {b * per_graph}")
        shape = BatchShape.for_budget(self.node_slots or b * max_n, self.edge_slots or b * max_e, b)
        return ChunkPlanner(len(n_node), b, shape)

    @classmethod
    def for_budget(cls, budget, n_node, n_edge) -> "PadToMax":
        if not isinstance(budget, SlotBudget):
            return cls(batch_graphs=budget.graphs_per_step)
        max_n, max_e = int(np.max(n_node)), int(np.max(n_edge))
        b = min(budget.node_slots // max(max_n, 1),
                budget.edge_slots // max_e if max_e else budget.node_slots)
        if b < 1:
            i = int(np.argmax(n_node) if budget.node_slots < max_n else np.argmax(n_edge))
            raise GraphTooLargeError(f"graph {i} ({int(n_node[i])} nodes, {int(n_edge[i])} edges) "
                                     f"does not fit the budget of {budget.node_slots} node and "
                                     f"{budget.edge_slots} edge slots")
        return cls(batch_graphs=b, node_slots=budget.node_slots, edge_slots=budget.edge_slots)
