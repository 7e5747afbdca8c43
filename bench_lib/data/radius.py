"""Radius graphs built per graph, vectorised over graphs of equal size.

Edges are never made across graphs: each graph's neighbour search sees only
its own atoms. Graphs of the same size are stacked into one ``[M, n, 3]``
array and handled with one distance computation.
"""

from __future__ import annotations

import numpy as np

from bench_lib.data.ranges import exclusive_cumsum

__all__ = ["radius_graph", "local_index_dtype"]

_CHUNK_BYTES = 64 << 20


def local_index_dtype(max_nodes: int) -> np.dtype:
    """The narrowest dtype for local node ids of graphs up to ``max_nodes``:
    uint8 for molecules and water clusters, a quarter of int32's memory."""
    if max_nodes <= 1 << 8:
        return np.dtype(np.uint8)
    if max_nodes <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def radius_graph(n_node: np.ndarray, positions: np.ndarray, cutoff: float,
                 max_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges ``sender -> receiver`` for every pair closer than
    ``cutoff`` (strictly), no self-loops, within each graph.

    With ``max_neighbors`` each receiver keeps only its ``max_neighbors``
    nearest senders (ties broken by atom index).

    Returns ``(n_edge[G], senders[E], receivers[E])`` with local (per-graph)
    endpoints in :func:`local_index_dtype`, edges ordered by graph, then
    receiver, then sender.
    """
    if cutoff <= 0:
        raise ValueError(f"cutoff must be > 0 (got {cutoff})")
    if max_neighbors is not None and max_neighbors < 1:
        raise ValueError(f"max_neighbors must be >= 1 or None (got {max_neighbors})")
    n_node = np.asarray(n_node, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.float32)
    node_ptr = exclusive_cumsum(n_node)
    local = local_index_dtype(int(n_node.max(initial=0)))
    n_edge = np.zeros(len(n_node), dtype=np.int64)
    pieces = []  # (graph ids, per-graph counts, senders, receivers), graph-major
    for n in np.unique(n_node):
        if n < 2:
            continue
        gids = np.flatnonzero(n_node == n)
        chunk = max(1, _CHUNK_BYTES // (int(n) * int(n) * 4 * 4))
        for lo in range(0, len(gids), chunk):
            g = gids[lo:lo + chunk]
            pos = positions[node_ptr[g][:, None] + np.arange(n)]  # [M, n, 3]
            d = np.linalg.norm(pos[:, :, None, :] - pos[:, None, :, :], axis=-1)  # [M, recv, send]
            d[:, np.arange(n), np.arange(n)] = np.inf
            keep = d < cutoff
            if max_neighbors is not None and max_neighbors < n - 1:
                order = np.argsort(d, axis=2, kind="stable")
                rank = np.empty_like(order)
                np.put_along_axis(rank, order, np.arange(n)[None, None, :], axis=2)
                keep &= rank < max_neighbors
            m, recv, send = np.nonzero(keep)
            counts = keep.sum(axis=(1, 2))
            n_edge[g] = counts
            pieces.append((g, counts, send.astype(local), recv.astype(local)))
    edge_ptr = exclusive_cumsum(n_edge)
    senders = np.empty(int(edge_ptr[-1]), dtype=local)
    receivers = np.empty_like(senders)
    for g, counts, send, recv in pieces:
        local_start = exclusive_cumsum(counts)
        rank = np.arange(len(send)) - np.repeat(local_start[:-1], counts)
        dest = np.repeat(edge_ptr[g], counts) + rank
        senders[dest] = send
        receivers[dest] = recv
    return n_edge, senders, receivers
