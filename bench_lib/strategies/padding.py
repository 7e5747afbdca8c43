"""``pad``: every graph padded to the split's largest graph.

Wastes: for each graph, ``max_n - n`` node slots and ``max_e - e`` edge slots
(on nci5k about 86% of node slots). Static shapes: yes, a fixed number of
graphs per step, each sized as the largest graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench_lib.strategies.base import Plan, Strategy, positive
from bench_lib.strategies.batch import BatchShape
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
    """

    name = "pad"
    static_shape = True
    wastes = "every graph padded to the largest graph's nodes and edges"

    def prepare(self, n_node, n_edge, rng) -> ChunkPlanner:
        max_n = int(np.max(n_node, initial=0))
        max_e = int(np.max(n_edge, initial=0))
        b = self.batch_graphs
        return ChunkPlanner(len(n_node), b, BatchShape.for_budget(b * max_n, b * max_e, b))
