"""Index arithmetic over ragged rows (a graph's nodes or edges are one range of a flat column).

Kept apart from :mod:`bench_lib.data.store` so that the modules the store uses (neighbour search,
radius graphs) can use them too without importing the store.
"""

from __future__ import annotations

import numpy as np

__all__ = ["exclusive_cumsum", "gather_ranges"]


def exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    """``[0, c0, c0+c1, ...]`` of length ``len(counts) + 1`` (int64)."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def gather_ranges(ptr: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Concatenate the ranges ``ptr[i]:ptr[i+1]`` for each ``i`` in ``index``.

    Vectorised (no Python loop): ``gather_ranges([0, 2, 5, 6], [2, 0])`` is
    ``[5, 0, 1]``.
    """
    index = np.asarray(index, dtype=np.int64)
    starts = ptr[index]
    counts = ptr[index + 1] - starts
    out_starts = exclusive_cumsum(counts)
    total = int(out_starts[-1])
    return np.arange(total, dtype=np.int64) + np.repeat(starts - out_starts[:-1], counts)
