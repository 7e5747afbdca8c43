"""Neighbour graphs built per batch from positions, instead of stored edges.

A 3D dataset can keep only positions and species and let the collater build
each batch's edges (:class:`Neighbours`, the dataset option ``edges``):

* ``"radius"``: every ordered pair of a graph's atoms closer than ``cutoff``
  (strictly), no self-loops; with ``k`` each receiver keeps its ``k``
  nearest such senders. The same edges as :func:`~bench_lib.data.radius.radius_graph`
  stores.
* ``"knn"``: each atom receives from its ``min(k, n - 1)`` nearest atoms of
  its own graph, whatever their distance, as the seed paper's k-NN graph.
  A graph of ``n`` atoms has exactly ``n * min(k, n - 1)`` edges, so a pack
  of fixed node capacity has a fixed edge count and node packing alone makes
  shapes static. Edges longer than ``cutoff`` stay in the graph; SchNet's
  cosine cutoff gives them a zero filter, so its outputs equal those on the
  radius graph capped at ``k`` (``edges = "stored"`` with ``max_neighbors = k``).

Ties in distance are broken by atom index (a stable sort), as in
``radius_graph``. Edges are ordered by graph, then receiver, then sender.

The search is one compiled pass over the batch's graphs (numba; numpy alone,
vectorised over the batch, where numba is missing): each graph's distance
matrix, then each receiver's senders. A ``knn`` store also keeps each atom's
k-th neighbour distance (4 bytes an atom), so that a batch keeps the senders
within it instead of selecting the k nearest again.

Example::

    rule = Neighbours("knn", cutoff=6.0, k=28)
    n_edge = rule.edge_counts(n_node)                       # no positions needed
    n_edge, senders, receivers = rule.edges(n_node, positions)
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench_lib.data.ranges import exclusive_cumsum

__all__ = ["Neighbours", "EDGE_KINDS", "edge_columns"]

#: Values of a 3D dataset's ``edges`` option.
EDGE_KINDS = ("stored", "radius", "knn")
#: Bytes of the ``[graphs, m, m, 3]`` difference array built at once; larger batches go in slices.
_CHUNK_BYTES = 32 << 20
_FAR = np.float32(1e9)


@dataclass(frozen=True)
class Neighbours:
    """How a store's edges are made from its positions (see the module docstring).

    Attributes:
      kind: ``"radius"`` or ``"knn"``.
      cutoff: Angstrom; ``radius`` keeps pairs closer than this.
      k: ``knn``: neighbours per atom (required); ``radius``: the most
        neighbours an atom keeps (None: all within the cutoff).
    """

    kind: str
    cutoff: float
    k: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("radius", "knn"):
            raise ValueError(f"neighbour kind must be 'radius' or 'knn' (got {self.kind!r})")
        if not self.cutoff > 0:
            raise ValueError(f"cutoff must be > 0 (got {self.cutoff})")
        if self.k is not None and self.k < 1 or self.kind == "knn" and self.k is None:
            raise ValueError(f"{self.kind} neighbours need k >= "
                             f"1{'' if self.kind == 'knn' else ' or None'} (got {self.k})")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "cutoff": self.cutoff, "k": self.k}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Neighbours":
        return cls(kind=data["kind"], cutoff=float(data["cutoff"]), k=data.get("k"))

    def edge_counts(self, n_node: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """Edges per graph (int64): from the sizes alone for ``knn``, from the positions for
        ``radius``."""
        n_node = np.asarray(n_node, dtype=np.int64)
        if self.kind == "knn":
            return n_node * np.minimum(self.k, np.maximum(n_node - 1, 0))
        if positions is None:
            raise ValueError("radius neighbour counts need the positions")
        n_node, positions, start = self._inputs(n_node, positions)
        if _kernel() is None:
            return self.edges_numpy(n_node, positions)[0]
        return self._call(n_node, start, positions)[0]

    def kth_distances(self, n_node: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """float32 ``[N]``: each atom's ``k``-th smallest distance to another atom of its graph
        (inf where ``k >= n - 1``). A ``knn`` store keeps them (``GraphStore.knn_distance``),
        one number per atom, so that batches skip the selection of the k nearest."""
        if self.k is None:
            raise ValueError("k-th distances need k")
        n_node, positions, start = self._inputs(n_node, positions)
        kth = np.empty(len(positions), dtype=np.float32)
        if _kernel() is None:
            return self._kth_numpy(n_node, positions, start, kth)
        self._call(n_node, start, positions, kth_out=kth)
        return kth

    def _kth_numpy(self, n_node, positions, start, kth):
        kth[:] = np.inf
        for n in np.unique(n_node[n_node - 1 > self.k]):  # graphs of one size at a time
            rows = start[n_node == n][:, None] + np.arange(n)  # [M, n]
            pos = positions[rows]
            d = np.linalg.norm(pos[:, :, None, :] - pos[:, None, :, :], axis=-1)
            d[:, np.arange(n), np.arange(n)] = np.inf
            kth[rows] = np.partition(d, self.k - 1, axis=2)[:, :, self.k - 1]
        return kth

    def edges(self, n_node: np.ndarray, positions: np.ndarray, kth: np.ndarray | None = None,
              out: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n_edge[G], senders[E], receivers[E])`` of graphs with ``n_node`` atoms whose positions
        are concatenated in ``positions``; endpoints index rows of ``positions`` (int64).

        One compiled pass over the graphs (:mod:`bench_lib.data._neighbour_kernel`), no Python
        loop over graphs; :meth:`edges_numpy` gives the same edges with numpy alone. ``kth``:
        the atoms' :meth:`kth_distances`, when known (``knn`` stores keep them), which spares
        each atom the selection of its k nearest (the edges are the same). ``out``: two int64
        arrays of at least :meth:`bound` + 1 rows to write the edges into (the returned ones are
        their first rows), as the collater passes its padded batch arrays.
        """
        n_node, positions, start = self._inputs(n_node, positions)
        kth = None if kth is None else np.ascontiguousarray(kth, dtype=np.float32)
        if kth is not None and len(kth) != len(positions):
            raise ValueError(f"{len(kth)} k-th distances for {len(positions)} atoms")
        senders, receivers = out if out is not None else (None, None)
        if _kernel() is None:
            n_edge, s, r = self.edges_numpy(n_node, positions)
            if out is None:
                return n_edge, s, r
            senders[:len(s)], receivers[:len(r)] = s, r
            return n_edge, senders[:len(s)], receivers[:len(r)]
        bound = self.bound(n_node)
        if out is None:
            senders, receivers = np.empty(bound + 1,
                                          dtype=np.int64), np.empty(bound + 1, dtype=np.int64)
        elif min(len(senders), len(receivers)) < bound + 1 or senders.dtype != np.int64 \
                or receivers.dtype != np.int64 or not (senders.flags.c_contiguous
                                                       and receivers.flags.c_contiguous):
            raise ValueError(f"out: two contiguous int64 arrays of at least bound + 1 = "
                             f"{bound + 1} rows are needed")
        n_edge, e = self._call(n_node, start, positions, kth_in=kth, out=(senders, receivers))
        return n_edge, senders[:e], receivers[:e]

    def _call(self, n_node, start, positions, kth_in=None, out=None,
              kth_out=None) -> tuple[np.ndarray, int]:
        """The compiled kernel over checked inputs: ``(n_edge, edges)``; the edges are written into
        ``out`` when given, each atom's k-th distance into ``kth_out`` when given."""
        no_index, no_kth = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        senders, receivers = out if out is not None else (no_index, no_index)
        n_edge = np.empty(len(n_node), dtype=np.int64)
        e = _kernel()(n_node, start, positions, no_kth if kth_in is None else kth_in,
                      self.kind == "knn",
                      float(self.cutoff), int(self.k or 0), out is not None, senders, receivers,
                      n_edge,
                      no_kth if kth_out is None else kth_out)
        if e < 0:
            raise ValueError(
                f"atom {-1 - e} of the batch: its stored k-th neighbour distance does not match "
                f"its positions (a stale or corrupt store; rebuild it)")
        return n_edge, e

    def bound(self, n_node: np.ndarray) -> int:
        """The most edges graphs of these sizes can have under this rule (exact for ``knn``)."""
        n_node = np.asarray(n_node, dtype=np.int64)
        return int(np.sum(n_node * np.minimum(self.k or n_node, np.maximum(n_node - 1, 0))))

    def _inputs(self, n_node, positions):
        n_node = np.ascontiguousarray(n_node, dtype=np.int64)
        positions = np.ascontiguousarray(positions, dtype=np.float32)
        start = exclusive_cumsum(n_node)
        # the kernel reads 3 floats a row, unchecked
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise ValueError(f"positions must be [N, 3] (got shape {positions.shape})")
        if len(positions) != start[-1]:
            raise ValueError(f"{len(positions)} positions for {start[-1]} nodes")
        return n_node, positions, start[:-1]

    def edges_numpy(self, n_node: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray,
                    np.ndarray, np.ndarray]:
        """:meth:`edges` in numpy alone, vectorised: the graphs are padded to the largest one's size
        and their distances computed at once (in slices of bounded memory). Several times slower;
        kept as the fallback where numba is missing and as the compiled kernel's check."""
        n_node, positions, start = self._inputs(n_node, positions)
        g = len(n_node)
        m = int(n_node.max(initial=0))
        if m < 2:
            return np.zeros(g, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        step = max(1, _CHUNK_BYTES // (m * m * 3 * 4))
        parts = [self._slice(n_node[lo:lo + step], start[lo:lo + step], positions,
                             m) for lo in range(0, g, step)]
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(p) for p in zip(*parts))

    def _slice(self, n: np.ndarray, start: np.ndarray, positions: np.ndarray, m: int):
        slot = np.arange(m)
        real = slot[None, :] < n[:, None]  # [B, m]
        # an empty graph at the very end: any row (masked)
        rows = np.minimum(start[:, None] + np.minimum(slot[None, :], np.maximum(n[:, None] - 1, 0)),
                          max(len(positions) - 1, 0))
        xyz = positions[rows].transpose(2, 0, 1).copy()  # [3, B, m]
        xyz[:, ~real] = _FAR  # padding slots: far from every atom (and never kept)
        # |r_s - r_r| as radius_graph's norm computes it, (dx^2 + dy^2) + dz^2 in float32, so that
        # the edges equal the stored ones bit for bit; one [B, receiver, sender] array, updated in
        # place.
        d = xyz[0][:, :, None] - xyz[0][:, None, :]
        d *= d
        for c in (1, 2):
            t = xyz[c][:, :, None] - xyz[c][:, None, :]
            t *= t
            d += t
        np.sqrt(d, out=d)
        d[:, slot, slot] = np.inf
        both = real[:, :, None] & real[:, None, :]
        both[:, slot, slot] = False
        keep = d < self.cutoff if self.kind == "radius" else both
        if self.k is not None and self.k < m - 1:
            nearest = self._nearest(d)
            keep = keep & nearest if self.kind == "radius" else nearest
        keep &= both
        b, r, s = np.nonzero(keep)
        return np.bincount(b, minlength=len(n)).astype(np.int64), s + start[b], r + start[b]

    def _nearest(self, d: np.ndarray) -> np.ndarray:
        """``[B, receiver, sender]``: the sender is among its receiver's ``k`` nearest (ties by
        index, as a stable sort orders them)."""
        kth = np.partition(d, self.k - 1, axis=2)[:, :, self.k - 1:self.k]
        keep = d <= kth
        # rows with ties at the k-th distance
        tied = np.flatnonzero(keep.sum(axis=2).ravel() > self.k)
        if tied.size:
            rows = d.reshape(-1, d.shape[2])[tied]
            order = np.argsort(rows, axis=1, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(rows.shape[1])[None, :], axis=1)
            keep.reshape(-1, d.shape[2])[tied] = rank < self.k
        return keep


@functools.lru_cache(maxsize=None)
def _kernel():
    """The compiled kernel, or None (with a warning, once) where numba cannot be imported."""
    try:
        from bench_lib.data._neighbour_kernel import neighbour_kernel
    except ImportError as err:
        warnings.warn(
            f"numba is unavailable ({err}); neighbour graphs are built with numpy, several times "
            "slower", stacklevel=3)
        return None
    return neighbour_kernel


def edge_columns(n_node: np.ndarray, positions: np.ndarray, edges: str, cutoff: float,
                 max_neighbors: int | None) -> tuple[dict[str, np.ndarray | None],
                                                     dict[str, Any] | None]:
    """A 3D store's edge columns under its ``edges`` option, and its ``meta.neighbours``.

    ``"stored"``: the radius graph (capped at ``max_neighbors``) with its
    endpoints; ``"radius"``/``"knn"``: only the per-graph counts the
    :class:`Neighbours` rule gives (``k = max_neighbors``), the edges being
    built per batch, and for ``"knn"`` each atom's k-th neighbour distance
    (``knn_distance``, 4 bytes per atom).
    """
    from bench_lib.data.radius import radius_graph

    if edges not in EDGE_KINDS:
        raise ValueError(f"edges must be one of {', '.join(EDGE_KINDS)} (got {edges!r})")
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=1)) if len(positions) else []
    if len(bad):
        raise ValueError(f"{len(bad)} atom(s) have non-finite coordinates (first: atom {bad[0]}); "
                         "neighbour graphs need finite positions")
    if edges == "stored":
        n_edge, senders, receivers = radius_graph(n_node, positions, cutoff, max_neighbors)
        return {"n_edge": n_edge, "senders": senders, "receivers": receivers}, None
    rule = Neighbours(edges, cutoff, max_neighbors)
    columns = {"n_edge": rule.edge_counts(n_node, positions), "senders": None, "receivers": None}
    if edges == "knn":
        columns["knn_distance"] = rule.kth_distances(n_node, positions)
    return columns, rule.to_json()
