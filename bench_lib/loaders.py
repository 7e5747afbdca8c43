"""Any strategy in your own training loop: a batch sampler, and collaters for PyG, DGL and plain
PyTorch.

The suite's answer names a strategy and a budget; this module gives you that strategy's batches in
your loop, the same batches the suite timed for the same seed::

    from torch_geometric.loader import DataLoader
    from bench_lib.loaders import BatchSampler, PygPadCollater, sizes_of

    sampler = BatchSampler("pack-lpfhp", sizes_of(dataset), {"node_slots": 512}, seed=0)
    loader, pad = DataLoader(dataset, batch_sampler=sampler), PygPadCollater(sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            # one shape every step: batch.node_mask, batch.edge_mask, batch.graph_mask
            batch = pad(batch)
            ...

:class:`BatchSampler` yields lists of dataset indices, one epoch's plan per iteration. A budget is
given the way a suite gives it (``{"node_slots": 512}``, ``{"graphs_per_step": 32}``, optionally
with ``edge_slots`` and ``pack_nodes``, or a :class:`~bench_lib.strategies.budget.SlotBudget` /
:class:`~bench_lib.strategies.budget.GraphBudget`); the strategy turns it into its parameters
(``for_budget``), as in the suite. With ``world_size > 1`` the epoch's plan is dealt by rank (batch
``k * world_size + rank``), so every rank's step has the same shape.

The last batch and ``drop_last``: every graph is in exactly one batch of an epoch; the last batch of
an epoch may be smaller (it is padded to the same shape as the others by a static strategy).
``drop_last=True`` drops the batches of the last round that does not give every rank one (with one
rank: none). Without it, in a last round short of batches, the ranks without one get an empty batch
(an empty index list; the collaters here turn it into a batch of padding only), so that every rank
takes the same number of steps and no graph is seen twice.

Padded batches (:class:`PygPadCollater`, :class:`DglPadCollater`, :class:`GraphBatchCollater`)
follow bench_lib's batch contract: the real graphs, then one padding graph that owns every pad node
and pad edge (pad edges join pad nodes only), then empty graphs up to the graph slots; masks mark
the real nodes, edges and graphs, and padding features and targets are zero. Pool with the graph
slot count (``global_add_pool(x, batch.batch, size=batch.num_graphs)``) and weight losses by
``graph_mask``.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch

from bench_lib.strategies import STRATEGIES, BatchShape, GraphBatch, Strategy
from bench_lib.strategies.budget import GraphBudget, SlotBudget
from bench_lib.strategies.interop import graph_batch_from_dgl, graph_batch_from_pyg, import_pyg

__all__ = ["BatchSampler", "sizes_of", "PygPadCollater", "DglPadCollater", "GraphBatchCollater",
           "graph_batch_from_pyg", "graph_batch_from_dgl"]


def sizes_of(dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(nodes, edges)`` per graph of ``dataset``: a bench_lib ``GraphStore``, a PyG dataset or
    list of ``Data``, a DGL dataset or list of ``DGLGraph`` (or of ``(graph, label)`` pairs)."""
    if hasattr(dataset, "n_node") and hasattr(dataset, "n_edge") and not callable(dataset.n_node):
        return np.asarray(dataset.n_node, np.int64), np.asarray(dataset.n_edge, np.int64)
    # a PyG InMemoryDataset: sizes without touching each graph
    slices = getattr(dataset, "slices", None)
    if (isinstance(slices, dict) and "edge_index" in slices
            and getattr(dataset, "_indices", None) is None):
        node_key = "x" if "x" in slices else "pos" if "pos" in slices else None
        if node_key is not None:
            return (np.diff(slices[node_key].numpy()).astype(np.int64),
                    np.diff(slices["edge_index"].numpy()).astype(np.int64))
    nodes, edges = [], []
    for item in dataset:
        g = item[0] if isinstance(item, tuple) else item
        if hasattr(g, "num_edges") and callable(g.num_edges):  # DGLGraph
            nodes.append(g.num_nodes())
            edges.append(g.num_edges())
        else:  # PyG Data
            nodes.append(g.num_nodes)
            edges.append(g.num_edges)
    return np.asarray(nodes, np.int64), np.asarray(edges, np.int64)


