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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GraphStore", "StoreMeta", "gather_ranges", "exclusive_cumsum"]


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

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StoreMeta":
        tuples = {f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple")}
        kwargs = {k: (tuple(v) if k in tuples else v) for k, v in data.items()}
        kwargs["skipped"] = tuple(dict(s) for s in kwargs.get("skipped", ()))
        return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class GraphStore:
    """Many small graphs as flat columns (G graphs, N nodes, E edges in all).

    Attributes:
      n_node: int64 ``[G]`` nodes per graph.
      n_edge: int64 ``[G]`` edges per graph (directed; an undirected bond is
        two edges).
      senders: ``[E]`` source node of each edge, local to its graph
        (0 <= s < n_node of that graph); an unsigned or int32 dtype, the
        narrowest that fits (uint8 for graphs of at most 256 nodes).
      receivers: ``[E]`` target node of each edge, local to its graph.
      node_features: ``[N, F_n]`` int64 categorical columns or float32.
      targets: float32 ``[G, T]`` graph-level regression targets.
      meta: :class:`StoreMeta`.
      edge_features: ``[E, F_e]`` or ``None``.
      positions: float32 ``[N, 3]`` (Angstrom) or ``None`` for 2D graphs.
      split: int8 ``[G]`` official split of each graph (0 train, 1 valid,
        2 test, -1 in none) or ``None`` when the dataset has none.

    ``node_ptr``/``edge_ptr`` (int64 ``[G+1]``) are derived from the counts.
    """

    n_node: np.ndarray
    n_edge: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    node_features: np.ndarray
    targets: np.ndarray
    meta: StoreMeta
    edge_features: np.ndarray | None = None
    positions: np.ndarray | None = None
    split: np.ndarray | None = None

    def __post_init__(self) -> None:
        g = len(self.n_node)
        n, e = int(np.sum(self.n_node)), int(np.sum(self.n_edge))
        checks = {
            "n_edge": (len(self.n_edge), g),
            "senders": (len(self.senders), e),
            "receivers": (len(self.receivers), e),
            "node_features": (len(self.node_features), n),
            "targets": (len(self.targets), g),
        }
        if self.edge_features is not None:
            checks["edge_features"] = (len(self.edge_features), e)
        if self.positions is not None:
            checks["positions"] = (len(self.positions), n)
        if self.split is not None:
            checks["split"] = (len(self.split), g)
        for name, (got, want) in checks.items():
            if got != want:
                raise ValueError(f"GraphStore.{name} has {got} rows, expected {want}")
        if self.targets.ndim != 2:
            raise ValueError(f"GraphStore.targets must be 2-D [G, T] (got shape {self.targets.shape})")

    # ---- derived -------------------------------------------------------------
    @functools.cached_property
    def node_ptr(self) -> np.ndarray:
        return exclusive_cumsum(self.n_node)

    @functools.cached_property
    def edge_ptr(self) -> np.ndarray:
        return exclusive_cumsum(self.n_edge)

    @property
    def n_graph(self) -> int:
        return len(self.n_node)

    def __len__(self) -> int:
        return self.n_graph

    def arrays(self) -> dict[str, np.ndarray]:
        """The array columns by name (``None`` columns left out)."""
        names = ["n_node", "n_edge", "senders", "receivers", "node_features", "targets",
                 "edge_features", "positions", "split"]
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    # ---- selection -------------------------------------------------------------
    def subset(self, index: np.ndarray, name: str | None = None) -> "GraphStore":
        """A new store holding graphs ``index`` in that order (vectorised)."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.n_graph):
            raise ValueError(f"subset index out of range [0, {self.n_graph}) "
                             f"(got min {index.min()}, max {index.max()})")
        nodes = gather_ranges(self.node_ptr, index)
        edges = gather_ranges(self.edge_ptr, index)
        meta = self.meta
        if name is not None:
            meta = dataclasses.replace(meta, name=name)
        return GraphStore(
            n_node=self.n_node[index], n_edge=self.n_edge[index],
            senders=self.senders[edges], receivers=self.receivers[edges],
            node_features=self.node_features[nodes], targets=self.targets[index],
            meta=meta,
            edge_features=None if self.edge_features is None else self.edge_features[edges],
            positions=None if self.positions is None else self.positions[nodes],
            split=None if self.split is None else self.split[index],
        )

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
            senders=column("senders", None, np.int32), receivers=column("receivers", None, np.int32),
            node_features=column("node_features", "n_node"),
            targets=np.stack([np.atleast_1d(np.asarray(g["targets"], dtype=np.float32)) for g in graphs]),
            meta=meta, edge_features=column("edge_features", "senders"),
            positions=column("positions", "n_node", np.float32),
        )
