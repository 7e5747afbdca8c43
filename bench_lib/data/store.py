"""The columnar graph store every dataset source produces.

A :class:`GraphStore` holds many small graphs as flat arrays, the way the
strategies and the collater want them: per-graph counts, offsets derived from
them, local edge endpoints, and node/edge/graph arrays concatenated over the
dataset. It is never built graph by graph at batch time.

Example::

    store = GraphStore.from_graphs(...)       # or a dataset source
    store.n_node[:3], store.node_ptr[:4]
    sub = store.subset(np.array([4, 1, 7]))   # vectorised gather
"""

from __future__ import annotations

import dataclasses
import functools
import mmap
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench_lib.data.ranges import exclusive_cumsum, gather_ranges

__all__ = ["GraphStore", "StoreMeta", "gather_ranges", "exclusive_cumsum", "take_rows",
           "take_ranges", "attach_file",
           "touch_mapped"]

#: Memory-mapped columns of at least this many bytes are gathered with reads from their file
#: (:func:`take_rows`) rather than through the mapping.
PREAD_BYTES = 64 << 20


#: Bytes read by one ``preadv`` at most (Linux returns at most about 2 GiB per call).
_READ_BYTES = 1 << 30


def attach_file(column: np.memmap, fd: int, path: str) -> None:
    """Give a memory-mapped column the descriptor of the very file it maps (opened with the
    mapping, so that a cache rebuilt later under the same name is never read by mistake);
    :func:`take_rows` reads large columns through it. Closed with the column."""
    import weakref

    column.__dict__["_bench_lib_fd"] = fd
    column.__dict__["_bench_lib_path"] = path
    weakref.finalize(column, os.close, fd)