def _budget(budget, n_node: np.ndarray, n_edge: np.ndarray):
    """A :class:`SlotBudget`/:class:`GraphBudget` from what a suite's dataset settings say."""
    from bench_lib.strategies.fairness import default_pack_nodes, slot_budget

    if isinstance(budget, (SlotBudget, GraphBudget)):
        return budget
    if not isinstance(budget, dict):
        raise TypeError(f"budget must be a dict such as {{'node_slots': 512}} or "
                        f"{{'graphs_per_step': 32}}, a SlotBudget or a GraphBudget (got "
                        f"{budget!r})")
    known = {"node_slots", "edge_slots", "pack_nodes", "graphs_per_step"}
    unknown = set(budget) - known
    if unknown or ("node_slots" in budget) == ("graphs_per_step" in budget):
        raise ValueError(f"budget {budget!r}: give node_slots (equal padded budget) or "
                         f"graphs_per_step (equal real graphs), not both, with optional edge_slots "
                         f"and pack_nodes; unknown keys {sorted(unknown)}")
    largest = int(n_node.max())
    if "node_slots" in budget:
        return slot_budget(n_node, n_edge, int(budget["node_slots"]), budget.get("edge_slots"),
                           budget.get("pack_nodes"))
    if "edge_slots" in budget:
        raise ValueError(f"budget {budget!r}: edge_slots goes with node_slots, not graphs_per_step")
    pack = budget.get("pack_nodes") or default_pack_nodes(largest, largest)
    if pack < largest:
        raise ValueError(f"budget {budget!r}: pack_nodes={pack} is smaller than the largest graph "
                         f"({largest} nodes)")
    return GraphBudget(int(budget["graphs_per_step"]), int(pack))


def _strategy(strategy, budget, n_node: np.ndarray, n_edge: np.ndarray) -> Strategy:
    if isinstance(strategy, Strategy):
        if budget is not None:
            raise ValueError(
                f"{strategy!r} already has its parameters; pass a strategy name with a budget, "
                "or an instance without one")
        return strategy
    cls = STRATEGIES.get(strategy)  # ValueError naming the known ones
    if budget is None:
        return cls()
    return cls.for_budget(_budget(budget, n_node, n_edge), n_node, n_edge)


