"""What a user gets out of the box from PyTorch Geometric and DGL, as arms beside bench_lib's
strategies.

``pyg``: PyG's ``DataLoader``: a fixed number of graphs per step, shuffled, batched by
``Batch.from_data_list``. ``pyg-dynamic``: PyG's ``DynamicBatchSampler`` in node mode: graphs in
shuffled order added until the next would pass a node budget (edges are not budgeted), batched the
same way. ``dgl-loader``: DGL's ``GraphDataLoader``: a fixed number of graphs per step, batched by
``dgl.batch`` (its ``GraphCollator``). Wastes: nothing (no padding). Static shapes: no, every batch
has its own.

They plan as bench_lib's ``dynamic`` (and, for ``pyg-dynamic``, the node-only greedy fill of
``dynamic-budget``, which is PyG's rule: a batch ends when the next graph would pass ``max_nodes``);
what differs is how a batch is built: the dataset is held as one library object per graph (a
``torch_geometric.data.Data``, or a ``DGLGraph`` and its label), built once at set-up as a user's
in-memory dataset is, and each batch goes through the library's own collater, then becomes the
models' :class:`~bench_lib.strategies.batch.GraphBatch` (:mod:`.interop`, no copy where the layouts
allow), inside the timed batch-build window like every strategy's.

They are not in ``strategies = "all"`` (bench_lib's own strategies); name them to run them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench_lib.strategies.base import Strategy, check_sizes, positive
from bench_lib.strategies.budget import SlotBudget
from bench_lib.strategies.dynamic import Dynamic, _BudgetPlanner, greedy_node_budget
from bench_lib.strategies.registry import STRATEGIES

__all__ = ["PygLoader", "PygDynamic", "DglLoader"]


def _pyg_collate(datas: list, index: np.ndarray, shape) -> object:
    from torch_geometric.data import Batch

    from bench_lib.strategies.interop import graph_batch_from_pyg

    return graph_batch_from_pyg(Batch.from_data_list([datas[i] for i in index]), graph_index=index)


def _dgl_collate(items: list, collator, index: np.ndarray, shape) -> object:
    from bench_lib.strategies.interop import graph_batch_from_dgl

    graph, labels = collator.collate([items[i] for i in index])
    return graph_batch_from_dgl(graph, labels, graph_index=index)


class _PygCollated:
    """Batches built by PyG's ``Batch.from_data_list`` from one ``Data`` per graph."""

    baseline: ClassVar[bool] = True

    def collater(self, store):
        from bench_lib.strategies.interop import pyg_graphs

        return functools.partial(_pyg_collate, pyg_graphs(store))


@STRATEGIES.register
@dataclass(frozen=True)
class PygLoader(_PygCollated, Dynamic):
    """PyG's ``DataLoader``: ``batch_graphs`` graphs per step, unpadded (``Batch.from_data_list``).

    Args:
      batch_graphs: graphs per step (PyG's ``batch_size``).
    """

    name = "pyg"
    wastes = "nothing; every batch has a new shape, built by PyG's Batch.from_data_list"


@STRATEGIES.register
@dataclass(frozen=True)
class DglLoader(Dynamic):
    """DGL's ``GraphDataLoader``: ``batch_graphs`` graphs per step, unpadded (``dgl.batch``).

    Args:
      batch_graphs: graphs per step (DGL's ``batch_size``).
    """

    name = "dgl-loader"
    wastes = "nothing; every batch has a new shape, built by DGL's dgl.batch"
    baseline: ClassVar[bool] = True
    needs_dgl: ClassVar[bool] = True

    def collater(self, store):
        from bench_lib.deps import import_dgl
        from bench_lib.strategies.interop import dgl_graphs

        return functools.partial(_dgl_collate, dgl_graphs(store),
                                 import_dgl().dataloading.GraphCollator())


@STRATEGIES.register
@dataclass(frozen=True)
class PygDynamic(_PygCollated, Strategy):
    """PyG's ``DynamicBatchSampler`` (``mode="node"``): graphs in shuffled order until the next
    would pass ``max_nodes`` real nodes; no edge or graph budget, no padding.

    Args:
      max_nodes: PyG's ``max_num`` (nodes per batch).
    """

    name = "pyg-dynamic"
    static_shape = False
    wastes = ("nothing; every batch has a new shape and its own edge count (nodes alone are "
              "budgeted)")
    max_nodes: int = 256

    def __post_init__(self) -> None:
        positive("max_nodes", self.max_nodes, allow_none=False)

    def prepare(self, n_node, n_edge, rng) -> _BudgetPlanner:
        n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
        check_sizes(n_node, n_edge, self.max_nodes, None, "pyg-dynamic batch")
        return _BudgetPlanner(n_node, n_edge, self.max_nodes, int(n_edge.sum()) + 1,
                              len(n_node) + 1, None)

    @classmethod
    def for_budget(cls, budget, n_node, n_edge) -> "PygDynamic":
        if isinstance(budget, SlotBudget):
            return cls(max_nodes=budget.node_slots)
        return cls(max_nodes=greedy_node_budget(cls, budget, n_node, n_edge))