def take_rows(column: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``column[index]`` (a copy) for int64 row indices.

    A large memory-mapped column (:data:`PREAD_BYTES`, opened by the cache
    with :func:`attach_file`) is read from its file instead, one ``preadv``
    per run of consecutive rows (a graph's nodes or edges are one run):
    reading through the mapping would fault in, and keep resident, whole
    large folios around every row, so that an epoch in random order over a
    store of several GB would hold all of it in memory.
    """
    if not len(index) or not _read_from_file(column):
        return column[index]
    fd = column.__dict__["_bench_lib_fd"]
    index = np.asarray(index, dtype=np.int64)
    if index.min() < 0 or index.max() >= len(column):
        raise IndexError(f"row index out of range [0, {len(column)})")
    row = column.dtype.itemsize * int(np.prod(column.shape[1:], dtype=np.int64))
    out = np.empty((len(index),) + column.shape[1:], dtype=column.dtype)
    cut = np.flatnonzero(np.diff(index) != 1) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(index)]])
    buf = memoryview(out.reshape(-1).view(np.uint8))
    for a, b, first in zip(starts.tolist(), ends.tolist(), index[starts].tolist()):
        done, want, offset = 0, (b - a) * row, column.offset + first * row
        while done < want:  # a read may return less than asked (and at most about 2 GiB)
            got = os.preadv(fd, [buf[a * row + done:a * row + min(want, done + _READ_BYTES)]],
                            offset + done)
            if got <= 0:
                raise OSError(f"{column.__dict__.get('_bench_lib_path')}: read ended at byte "
                              f"{offset + done} (truncated since it was opened?)")
            done += got
    return out


#: Ranges at least this long on average are copied slice by slice (one memcpy each) rather than
#: gathered row by row through an index array (which costs two passes over an int64 index per row).
SLICE_ROWS = 64


def take_ranges(column: np.ndarray, ptr: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The rows ``ptr[i]:ptr[i+1]`` of ``column`` for each ``i`` in ``index``, concatenated (a
    copy): ``take_rows(column, gather_ranges(ptr, index))``, one slice per range where ranges are
    long (:data:`SLICE_ROWS`; a water cluster's 70 atoms) and the column is not read from its
    file."""
    index = np.asarray(index, dtype=np.int64)
    starts, ends = ptr[index], ptr[index + 1]
    if _read_from_file(column) or int((ends - starts).sum()) < SLICE_ROWS * max(1, len(index)):
        return take_rows(column, gather_ranges(ptr, index))
    flat = column.view(np.ndarray) if isinstance(column, np.memmap) else column
    return np.concatenate([flat[a:b] for a, b in zip(starts.tolist(), ends.tolist())])


def _read_from_file(column: np.ndarray) -> bool:
    """Whether :func:`take_rows` reads ``column`` from its file rather than through the mapping."""
    return (isinstance(column, np.memmap) and column.__dict__.get("_bench_lib_fd") is not None
            and column.nbytes >= PREAD_BYTES and hasattr(os, "preadv"))


@dataclass(frozen=True)
class StoreMeta:
    """What a store is and how it was built.

    Attributes:
      name: dataset name (``nci5k``, ``qm9``...).
      source: where the inputs came from (a file path or package).
      node_feature_names / edge_feature_names: one name per feature column.
      node_feature_dims / edge_feature_dims: vocabulary size of each
        categorical column (OGB-style embeddings), empty for float features.
      target_names: one name per target column, units in the name.
      params: the build parameters (cutoff, subset size, seed...).
      n_input: number of input records read.
      skipped: one ``{"input": record index, "id": ..., "reason": ...}`` per
        input that could not be turned into a graph; never dropped silently.
      neighbours: how edges are built per batch from the positions
        (:class:`~bench_lib.data.neighbours.Neighbours` as JSON), or None
        when the store holds its edges.
    """

    name: str
    source: str
    node_feature_names: tuple[str, ...] = ()
    edge_feature_names: tuple[str, ...] = ()
    node_feature_dims: tuple[int, ...] = ()
    edge_feature_dims: tuple[int, ...] = ()
    target_names: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    n_input: int = 0
    skipped: tuple[dict[str, Any], ...] = ()
    neighbours: dict[str, Any] | None = None
    task: str | None = None
    target_classes: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StoreMeta":
        tuples = {f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple")}
        kwargs = {k: (tuple(v) if k in tuples else v) for k, v in data.items()}
        kwargs["skipped"] = tuple(dict(s) for s in kwargs.get("skipped", ()))
        return cls(**kwargs)


#: What a row of each column is.
_LEVEL = {"n_node": "graph", "n_edge": "graph", "targets": "graph", "split": "graph",
          "senders": "edge",
          "receivers": "edge", "edge_features": "edge", "node_features": "node",
          "positions": "node",
          "knn_distance": "node"}


def touch_mapped(store: "GraphStore") -> int:
    """Read one byte of every page of ``store``'s memory-mapped columns that are read through their
    mapping (those below :data:`PREAD_BYTES`; larger ones are read with ``preadv`` and never mapped
    in), so that they are resident from now on: a phase's RSS rise measured after this does not
    count the data file's pages it happened to touch first. Returns the bytes of the columns
    touched."""
    touched = 0
    for column in store.arrays().values():
        if isinstance(column, np.memmap) and 0 < column.nbytes < PREAD_BYTES:
            if column.flags.c_contiguous:
                int(np.frombuffer(column, dtype=np.uint8)[::mmap.PAGESIZE].sum())
            else:
                np.asarray(column).sum()
            touched += column.nbytes
    return touched


@dataclass(frozen=True, eq=False)
class GraphStore:
    """Many small graphs as flat columns (G graphs, N nodes, E edges in all).

    Attributes:
      n_node: int64 ``[G]`` nodes per graph.
      n_edge: int64 ``[G]`` edges per graph (directed; an undirected bond is
        two edges).
      senders: ``[E]`` source node of each edge, local to its graph
        (0 <= s < n_node of that graph); an unsigned or int32 dtype, the
        narrowest that fits (uint8 for graphs of at most 256 nodes). None
        when the edges are built per batch (``meta.neighbours``); ``n_edge``
        then holds the counts that rule gives, for planning.
      receivers: ``[E]`` target node of each edge, local to its graph, or None.
      node_features: ``[N, F_n]`` integer categorical columns (any integer
        dtype; batches widen them to int64) or float32.
      targets: float32 ``[G, T]`` graph-level regression targets.
      meta: :class:`StoreMeta`.
      edge_features: ``[E, F_e]`` or ``None``.
      positions: float32 ``[N, 3]`` (Angstrom) or ``None`` for 2D graphs.
      split: int8 ``[G]`` official split of each graph (0 train, 1 valid,
        2 test, -1 in none) or ``None`` when the dataset has none.
      knn_distance: float32 ``[N]``, in a store whose k-NN edges are built per
        batch: each atom's k-th smallest distance within its graph (inf when it
        keeps every other atom), so that batches need not select the k nearest;
        else ``None``.

    ``node_ptr``/``edge_ptr`` (int64 ``[G+1]``) are derived from the counts.
    """

    n_node: np.ndarray
    n_edge: np.ndarray
    senders: np.ndarray | None
    receivers: np.ndarray | None
    node_features: np.ndarray
    targets: np.ndarray
    meta: StoreMeta
    edge_features: np.ndarray | None = None
    positions: np.ndarray | None = None
    split: np.ndarray | None = None
    knn_distance: np.ndarray | None = None

    def __post_init__(self) -> None:
        g = len(self.n_node)
        n, e = int(np.sum(self.n_node)), int(np.sum(self.n_edge))
        checks = {
            "n_edge": (len(self.n_edge), g),
            "node_features": (len(self.node_features), n),
            "targets": (len(self.targets), g),
        }
        if (self.senders is None) != (self.receivers is None):
            raise ValueError("GraphStore.senders and .receivers must both be given or both be None")
        if self.senders is None:
            if self.meta.neighbours is None or self.positions is None:
                raise ValueError("a GraphStore without edges needs meta.neighbours and positions "
                                 "to build them per batch")
            if self.edge_features is not None:
                raise ValueError("a GraphStore whose edges are built per batch cannot hold edge "
                                 "features")
        else:
            checks["senders"] = (len(self.senders), e)
            checks["receivers"] = (len(self.receivers), e)
        if self.edge_features is not None:
            checks["edge_features"] = (len(self.edge_features), e)
        if self.positions is not None:
            checks["positions"] = (len(self.positions), n)
        if self.split is not None:
            checks["split"] = (len(self.split), g)
        if self.knn_distance is not None:
            checks["knn_distance"] = (len(self.knn_distance), n)
        for name, (got, want) in checks.items():
            if got != want:
                raise ValueError(f"GraphStore.{name} has {got} rows, expected {want}")
        if self.targets.ndim != 2:
            raise ValueError(f"GraphStore.targets must be 2-D [G, T] (got shape "
                             f"{self.targets.shape})")

    # ---- derived -------------------------------------------------------------
    @functools.cached_property
    def node_ptr(self) -> np.ndarray:
        return exclusive_cumsum(self.n_node)

    @functools.cached_property
    def edge_ptr(self) -> np.ndarray:
        return exclusive_cumsum(self.n_edge)

    @functools.cached_property
    def neighbours(self):
        """The :class:`~bench_lib.data.neighbours.Neighbours` rule that builds this store's
        edges per batch, or None when the edges are stored."""
        if self.meta.neighbours is None:
            return None
        from bench_lib.data.neighbours import Neighbours

        return Neighbours.from_json(self.meta.neighbours)

    @property
    def n_graph(self) -> int:
        return len(self.n_node)

    def __len__(self) -> int:
        return self.n_graph

    def arrays(self) -> dict[str, np.ndarray]:
        """The array columns by name (``None`` columns left out)."""
        names = ["n_node", "n_edge", "senders", "receivers", "node_features", "targets",
                 "edge_features", "positions", "split", "knn_distance"]
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    # ---- selection -------------------------------------------------------------
    def subset(self, index: np.ndarray, name: str | None = None) -> "GraphStore":
        """A new store holding graphs ``index`` in that order (vectorised)."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.n_graph):
            raise ValueError(f"subset index out of range [0, {self.n_graph}) "
                             f"(got min {index.min()}, max {index.max()})")
        nodes = gather_ranges(self.node_ptr, index)
        edges = None if self.senders is None else gather_ranges(self.edge_ptr, index)
        meta = self.meta
        if name is not None:
            meta = dataclasses.replace(meta, name=name)
        rows = {"graph": index, "node": nodes, "edge": edges}
        columns = {name: None if column is None else take_rows(column, rows[_LEVEL[name]])
                   for name, column in self.arrays().items()}
        return GraphStore.from_columns(meta, **columns)

    def graph_rows(self, name: str, index: np.ndarray) -> np.ndarray:
        """The node or edge rows of column ``name`` of graphs ``index``, in order (see
        :func:`take_ranges`)."""
        ptr = self.edge_ptr if _LEVEL[name] == "edge" else self.node_ptr
        return take_ranges(getattr(self, name), ptr, index)

    def batch_edges(self, index: np.ndarray, out_senders: np.ndarray,
                    out_receivers: np.ndarray) -> None:
        """The stored edges of graphs ``index`` as one batch's: each graph's endpoints shifted by
        its first node's place in the batch, written into int64 ``out_*`` (one row per edge). Long
        edge lists (:data:`SLICE_ROWS` per graph on average) go through one compiled pass
        (:mod:`bench_lib.data._gather_kernel`)."""
        index = np.asarray(index, dtype=np.int64)
        first_node = exclusive_cumsum(self.n_node[index])[:-1]
        n_edge = self.n_edge[index]
        if (len(index) and int(n_edge.sum()) >= SLICE_ROWS * len(index)
                and not _read_from_file(self.senders) and not _read_from_file(self.receivers)):
            from bench_lib.data._gather_kernel import gather_edges

            plain = [c.view(np.ndarray) if isinstance(c, np.memmap) else c
                     for c in (self.senders, self.receivers)]
            gather_edges(*plain, self.edge_ptr, index, first_node, out_senders, out_receivers)
            return
        edges, shift = gather_ranges(self.edge_ptr, index), np.repeat(first_node, n_edge)
        np.add(self.rows("senders", edges), shift, out=out_senders)
        np.add(self.rows("receivers", edges), shift, out=out_receivers)

    def rows(self, name: str, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` of column ``name`` (see :func:`take_rows`)."""
        return take_rows(getattr(self, name), index)

    @classmethod
    def from_columns(cls, meta: StoreMeta, **columns: np.ndarray | None) -> "GraphStore":
        """A store from named columns, as :meth:`arrays` gives them: absent edge endpoints mean
        edges built per batch."""
        return cls(**{"senders": None, "receivers": None, **columns}, meta=meta)

    @classmethod
    def from_graphs(cls, graphs: list[dict[str, np.ndarray]], meta: StoreMeta) -> "GraphStore":
        """Build from per-graph dicts (``n_node``, ``senders``, ``receivers``,
        ``node_features``, ``targets`` and optionally ``edge_features``,
        ``positions``). Meant for small hand-made graphs and loaders that
        produce graphs one at a time; arrays are concatenated once."""
        if not graphs:
            raise ValueError(f"{meta.name}: no graphs to store")

        def column(key: str, rows: str | None, dtype=None) -> np.ndarray | None:
            if key not in graphs[0]:
                return None
            first = np.asarray(graphs[0][key])
            if dtype is None:
                dtype = np.int64 if np.issubdtype(first.dtype, np.integer) else np.float32
            width = first.shape[1:] if first.ndim > 1 else ()
            parts = [np.asarray(g[key], dtype=dtype) for g in graphs]
            if rows is not None:
                parts = [p.reshape((int(g[rows]) if rows == "n_node" else len(g[rows]),) + width)
                         for p, g in zip(parts, graphs)]
            return np.concatenate(parts)

        return cls(
            n_node=np.array([int(g["n_node"]) for g in graphs], dtype=np.int64),
            n_edge=np.array([len(g["senders"]) for g in graphs], dtype=np.int64),
            senders=column("senders", None, np.int32),
                   receivers=column("receivers", None, np.int32),
            node_features=column("node_features", "n_node"),
            targets=np.stack([np.atleast_1d(np.asarray(g["targets"],
                                                       dtype=np.float32)) for g in graphs]),
            meta=meta, edge_features=column("edge_features", "senders"),
            positions=column("positions", "n_node", np.float32),
        )
