"""The loader: a strategy's plan plus the shared collater, epoch by epoch.

Example::

    loader = BatchLoader(store, STRATEGIES.create("dynamic-budget", max_nodes=512),
                         indices=splits["train"], seed=0)
    for batch in loader.epoch(0):
        ...

The strategy plans once, from the split's sizes (``prepare``); each epoch's
order comes from ``seed`` and the epoch number, so the same seed gives the
same batches.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bench_lib.data.store import GraphStore
from bench_lib.strategies.base import Plan, Strategy
from bench_lib.strategies.batch import BatchShape, GraphBatch

__all__ = ["BatchLoader"]


class BatchLoader:
    """Batches of one split of ``store`` under ``strategy``.

    Args:
      store: the dataset.
      strategy: a registered strategy instance.
      indices: store indices of the split (all graphs when None).
      seed: fixes the plan (packs) and every epoch's order.
    """

    def __init__(self, store: GraphStore, strategy: Strategy, indices: np.ndarray | None = None,
                 seed: int = 0) -> None:
        self.store = store
        self.strategy = strategy
        self.indices = (np.arange(store.n_graph, dtype=np.int64) if indices is None
                        else np.asarray(indices, dtype=np.int64))
        self.seed = seed
        self.n_node = store.n_node[self.indices]
        self.n_edge = store.n_edge[self.indices]
        self.planner = strategy.prepare(self.n_node, self.n_edge, np.random.default_rng([seed, 0]))
        self.collate = strategy.collater(store)

    @property
    def shape(self) -> BatchShape | None:
        return self.planner.shape

    def plan(self, epoch: int) -> Plan:
        """Epoch ``epoch``'s plan, in positions of ``indices``."""
        return self.planner.plan_epoch(np.random.default_rng([self.seed, 1, epoch]))

    def epoch(self, epoch: int) -> Iterator[GraphBatch]:
        plan = self.plan(epoch)
        for b, positions in enumerate(plan.batches()):
            yield self.collate(self.indices[positions], plan.shape_of(b))

    def efficiency(self, epoch: int = 0) -> tuple[float, float]:
        """(node, edge) efficiency of epoch ``epoch``'s plan."""
        return self.plan(epoch).efficiency(self.n_node, self.n_edge)
