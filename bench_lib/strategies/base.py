"""What a strategy is: a planner from sizes to batches, plus its metadata.

A strategy sees only the split's graph sizes (``n_node``, ``n_edge``) and a
random generator; it never touches tensors. ``prepare`` runs once per split
(packers plan their packs there) and returns an :class:`EpochPlanner` whose
``plan_epoch`` is cheap and called once per epoch with that epoch's
generator (the order of graphs or packs is reshuffled every epoch).

Indices in a :class:`Plan` are positions in the sizes arrays handed to
``prepare`` (the loader maps them to store indices).
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator, Protocol

import numpy as np

from bench_lib.data.store import exclusive_cumsum
from bench_lib.strategies.batch import BatchShape

if TYPE_CHECKING:
    from bench_lib.strategies.batch import GraphBatch

__all__ = ["Plan", "EpochPlanner", "Strategy", "check_sizes", "GraphTooLargeError"]


class GraphTooLargeError(ValueError):
    """A graph exceeds a per-batch or per-pack capacity."""


@dataclass(frozen=True, eq=False)
class Plan:
    """One epoch's batches as flat index arrays.

    Attributes:
      graph_index: int64 ``[n]`` graph positions, batch after batch. Every
        graph of the split appears exactly once; a short last batch is kept
        (and padded to ``shape`` when static).
      batch_ptr: int64 ``[B+1]``: batch ``b`` is
        ``graph_index[batch_ptr[b]:batch_ptr[b+1]]``.
      shape: the static :class:`BatchShape` of every batch, or None when
        batches are unpadded or padded to one of several shapes.
      buckets: the few shapes batches are padded to when there is more than
        one (``pad-bucket``), else None.
      bucket_of: int64 ``[B]``, the bucket of each batch (with ``buckets``).
    """

    graph_index: np.ndarray
    batch_ptr: np.ndarray
    shape: BatchShape | None
    buckets: tuple[BatchShape, ...] | None = None
    bucket_of: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.buckets is None) != (self.bucket_of is None):
            raise ValueError("Plan: buckets and bucket_of go together")
        if self.buckets is not None and self.shape is not None:
            raise ValueError("Plan: a bucketed plan has no single shape")
        if self.bucket_of is not None and len(self.bucket_of) != self.n_batch:
            raise ValueError(f"Plan: bucket_of has {len(self.bucket_of)} entries for "
                             f"{self.n_batch} batches")

    @classmethod
    def from_batch_sizes(cls, graph_index: np.ndarray, batch_sizes: np.ndarray,
                         shape: BatchShape | None) -> "Plan":
        return cls(np.asarray(graph_index, np.int64), exclusive_cumsum(batch_sizes), shape)

    @property
    def n_batch(self) -> int:
        return len(self.batch_ptr) - 1

    def __len__(self) -> int:
        return self.n_batch

    def batches(self) -> Iterator[np.ndarray]:
        for b in range(self.n_batch):
            yield self.graph_index[self.batch_ptr[b]:self.batch_ptr[b + 1]]

    def shape_of(self, b: int) -> BatchShape | None:
        """The shape batch ``b`` is padded to (None: unpadded)."""
        if self.buckets is not None:
            return self.buckets[int(self.bucket_of[b])]
        return self.shape

    @property
    def padded(self) -> bool:
        return self.shape is not None or self.buckets is not None

    def slots(self, n_node: np.ndarray, n_edge: np.ndarray) -> tuple[np.ndarray, np.ndarray,
              np.ndarray]:
        """Per-batch ``(node, edge, graph)`` slots: the padded shape, or for
        unpadded batches their real nodes, edges and graphs plus the (empty)
        padding graph."""
        if self.shape is not None:
            ones = np.ones(self.n_batch, dtype=np.int64)
            return ones * self.shape.n_node, ones * self.shape.n_edge, ones * self.shape.n_graph
        if self.buckets is not None:
            table = np.array([[s.n_node, s.n_edge, s.n_graph] for s in self.buckets],
                             dtype=np.int64)
            rows = table[self.bucket_of]
            return rows[:, 0], rows[:, 1], rows[:, 2]
        return self.batch_sums(n_node), self.batch_sums(n_edge), np.diff(self.batch_ptr) + 1

    def distinct_shapes(self, n_node: np.ndarray, n_edge: np.ndarray) -> int:
        """How many different ``(nodes, edges, graphs)`` batch shapes the epoch has
        (what a compiler specialising on shapes would see)."""
        if self.n_batch == 0:
            return 0
        return len(set(zip(*(a.tolist() for a in self.slots(n_node, n_edge)))))

    def shape_changes(self, n_node: np.ndarray, n_edge: np.ndarray) -> int:
        """How often, stepping through the epoch in order, a batch differs from the first batch in
        a dimension (nodes, edges, graphs) that no earlier batch had changed: the recompiles of
        ``torch.compile``'s automatic dynamic shapes, which make a dimension symbolic the first
        time it changes (an epoch's short last batch changes the graph dimension late)."""
        if self.n_batch == 0:
            return 0
        rows = np.stack(self.slots(n_node, n_edge), axis=1)
        static, changes = np.ones(3, dtype=bool), 0
        differs = rows != rows[0]
        for step in np.flatnonzero(differs.any(axis=1)):
            changed = differs[step] & static
            if changed.any():
                changes += 1
                static &= ~changed
            if not static.any():
                break
        return changes

    def batch_sums(self, sizes: np.ndarray) -> np.ndarray:
        """Per-batch totals of a per-graph array (``n_node``, ``n_edge``)."""
        if self.n_batch == 0:
            return np.zeros(0, dtype=np.asarray(sizes).dtype)
        return np.add.reduceat(np.asarray(sizes)[self.graph_index], self.batch_ptr[:-1])

    def efficiency(self, n_node: np.ndarray, n_edge: np.ndarray) -> tuple[float, float]:
        """(node, edge) efficiency: real slots / all slots over the epoch,
        counting the padding graph's reserved slots as waste (1.0 unpadded)."""
        if not self.padded:
            return 1.0, 1.0
        real_n = float(np.sum(n_node[self.graph_index]))
        real_e = float(np.sum(n_edge[self.graph_index]))
        node_slots, edge_slots, _ = self.slots(n_node, n_edge)
        slots_n, slots_e = float(np.sum(node_slots)), float(np.sum(edge_slots))
        return (real_n / slots_n if slots_n else 1.0, real_e / slots_e if slots_e else 1.0)


class EpochPlanner(Protocol):
    """Bound to one split's sizes; makes each epoch's :class:`Plan`."""

    shape: BatchShape | None

    def plan_epoch(self, rng: np.random.Generator) -> Plan: ...


class Strategy(ABC):
    """Base of every batching strategy (subclass it as a frozen dataclass).

    Class attributes:
      name: registry name (``pad``, ``pack-lpfhp``...).
      static_shape: whether every batch of an epoch has the same shape
        (``Plan.shape``); a strategy that pads to one of a few shapes
        (``Plan.buckets``) is not static.
      wastes: one line on what the strategy spends on padding.
      baseline: True for the arms that run another library's loader as a user gets it
        (:mod:`bench_lib.strategies.baselines`); they are left out of ``strategies = "all"``.
      needs_dgl: True for an arm that cannot run without DGL (``bench_lib[dgl]``); without it the
        suite leaves the arm out of a suite file's list, and refuses it on the command line.
    """

    name: ClassVar[str]
    static_shape: ClassVar[bool]
    wastes: ClassVar[str] = ""
    baseline: ClassVar[bool] = False
    needs_dgl: ClassVar[bool] = False

    @abstractmethod
    def prepare(self, n_node: np.ndarray, n_edge: np.ndarray,
                rng: np.random.Generator) -> EpochPlanner:
        """Plan once for a split from its sizes alone."""

    @classmethod
    def for_budget(cls, budget, n_node: np.ndarray, n_edge: np.ndarray) -> "Strategy":
        """This strategy with the parameters that meet ``budget`` on a split of these sizes.

        ``budget`` is a :class:`~bench_lib.strategies.budget.SlotBudget` (the
        same node and edge slots per step) or a
        :class:`~bench_lib.strategies.budget.GraphBudget` (the same mean real
        graphs per step). A strategy that implements this takes part in both
        fairness views like a built-in; without it (this default), the suite
        runs it with its default parameters in the ``manual`` view.

        Raises:
          NotImplementedError: the strategy does not take budgets.
          GraphTooLargeError: a graph cannot fit the budget (names it).
        """
        raise NotImplementedError(f"{cls.__name__} does not implement for_budget")

    def params(self) -> dict:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    def collater(self, store) -> Callable[[np.ndarray, BatchShape | None], "GraphBatch"]:
        """``(store indices, shape) -> GraphBatch`` for batches of ``store``: bench_lib's vectorised
        :func:`~bench_lib.strategies.collate.collate` unless a strategy builds its batches another
        way (the ``pyg`` and ``dgl-loader`` baselines go through those libraries' own collaters)."""
        from bench_lib.strategies.collate import collate

        return functools.partial(collate, store)


def check_sizes(n_node: np.ndarray, n_edge: np.ndarray, max_nodes: int | None,
                max_edges: int | None, where: str) -> None:
    """Raise :class:`GraphTooLargeError` naming the first graph over a capacity."""
    for sizes, cap, what in ((n_node, max_nodes, "nodes"), (n_edge, max_edges, "edges")):
        if cap is None or len(sizes) == 0:
            continue
        over = np.flatnonzero(sizes > cap)
        if len(over):
            i = int(over[0])
            raise GraphTooLargeError(
                f"graph {i} has {int(sizes[i])} {what}, more than the {where} capacity of "
                f"{cap} {what} ({len(over)} graph(s) over)")


def positive(name: str, value: int | None, allow_none: bool = True) -> None:
    """Validate a budget field: ``ValueError`` naming it and echoing the value."""
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1{' or None' if allow_none else ''} (got "
                         f"{value!r})")