class BatchSampler(torch.utils.data.Sampler):
    """A registered strategy's batches as lists of dataset indices (``batch_sampler`` of a
    DataLoader).

    Args:
      strategy: a strategy name (``pack-lpfhp``, plugins included) or a strategy instance.
      sizes: ``(nodes, edges)`` per graph of the dataset, in its order (:func:`sizes_of`).
      budget: what a step holds, as a suite gives it (see the module docstring); None with a name:
        the strategy's default parameters.
      seed: fixes the plan and every epoch's order (the suite's cells of this seed batch alike).
      rank, world_size: this process's share of each epoch (data parallelism).
      drop_last: drop the last round of batches when it does not give every rank one.
      dataset_len: the dataset's length, checked against ``sizes`` when given.

    Raises:
      ValueError: sizes of another length than the dataset, a graph over the budget (named), a
        budget too small for one graph, or a rank outside ``0 .. world_size - 1``.
    """

    def __init__(self, strategy, sizes, budget=None, seed: int = 0, *, rank: int = 0,
                 world_size: int = 1,
                 drop_last: bool = False, dataset_len: int | None = None) -> None:
        n_node, n_edge = (np.asarray(a) for a in sizes)
        if n_node.ndim != 1 or n_node.shape != n_edge.shape:
            raise ValueError(f"sizes must be two 1-D arrays of one length (nodes, edges per "
                             f"graph); got shapes {n_node.shape} and {n_edge.shape}")
        if len(n_node) == 0:
            raise ValueError("sizes are empty: a sampler needs at least one graph")
        if dataset_len is not None and dataset_len != len(n_node):
            raise ValueError(f"sizes describe {len(n_node)} graphs but the dataset has "
                             f"{dataset_len}")
        if (n_node < 0).any() or (n_edge < 0).any():
            raise ValueError("sizes must be >= 0")
        for name, value in (("world_size", world_size), ("rank", rank)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer (got {value!r})")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"rank {rank} is not one of the {world_size} ranks 0..{world_size - 1}")
        self.n_node, self.n_edge = n_node.astype(np.int64), n_edge.astype(np.int64)
        self.strategy = _strategy(strategy, budget, self.n_node, self.n_edge)
        self.seed, self.rank, self.world_size, self.drop_last = seed, rank, world_size, drop_last
        self.planner = self.strategy.prepare(self.n_node, self.n_edge,
                                             np.random.default_rng([seed, 0]))
        self.epoch = 0
        self._plans: dict[int, object] = {}

    @property
    def shape(self) -> BatchShape | None:
        """The one shape of every batch (static strategies), else None."""
        return self.planner.shape

    @property
    def shapes(self) -> tuple[BatchShape, ...] | None:
        """The shapes batches are padded to: one for a static strategy, a few for ``pad-bucket``,
        None when batches are not padded."""
        if self.planner.shape is not None:
            return (self.planner.shape,)
        return self.plan(self.epoch).buckets

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (call it before each epoch, as with
        ``DistributedSampler``)."""
        self.epoch = int(epoch)

    def plan(self, epoch: int):
        """Epoch ``epoch``'s whole plan (every rank's batches), as the suite makes it."""
        if epoch not in self._plans:
            self._plans = {epoch: self.planner.plan_epoch(
                np.random.default_rng([self.seed, 1, epoch]))}
        return self._plans[epoch]

    def _rounds(self) -> int:
        n = self.plan(self.epoch).n_batch
        return n // self.world_size if self.drop_last else -(-n // self.world_size)

    def __len__(self) -> int:
        """This rank's batches in the current epoch (a greedy strategy's count changes with the
        order)."""
        return self._rounds()

    def __iter__(self) -> Iterator[list[int]]:
        plan = self.plan(self.epoch)
        for k in range(self._rounds()):
            b = k * self.world_size + self.rank
            if b >= plan.n_batch:
                yield []
            else:
                yield plan.graph_index[plan.batch_ptr[b]:plan.batch_ptr[b + 1]].tolist()


def _fitting(shapes: Sequence[BatchShape] | None, nodes: int, edges: int,
             graphs: int) -> BatchShape | None:
    """The first (smallest) of ``shapes`` that holds a batch of these real sizes (as ``pad-bucket``
    picks)."""
    if not shapes:
        return None
    for s in shapes:
        if nodes + 1 <= s.n_node and edges <= s.n_edge and graphs + 1 <= s.n_graph:
            return s
    raise ValueError(f"a batch of {graphs} graphs, {nodes} nodes and {edges} edges fits none of "
                     f"the shapes {[(s.n_node, s.n_edge, s.n_graph) for s in shapes]} (was it "
                     f"planned by this sampler?)")


class _Padder:
    """What the pad collaters share: the shapes they pad to, given as a :class:`BatchSampler` (its
    shapes, read at each batch: ``pad-bucket``'s change with the epoch), a :class:`BatchShape`, a
    few of them, or None (no padding)."""

    def __init__(self, shape=None) -> None:
        if shape is None or isinstance(shape, BatchSampler):
            self._shape = shape
        else:
            self._shape = (shape,) if isinstance(shape, BatchShape) else tuple(shape)

    @property
    def shapes(self) -> tuple[BatchShape, ...] | None:
        return self._shape.shapes if isinstance(self._shape, BatchSampler) else self._shape

    def slots(self, nodes: int, edges: int, graphs: int) -> tuple[int, int, int]:
        """``(node, edge, graph)`` slots of a batch of these real sizes: the smallest shape that
        holds it, or, unpadded, its own sizes and one (empty) padding graph."""
        shape = _fitting(self.shapes, nodes, edges, graphs)
        return (nodes, edges, graphs
                + 1) if shape is None else (shape.n_node, shape.n_edge, shape.n_graph)


class PygPadCollater(_Padder):
    """A PyG batch padded to the sampler's shape (one padding graph, then empty graphs), with
    ``node_mask``, ``edge_mask`` and ``graph_mask``. Call it on each ``Batch`` that
    ``torch_geometric.loader.DataLoader`` yields (that loader always collates with its own
    ``Batch.from_data_list``), or give it as ``collate_fn`` to ``torch.utils.data.DataLoader``.

    Args:
      shape: a :class:`BatchSampler` (its shapes), a :class:`BatchShape`, a few of them (the
        smallest that holds a batch is used), or None (no padding; masks all True but the empty
        padding graph's).

    Node-level attributes (PyG's ``is_node_attr``) get zero rows, edge-level ones zero rows, and
    graph-level tensors (``y`` and any whose first dimension is the graph count) zero rows;
    ``batch`` and ``ptr`` cover the padding graph and the empty ones, so ``batch.num_graphs`` is the
    graph slot count. The padded ``Batch`` is built directly (``to_data_list`` is not available on
    it).
    """

    def __init__(self, shape=None) -> None:
        import_pyg()
        super().__init__(shape)

    def __call__(self, data_list):
        """Pad a list of ``Data`` (as a ``collate_fn``) or a ``Batch`` that PyG's ``DataLoader``
        made."""
        from torch_geometric.data import Batch

        shapes = self.shapes
        if isinstance(data_list, Batch) and getattr(data_list, "graph_mask", None) is not None:
            raise ValueError("this Batch is padded already")
        if not isinstance(data_list, Batch) and not data_list:
            if not shapes:
                raise ValueError("an empty batch (a rank without a batch in the last round) needs "
                                 "a padded shape; use drop_last=True with an unpadded strategy")
            return self._empty(shapes[-1])
        batch = data_list if isinstance(data_list, Batch) else Batch.from_data_list(data_list)
        b = batch.num_graphs
        n, e = batch.num_nodes, batch.edge_index.shape[1]
        return self._pad(batch, b, n, e, *self.slots(n, e, b))

    def _empty(self, shape: BatchShape):
        from torch_geometric.data import Batch

        empty = Batch(edge_index=torch.zeros((2, 0), dtype=torch.int64),
                      batch=torch.zeros(0, dtype=torch.int64),
                      ptr=torch.zeros(1, dtype=torch.int64))
        return self._pad(empty, 0, 0, 0, shape.n_node, shape.n_edge, shape.n_graph)

    @staticmethod
    def _pad(batch, b: int, n: int, e: int, n_slots: int, e_slots: int, g_slots: int):
        from torch_geometric.data import Batch

        pad_n, pad_e = n_slots - n, e_slots - e
        out = {}
        for key in batch.keys():
            value = batch[key]
            if key in ("batch", "ptr", "edge_index") or not isinstance(value, torch.Tensor):
                continue
            if batch.is_edge_attr(key) and value.shape[:1] == (e,):
                rows = e_slots
            elif batch.is_node_attr(key) and value.shape[:1] == (n,):
                rows = n_slots
            elif value.dim() and value.shape[0] == b:
                rows = g_slots
            else:
                out[key] = value
                continue
            padded = value.new_zeros((rows,) + tuple(value.shape[1:]))
            padded[:value.shape[0]] = value
            out[key] = padded
        # pad edges: the first pad node to itself
        edge_index = batch.edge_index.new_full((2, e_slots), n)
        edge_index[:, :e] = batch.edge_index
        counts = torch.zeros(g_slots, dtype=torch.int64)
        counts[:b] = torch.diff(batch.ptr) if b else counts[:0]
        counts[b] = pad_n
        node_batch = torch.repeat_interleave(torch.arange(g_slots), counts, output_size=n_slots)
        ptr = torch.zeros(g_slots + 1, dtype=torch.int64)
        torch.cumsum(counts, 0, out=ptr[1:])
        masks = {"node_mask": torch.arange(n_slots) < n, "edge_mask": torch.arange(e_slots) < e,
                 "graph_mask": torch.arange(g_slots) < b}
        return Batch(edge_index=edge_index, batch=node_batch, ptr=ptr, **out, **masks)


class DglPadCollater(_Padder):
    """``collate_fn`` for DGL's ``GraphDataLoader``: ``dgl.batch``, then padded to the sampler's
    shape.

    Items are ``DGLGraph`` objects or ``(graph, label)`` pairs. Returns ``(graph, labels,
    graph_mask)`` (``labels`` None without labels): pad nodes and edges are added to the batched
    graph as one padding graph (zero features; pad edges join the first pad node to itself) followed
    by empty graphs, so ``graph.batch_size`` is the graph slot count; ``ndata['node_mask']`` and
    ``edata['edge_mask']`` mark the real nodes and edges, and ``labels`` gets zero rows past the
    real graphs.

    Args:
      shape: as for :class:`PygPadCollater`.
    """

    def __call__(self, items: list):
        from bench_lib.deps import import_dgl

        dgl = import_dgl()
        pairs = bool(items) and isinstance(items[0], tuple)
        graphs = [it[0] for it in items] if pairs else list(items)
        if not graphs:
            raise ValueError("DglPadCollater got an empty batch (a rank without a batch in the "
                             "last round): DGL cannot take the feature layout from no graph; use "
                             "drop_last=True")
        labels = torch.stack([torch.as_tensor(it[1]) for it in items]) if pairs else None
        g = dgl.batch(graphs)
        b, n, e = len(graphs), g.num_nodes(), g.num_edges()
        n_slots, e_slots, g_slots = self.slots(n, e, b)
        counts_n, counts_e = g.batch_num_nodes(), g.batch_num_edges()
        if n_slots > n:
            g.add_nodes(n_slots - n)  # zero features
        if e_slots > e:
            g.add_edges(torch.full((e_slots - e,), n), torch.full((e_slots - e,), n))
        nodes = torch.zeros(g_slots, dtype=torch.int64)
        edges = torch.zeros(g_slots, dtype=torch.int64)
        nodes[:b], edges[:b] = counts_n, counts_e
        nodes[b], edges[b] = n_slots - n, e_slots - e
        g.set_batch_num_nodes(nodes)
        g.set_batch_num_edges(edges)
        g.ndata["node_mask"] = torch.arange(n_slots) < n
        g.edata["edge_mask"] = torch.arange(e_slots) < e
        if labels is not None:
            padded = labels.new_zeros((g_slots,) + tuple(labels.shape[1:]))
            padded[:b] = labels
            labels = padded
        return g, labels, torch.arange(g_slots) < b


class GraphBatchCollater(_Padder):
    """Plain PyTorch: ``collate_fn`` that turns a sampler's index lists into bench_lib's
    :class:`~bench_lib.strategies.batch.GraphBatch` from a ``GraphStore`` (bench_lib's vectorised
    collater), padded to the sampler's shapes. Use it over ``range(store.n_graph)`` (or the split's
    indices, with sizes of that split)::

        loader = DataLoader(range(len(split)), batch_sampler=sampler,
                            collate_fn=GraphBatchCollater(store, sampler, indices=split))

    Args:
      store: the dataset.
      shape: as for :class:`PygPadCollater`.
      indices: store indices of the sampler's positions (the split the sizes came from); None: all.
    """

    def __init__(self, store, shape=None, indices=None) -> None:
        from bench_lib.strategies.collate import collate

        super().__init__(shape)
        self.store, self._collate = store, collate
        self.indices = None if indices is None else np.asarray(indices, np.int64)

    def __call__(self, positions: list) -> GraphBatch:
        shapes = self.shapes
        pos = np.asarray(positions, np.int64)
        idx = pos if self.indices is None else self.indices[pos]
        nn, ne = self.store.n_node[idx], self.store.n_edge[idx]
        if not len(idx) and not shapes:
            raise ValueError("an empty batch needs a padded shape; use drop_last=True with an "
                             "unpadded strategy")
        shape = (shapes[-1] if not len(idx)
                 else _fitting(shapes, int(nn.sum()), int(ne.sum()), len(idx)))
        return self._collate(self.store, idx, shape)
