"""Compiled neighbour search for :mod:`bench_lib.data.neighbours` (numba).

One compiled pass over a batch's graphs: each graph's distance matrix, then
each receiver's senders. Distances are computed as ``radius_graph``'s numpy
norm computes them, ``sqrt((dx*dx + dy*dy) + dz*dz)`` in float32 without
fused multiply-adds, so the edges equal the stored ones bit for bit. The k
nearest are chosen by the k-th smallest distance, ties at it going to the
lower atom index (a stable sort's order).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["neighbour_kernel"]


@numba.njit(cache=True, nogil=True)
def _kth_smallest(a, c, k):
    """The ``k``-th smallest (0-based) of ``a[:c]``, reordering ``a`` in place (quickselect)."""
    lo, hi = 0, c - 1
    while lo < hi:
        mid = (lo + hi) // 2
        # median of three as the pivot
        x, y, z = a[lo], a[mid], a[hi]
        pivot = y if (x <= y <= z or z <= y <= x) else (x if (y <= x <= z or z <= x <= y) else z)
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


# Its phases per graph (coordinates, distances, each row's k-th distance, the edges kept) share the
# scratch arrays and the previous row's k-th distance, and the loops are written so that numba
# vectorises them; split into numba functions, they would pass all that state around and their speed
# would hang on numba's inlining.
# long function: one compiled loop nest over a batch's graphs; its phases share scratch arrays
@numba.njit(cache=True, nogil=True)
def neighbour_kernel(n_node, start, positions, kth_in, knn, cutoff, k, fill, senders, receivers,
                     n_edge, kth_out):
    """Edges of graphs ``g`` (atoms ``start[g] : start[g] + n_node[g]`` of ``positions``).

    ``knn``: each atom's ``min(k, n - 1)`` nearest; else pairs closer than ``cutoff``,
    each atom keeping its ``k`` nearest when ``k > 0``. Writes ``n_edge[g]`` and, when
    ``fill``, the edges (rows of ``positions``) into ``senders``/``receivers`` from 0 on,
    ordered by graph, receiver, sender; they need one slot more than the edges (the
    loops store before they know whether to keep). Returns the number of edges, or
    ``-1 - row`` when ``kth_in`` is wrong for that row.

    ``kth_out`` (one per row of ``positions``, or empty): each atom's k-th smallest
    distance is written there (inf where it keeps every other atom). ``kth_in`` (the
    same, or empty): those distances, known, so that no row has to select its k
    nearest: it keeps the senders within its k-th distance (ties by index).
    """
    have_kth, want_kth = len(kth_in) > 0, len(kth_out) > 0
    m = 0
    for g in range(len(n_node)):
        m = max(m, n_node[g])
    dist = np.empty((m, m), dtype=np.float32)
    row = np.empty(m, dtype=np.float32)
    xs = np.empty(m, dtype=np.float32)
    ys = np.empty(m, dtype=np.float32)
    zs = np.empty(m, dtype=np.float32)
    cut = np.float32(cutoff) if not knn else np.float32(np.inf)
    e = 0
    for g in range(len(n_node)):
        n, s0, e0 = n_node[g], start[g], e
        for i in range(n):  # the graph's coordinates, contiguous
            xs[i] = positions[s0 + i, 0]
            ys[i] = positions[s0 + i, 1]
            zs[i] = positions[s0 + i, 2]
        far = np.float32(0)
        guess = np.float32(0)
        for i in range(n):  # whole rows (not a triangle), so that the loop vectorises
            xi, yi, zi = xs[i], ys[i], zs[i]
            for j in range(n):
                dx = xi - xs[j]
                dy = yi - ys[j]
                dz = zi - zs[j]
                dist[i, j] = np.sqrt((dx * dx + dy * dy) + dz * dz)
            for j in range(n):
                far = max(far, dist[i, j])
            dist[i, i] = np.inf
        for i in range(n):
            e1 = e
            if k > 0 and k < n - 1:
                if have_kth:
                    kth = kth_in[s0 + i]
                else:
                    # The k-th smallest distance lies in [lo, hi): bisect until few distances do
                    # (each step a branch-free count over the row), starting from the previous
                    # atom's k-th distance (one pass counts the distances below 0.9 and 1.1 times
                    # it), then quickselect among those few.
                    lo, hi = np.float32(0), far * np.float32(1.0001) + np.float32(1e-30)
                    below, within = 0, n - 1  # distances < lo, and in [lo, hi)
                    if guess > 0:
                        ga, gb = guess * np.float32(0.9), guess * np.float32(1.1)
                        ca, cb = 0, 0
                        for j in range(n):
                            ca += dist[i, j] < ga
                            cb += dist[i, j] < gb
                        if ca >= k:
                            hi, within = ga, ca
                        elif cb >= k:
                            lo, hi, below, within = ga, gb, ca, cb - ca
                        else:
                            lo, below, within = gb, cb, n - 1 - cb
                    while within > 8:
                        mid = (lo + hi) * np.float32(0.5)
                        if mid <= lo or mid >= hi:  # the interval is one float wide
                            break
                        c = 0
                        for j in range(n):
                            c += dist[i, j] < mid
                        if c >= k:
                            hi, within = mid, c - below
                        else:
                            lo, below, within = mid, c, within - (c - below)
                    c = 0
                    for j in range(n):
                        d = dist[i, j]
                        row[c] = d
                        c += (d >= lo) & (d < hi)
                    kth = _kth_smallest(row, c, k - 1 - below)
                    guess = kth
                    if want_kth:
                        kth_out[s0 + i] = kth
                ties = k  # how many at distance kth are kept: the lowest indices first
                equal = 0
                for j in range(n):
                    ties -= dist[i, j] < kth
                    equal += dist[i, j] == kth
                if ties < 1 or ties > equal:  # only a wrong kth_in can do this
                    return -1 - (s0 + i)
                if ties == equal:  # no tie to break (the usual case): everything within kth
                    for j in range(n):
                        d = dist[i, j]
                        if fill:
                            senders[e] = s0 + j
                        e += (d <= kth) & (d < cut)
                else:
                    for j in range(n):
                        d = dist[i, j]
                        tie = d == kth
                        take = (d < kth) | (tie & (ties > 0))
                        ties -= tie & take
                        if fill:
                            senders[e] = s0 + j
                        e += take & (d < cut)
            else:
                if want_kth:
                    kth_out[s0 + i] = np.inf
                for j in range(n):
                    if fill:
                        senders[e] = s0 + j
                    e += (dist[i, j] < cut) & (j != i)
            if fill:
                receivers[e1:e] = s0 + i
        n_edge[g] = e - e0
    return e
