"""Compiled edge gather for :func:`bench_lib.data.store.take_edges` (numba).

One pass over a batch's graphs: each graph's stored endpoints (local node ids, any integer width)
are read once and written once, widened to int64 and shifted by the graph's first node slot in the
batch. The numpy path reads the index it builds, the local ids, the shift it repeats, and writes
twice; for clusters of 2,000 edges a graph that is most of a batch's build time.
"""

from __future__ import annotations

import numba

__all__ = ["gather_edges"]


@numba.njit(cache=True, nogil=True)
def gather_edges(senders, receivers, edge_ptr, index, first_node, out_senders, out_receivers):
    """``out_*[k] = column[e] + first_node[g]`` for the edges ``e`` of graph ``index[g]``, in
    order."""
    k = 0
    for g in range(index.shape[0]):
        shift = first_node[g]
        for e in range(edge_ptr[index[g]], edge_ptr[index[g] + 1]):
            out_senders[k] = senders[e] + shift
            out_receivers[k] = receivers[e] + shift
            k += 1
