"""The shared collater: graph indices -> :class:`GraphBatch`, vectorised.

Every array is gathered from the store's flat columns with index arithmetic
(no per-graph Python loop), then padded to the strategy's static shape
following the contract in :mod:`bench_lib.strategies.batch`. A store whose
edges are built per batch (``store.neighbours``) gets them here, from the
batch's positions, vectorised over its graphs.
"""

from __future__ import annotations

import numpy as np
import torch

from bench_lib.data.store import GraphStore
from bench_lib.strategies.batch import BatchShape, GraphBatch

__all__ = ["collate"]


def _pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    if len(a) == n:
        return a
    out = np.empty((n,) + a.shape[1:], dtype=a.dtype)
    out[:len(a)] = a
    out[len(a):] = 0
    return out


def _prefix_mask(n: int, n_true: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[:n_true] = True
    return mask


def _slots(shape: BatchShape | None, b: int, real_n: int, real_e: int) -> tuple[int, int, int,
           bool]:
    """``(node slots, edge slots, graph slots, static)``: ``shape``'s counts, or for no shape the
    real counts and one graph slot more (the padding graph's).

    Raises:
      ValueError: the graphs do not fit ``shape`` (names both sizes).
    """
    if shape is None:
        return real_n, real_e, b + 1, False
    n_slots, e_slots, g_slots = shape.n_node, shape.n_edge, shape.n_graph
    pad_e = e_slots - real_e
    if real_n + (1 if pad_e else 0) > n_slots or real_e > e_slots or b + 1 > g_slots:
        raise ValueError(
            f"batch of {b} graphs, {real_n} nodes, {real_e} edges does not fit shape "
            f"n_node={n_slots}, n_edge={e_slots}, n_graph={g_slots} "
            "(the padding graph needs one node slot when there are pad edges, and one graph slot)")
    return n_slots, e_slots, g_slots, True


def _edges(store: GraphStore, idx: np.ndarray, nn: np.ndarray, ne: np.ndarray,
           positions: np.ndarray | None,
           e_slots: int, real_e: int) -> tuple[np.ndarray, np.ndarray]:
    """``e_slots`` senders and receivers (node rows of the batch), the graphs' ``real_e`` edges
    first and the pad slots after them left for the caller: the store's edges, or for a store whose
    edges are built per batch (``store.neighbours``) those built here from the batch's positions.
    ``nn``, ``ne``: the graphs' node and edge counts.

    Raises:
      ValueError: the built edges do not match the store's counts (a stale store).
    """
    if store.senders is not None:
        senders = np.empty(e_slots, dtype=np.int64)
        receivers = np.empty(e_slots, dtype=np.int64)
        store.batch_edges(idx, senders[:real_e], receivers[:real_e])
        return senders, receivers
    # built straight into the batch's arrays (one slot more: the kernel's scratch)
    rule = store.neighbours
    rows = max(e_slots, rule.bound(nn)) + 1
    senders, receivers = np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int64)
    kth = None if store.knn_distance is None else store.graph_rows("knn_distance", idx)
    built_ne, _, _ = rule.edges(nn, positions, kth, out=(senders, receivers))
    if not np.array_equal(built_ne, ne):
        bad = int(np.flatnonzero(built_ne != ne)[0])
        raise ValueError(f"graph {idx[bad]} of {store.meta.name}: {built_ne[bad]} neighbour edges "
                         f"built, but the store counts {ne[bad]} (the store's n_edge is stale; "
                         f"rebuild it)")
    senders, receivers = senders[:e_slots], receivers[:e_slots]
    if rows > 2 * e_slots + 1024:  # a loose bound (radius graphs): keep no oversized buffer alive
        senders, receivers = senders.copy(), receivers.copy()
    return senders, receivers


def collate(store: GraphStore, graph_index: np.ndarray,
            shape: BatchShape | None = None) -> GraphBatch:
    """Batch graphs ``graph_index`` of ``store``.

    Args:
      store: the graphs.
      graph_index: store indices of the batch's real graphs, in order.
      shape: static slot counts to pad to, or None for an unpadded batch
        (then only an empty padding graph is appended).

    Raises:
      ValueError: the graphs do not fit ``shape`` (names both sizes).
    """
    idx = np.asarray(graph_index, dtype=np.int64)
    nn, ne = store.n_node[idx], store.n_edge[idx]
    positions = None if store.positions is None else store.graph_rows("positions", idx)
    b, real_n, real_e = len(idx), int(nn.sum()), int(ne.sum())
    n_slots, e_slots, g_slots, static = _slots(shape, b, real_n, real_e)
    pad_n, pad_e = n_slots - real_n, e_slots - real_e
    senders, receivers = _edges(store, idx, nn, ne, positions, e_slots, real_e)
    senders[real_e:] = receivers[real_e:] = real_n  # pad edges: first pad node -> itself

    n_node = np.zeros(g_slots, dtype=np.int64)
    n_edge = np.zeros(g_slots, dtype=np.int64)
    n_node[:b], n_edge[:b] = nn, ne
    n_node[b], n_edge[b] = pad_n, pad_e
    node_graph = np.repeat(np.arange(g_slots, dtype=np.int64), n_node)
    graph_index_out = np.full(g_slots, -1, dtype=np.int64)
    graph_index_out[:b] = idx

    features = store.graph_rows("node_features", idx)
    # narrow categorical columns on disk
    if features.dtype.kind in "iu" and features.dtype != np.int64:
        features = features.astype(np.int64)
    t = torch.from_numpy
    return GraphBatch(
        node_features=t(_pad_rows(features, n_slots)),
        senders=t(senders), receivers=t(receivers),
        n_node=t(n_node), n_edge=t(n_edge), node_graph=t(node_graph),
        node_mask=t(_prefix_mask(n_slots, real_n)), edge_mask=t(_prefix_mask(e_slots, real_e)),
        graph_mask=t(_prefix_mask(g_slots, b)),
        targets=t(_pad_rows(store.targets[idx], g_slots)),
        graph_index=t(graph_index_out), static_shape=static,
        positions=None if positions is None else t(_pad_rows(positions, n_slots)),
        edge_features=None if store.edge_features is None
        else t(_pad_rows(store.graph_rows("edge_features", idx), e_slots)),
    )
