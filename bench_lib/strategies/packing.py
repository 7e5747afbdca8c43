"""What every packer shares: packs, the size histogram, index assignment.

A packer turns the split's sizes into fixed-capacity packs once
(``plan_packs``); every epoch the pack order is reshuffled and
``packs_per_batch`` consecutive packs make one batch. Histogram packers
(LPFHP, cutting stock) plan on counts of distinct sizes, so planning millions
of graphs costs about as much as planning their few hundred distinct sizes;
:func:`assign_graphs` then hands out graph indices to the planned pack
patterns with vectorised slices.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from bench_lib.data.store import exclusive_cumsum, gather_ranges
from bench_lib.strategies.base import Plan, Strategy, check_sizes, positive
from bench_lib.strategies.batch import BatchShape
from bench_lib.strategies.budget import SlotBudget, mean_graphs_per_step

__all__ = ["Packs", "SizeHistogram", "size_histogram", "assign_graphs", "PackStrategy",
           "PackGroups"]

#: A packing plan on the histogram: (number of packs, key ids in each pack).
PackGroups = list[tuple[int, tuple[int, ...]]]


@dataclass(frozen=True, eq=False)
class Packs:
    """Graphs grouped into packs.

    Attributes:
      graph_index: int64 ``[n]`` graph positions, pack after pack.
      pack_ptr: int64 ``[P+1]``: pack ``p`` is ``graph_index[pack_ptr[p]:pack_ptr[p+1]]``.
      max_nodes, max_edges, max_graphs: the capacity each pack respects
        (``max_edges``/``max_graphs`` None when unconstrained).
      lower_bound: a proven lower bound on the number of packs, when the
        packer computes one (cutting stock's LP), else None.
    """

    graph_index: np.ndarray
    pack_ptr: np.ndarray
    max_nodes: int
    max_edges: int | None = None
    max_graphs: int | None = None
    lower_bound: float | None = None

    @property
    def n_pack(self) -> int:
        return len(self.pack_ptr) - 1

    def pack_sums(self, sizes: np.ndarray) -> np.ndarray:
        """Per-pack totals of a per-graph array (``n_node``, ``n_edge``)."""
        owner = np.repeat(np.arange(self.n_pack), np.diff(self.pack_ptr))
        return np.bincount(owner, weights=sizes[self.graph_index],
                           minlength=self.n_pack).astype(np.int64)

    def efficiency(self, n_node: np.ndarray, n_edge: np.ndarray) -> tuple[float, float | None]:
        """Pack-level (node, edge) efficiency: real / (packs x capacity);
        edge efficiency is None without an edge capacity."""
        real_n = float(np.sum(n_node[self.graph_index]))
        node_eff = real_n / (self.n_pack * self.max_nodes) if self.n_pack else 1.0
        if self.max_edges is None:
            return node_eff, None
        real_e = float(np.sum(n_edge[self.graph_index]))
        return node_eff, (real_e / (self.n_pack * self.max_edges) if self.n_pack else 1.0)


@dataclass(frozen=True, eq=False)
class SizeHistogram:
    """Distinct sizes and how many graphs have each.

    Attributes:
      key_of_graph: int ``[G]`` key id of each graph.
      n: int64 ``[K]`` node count of each key; ``e``: edge count (0 when
        edges are not part of the key).
      count: int64 ``[K]`` graphs per key.
    """

    key_of_graph: np.ndarray
    n: np.ndarray
    e: np.ndarray
    count: np.ndarray


def size_histogram(n_node: np.ndarray, n_edge: np.ndarray | None) -> SizeHistogram:
    """Histogram over node counts, or over (node, edge) pairs when ``n_edge``
    is given. Uses a dense ``bincount`` when the key space is small."""
    n_node = np.asarray(n_node, dtype=np.int64)
    e = np.zeros_like(n_node) if n_edge is None else np.asarray(n_edge, dtype=np.int64)
    width = int(e.max(initial=0)) + 1
    code = n_node * width + e
    space = (int(n_node.max(initial=0)) + 1) * width
    if space <= 1 << 24:
        counts = np.bincount(code, minlength=space)
        present = np.flatnonzero(counts)
        remap = np.zeros(space, dtype=np.int64)
        remap[present] = np.arange(len(present))
        key_of_graph, codes, count = remap[code], present, counts[present]
    else:
        codes, key_of_graph, count = np.unique(code, return_inverse=True, return_counts=True)
    small = np.uint16 if len(codes) < 1 << 16 else np.int64
    return SizeHistogram(key_of_graph.astype(small), codes // width, codes % width,
                         count.astype(np.int64))


def assign_graphs(groups: PackGroups, hist: SizeHistogram, rng: np.random.Generator,
                  max_nodes: int, max_edges: int | None, max_graphs: int | None,
                  lower_bound: float | None = None) -> Packs:
    """Give each slot of the planned patterns a graph of the slot's key.

    Graphs of one key are handed out in a seeded random order (ties of the
    16-bit draw in index order). A slot whose
    key has no graph left stays empty (cutting stock may over-cover a size);
    packs left with no graph are dropped.
    """
    n_graph = len(hist.key_of_graph)
    index_dtype = np.int32 if n_graph < 1 << 31 else np.int64
    # Graphs grouped by key, in a seeded random order within each key: two
    # stable radix passes (a random 16-bit draw, then the key), about twice as
    # fast as a full shuffle at millions of graphs.
    draw = rng.integers(0, 1 << 16, size=n_graph, dtype=np.uint16)
    perm = np.argsort(draw, kind="stable").astype(index_dtype)
    pool = perm[np.argsort(hist.key_of_graph[perm], kind="stable")]
    cursor = exclusive_cumsum(hist.count)[:-1].copy()
    end = cursor + hist.count
    n_rows = sum(c for c, _ in groups)
    width = max((len(k) for _, k in groups), default=1)
    table = np.full((n_rows, width), -1, dtype=index_dtype)
    row = 0
    for count, keys in groups:
        for j, key in enumerate(keys):
            take = int(min(count, end[key] - cursor[key]))
            table[row:row + take, j] = pool[cursor[key]:cursor[key] + take]
            cursor[key] += take
        row += count
    if np.any(cursor != end):
        left = int(np.sum(end - cursor))
        raise AssertionError(f"packing plan left {left} graph(s) unassigned")
    filled = table >= 0
    sizes = filled.sum(axis=1)
    return Packs(table[filled].astype(np.int64), exclusive_cumsum(sizes[sizes > 0]), max_nodes,
                 max_edges,
                 max_graphs, lower_bound)


@dataclass(frozen=True)
class PackEpochPlanner:
    """Shuffles pack order every epoch; ``packs_per_batch`` packs per batch."""

    packs: Packs
    packs_per_batch: int
    shape: BatchShape

    def plan_epoch(self, rng: np.random.Generator) -> Plan:
        order = rng.permutation(self.packs.n_pack)
        graph_index = self.packs.graph_index[gather_ranges(self.packs.pack_ptr, order)]
        pack_sizes = np.diff(self.packs.pack_ptr)[order]
        starts = np.arange(0, len(order), self.packs_per_batch)
        batch_sizes = np.add.reduceat(pack_sizes, starts) if len(order) else np.zeros(0, np.int64)
        return Plan.from_batch_sizes(graph_index, batch_sizes, self.shape)


@dataclass(frozen=True)
class PackStrategy(Strategy):
    """Base of the packers: capacities per pack, several packs per batch.

    Args:
      max_nodes: node capacity of a pack.
      max_edges: edge capacity of a pack; None leaves edges unconstrained
        (the batch's edge slots are then the fullest pack's edges).
      max_graphs: graphs per pack at most; None leaves it unconstrained (the
        graph slots are then the fullest pack's graph count).
      packs_per_batch: packs per training step.
    """

    static_shape = True
    max_nodes: int = 128
    max_edges: int | None = None
    max_graphs: int | None = None
    packs_per_batch: int = 1

    def __post_init__(self) -> None:
        positive("max_nodes", self.max_nodes, allow_none=False)
        positive("max_edges", self.max_edges)
        positive("max_graphs", self.max_graphs)
        positive("packs_per_batch", self.packs_per_batch, allow_none=False)

    @abstractmethod
    def build_packs(self, n_node: np.ndarray, n_edge: np.ndarray,
                    rng: np.random.Generator) -> Packs:
        """Pack the graphs; sizes are int64 and already checked against the capacities."""

    def plan_packs(self, n_node: np.ndarray, n_edge: np.ndarray, rng: np.random.Generator) -> Packs:
        """Pack graphs of these sizes; :class:`GraphTooLargeError` for a graph over a capacity."""
        n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
        check_sizes(n_node, n_edge, self.max_nodes, self.max_edges, f"{self.name} pack")
        return self.build_packs(n_node, n_edge, rng)

    def prepare(self, n_node, n_edge, rng) -> PackEpochPlanner:
        n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
        packs = self.plan_packs(n_node, n_edge, rng)
        k = self.packs_per_batch
        edges = (self.max_edges if self.max_edges is not None
                 else int(packs.pack_sums(n_edge).max(initial=0)))
        graphs = (self.max_graphs if self.max_graphs is not None
                  else int(np.diff(packs.pack_ptr).max(initial=1)))
        return PackEpochPlanner(
            packs, k, BatchShape.for_budget(k * self.max_nodes, k * edges, k * graphs))

    @classmethod
    def for_budget(cls, budget, n_node, n_edge) -> "PackStrategy":
        """Packs of ``budget.pack_nodes`` nodes; with a :class:`SlotBudget`, as
        many packs per step as fill its node slots, each with an equal share
        of its edge slots; with a :class:`GraphBudget`, as many packs as carry
        ``graphs_per_step`` real graphs on average."""
        if isinstance(budget, SlotBudget):
            max_edges = budget.edges_per_pack()
            check_sizes(np.asarray(n_node), np.asarray(n_edge), budget.pack_nodes, max_edges,
                        f"{cls.name} pack")
            return cls(max_nodes=budget.pack_nodes, max_edges=max_edges,
                       packs_per_batch=budget.packs_per_step)
        per_pack = mean_graphs_per_step(cls(max_nodes=budget.pack_nodes), n_node, n_edge,
                                        budget.seed)
        return cls(max_nodes=budget.pack_nodes,
                   packs_per_batch=max(1, int(round(budget.graphs_per_step / per_pack))))

    def graphs_cap(self) -> int:
        """``max_graphs`` or, when None, no limit beyond the node capacity."""
        return self.max_graphs if self.max_graphs is not None else 1 << 30
