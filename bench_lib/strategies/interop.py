"""PyTorch Geometric and DGL batches as bench_lib's :class:`GraphBatch`, and the per-graph objects
they batch.

The models take a :class:`GraphBatch`; a batch built by PyG's ``Batch.from_data_list`` or DGL's
``dgl.batch`` becomes one here without copying where the layouts allow (PyG's ``edge_index`` rows
and ``batch`` vector, DGL's node and edge data are used as they are; the per-graph counts and the
masks are new). Neither library is imported until a function here is called, so bench_lib imports
without them.

Layout of the result (the batch contract, :mod:`bench_lib.strategies.batch`): the real graphs, then
the padding graph (empty for an unpadded batch), then empty graph slots. A batch padded by
:class:`bench_lib.loaders.PygPadCollater` or :class:`bench_lib.loaders.DglPadCollater` carries its
masks, which are kept.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from bench_lib.deps import quiet_jit_deprecation
from bench_lib.strategies.batch import GraphBatch

__all__ = ["graph_batch_from_pyg", "graph_batch_from_dgl", "pyg_graphs", "dgl_graphs", "import_pyg"]


def import_pyg():
    """``torch_geometric``, or an ImportError that says how to get it.

    PyG 2.8 calls ``torch.jit.script`` at import, which torch 2.14 and newer deprecate with a
    FutureWarning each process would print; that one warning is silenced here. The import also makes
    torch's inductor folder (``$TMPDIR/torchinductor_<user>``), empty: one it made is removed again,
    so that a suite leaves no temporary folder behind."""
    import getpass
    import tempfile

    try:
        mine = f"torchinductor_{getpass.getuser()}"  # torch's name for this user's folder
    except (KeyError, OSError):  # no user name (a container): any folder the import made
        mine = "torchinductor_*"
    before = set(Path(tempfile.gettempdir()).glob(mine))
    try:
        with quiet_jit_deprecation():
            import torch_geometric  # noqa: F401
            from torch_geometric.data import Batch, Data  # noqa: F401
    except ImportError as err:  # pragma: no cover - a dependency of the project
        raise ImportError(f"PyTorch Geometric is needed here: pip install 'torch_geometric>=2.6' "
                          f"({err})") from err
    for made in set(Path(tempfile.gettempdir()).glob(mine)) - before:
        with contextlib.suppress(OSError):
            made.rmdir()  # only if still empty
    return torch_geometric


def _targets(y: torch.Tensor | None, n_graph: int, g_slots: int) -> torch.Tensor:
    """``[g_slots, T]`` float32 targets: the first ``n_graph`` rows of ``y``, zeros after them."""
    if y is None:
        return torch.zeros((g_slots, 1), dtype=torch.float32)
    width = y.shape[-1] if y.dim() >= 2 else 1  # PyG's [b, T] or [b]; DGL's stacked [b, 1, T]
    out = torch.zeros((g_slots, width), dtype=torch.float32)
    out[:n_graph] = y[:n_graph].reshape(n_graph, width).to(torch.float32)
    return out


def _graph_batch(x, senders, receivers, n_node_real, n_edge_real, node_graph, node_mask, edge_mask,
                 g_slots, n_real, y, graph_index, static, positions, edge_features) -> GraphBatch:
    """A :class:`GraphBatch` whose first ``len(n_node_real)`` graph slots are given (the real graphs
    and, when padded, the padding graph); slots up to ``g_slots`` are empty graphs."""
    n_node = torch.zeros(g_slots, dtype=torch.int64)
    n_edge = torch.zeros(g_slots, dtype=torch.int64)
    n_node[:len(n_node_real)] = n_node_real
    n_edge[:len(n_edge_real)] = n_edge_real
    graph_mask = torch.zeros(g_slots, dtype=torch.bool)
    graph_mask[:n_real] = True
    index = torch.full((g_slots,), -1, dtype=torch.int64)
    if graph_index is not None:
        index[:n_real] = torch.as_tensor(np.asarray(graph_index, dtype=np.int64))
    if x.dtype in (torch.int32, torch.int16, torch.uint8, torch.int8):
        x = x.to(torch.int64)
    return GraphBatch(node_features=x, senders=senders, receivers=receivers, n_node=n_node,
                      n_edge=n_edge,
                      node_graph=node_graph, node_mask=node_mask, edge_mask=edge_mask,
                      graph_mask=graph_mask,
                      targets=_targets(y, n_real, g_slots), graph_index=index, static_shape=static,
                      positions=positions, edge_features=edge_features)


def graph_batch_from_pyg(batch, graph_index=None, node_features: str = "x", target: str = "y",
                         static_shape: bool | None = None) -> GraphBatch:
    """A PyG ``Batch`` (``Batch.from_data_list``, or padded by ``PygPadCollater``) as a
    :class:`GraphBatch`.

    ``x`` (``node_features``), ``edge_index``, ``batch`` and ``pos``/``edge_attr`` when present are
    used without copying; ``y`` (``target``) becomes the float32 ``[G, T]`` targets.
    ``graph_index``: store indices of the real graphs (-1 when None). ``static_shape``: default,
    whether the batch was padded.
    """
    padded = getattr(batch, "graph_mask", None) is not None
    g = int(batch.num_graphs)
    x = getattr(batch, node_features)
    n = x.shape[0]
    senders, receivers = batch.edge_index[0], batch.edge_index[1]
    e = senders.shape[0]
    node_graph = batch.batch if batch.batch is not None else torch.zeros(n, dtype=torch.int64)
    if padded:
        n_real, g_slots = int(batch.graph_mask.sum()), g
        node_mask, edge_mask = batch.node_mask, batch.edge_mask
    else:  # unpadded: one empty padding graph after the real ones, as bench_lib's collate gives
        n_real, g_slots = g, g + 1
        node_mask, edge_mask = torch.ones(n, dtype=torch.bool), torch.ones(e, dtype=torch.bool)
    counts_n = torch.diff(batch.ptr) if getattr(batch, "ptr", None) is not None else \
        torch.bincount(node_graph, minlength=g)
    counts_e = (torch.bincount(node_graph[senders], minlength=g) if e
                else torch.zeros(g, dtype=torch.int64))
    y = getattr(batch, target, None)  # the padded batch's zero rows are cut by _targets
    return _graph_batch(x, senders, receivers, counts_n, counts_e, node_graph, node_mask, edge_mask,
                        g_slots,
                        n_real, y, graph_index, padded if static_shape is None else static_shape,
                        getattr(batch, "pos", None), getattr(batch, "edge_attr", None))


def graph_batch_from_dgl(graph, labels=None, graph_mask=None, graph_index=None,
                         node_features: str = "x",
                         static_shape: bool | None = None) -> GraphBatch:
    """A batched ``DGLGraph`` (``dgl.batch``, or padded by ``DglPadCollater``) and its ``labels`` as
    a :class:`GraphBatch`. Node data ``x`` (``node_features``) and ``pos``, edge data ``edge_attr``
    and the masks ``node_mask``/``edge_mask`` when present are used without copying; ``graph_mask``
    (from the pad collater) marks the real graphs."""
    counts_n, counts_e = graph.batch_num_nodes(), graph.batch_num_edges()
    senders, receivers = graph.edges(order="eid")
    n, e, g = graph.num_nodes(), graph.num_edges(), len(counts_n)
    node_graph = torch.repeat_interleave(torch.arange(g, dtype=torch.int64), counts_n,
                                         output_size=n)
    if graph_mask is not None:
        n_real, g_slots = int(graph_mask.sum()), g
        node_mask, edge_mask = graph.ndata["node_mask"], graph.edata["edge_mask"]
    else:
        n_real, g_slots = g, g + 1
        node_mask, edge_mask = torch.ones(n, dtype=torch.bool), torch.ones(e, dtype=torch.bool)
    y = None if labels is None else torch.as_tensor(labels)
    return _graph_batch(graph.ndata[node_features], senders, receivers, counts_n, counts_e,
                        node_graph,
                        node_mask, edge_mask, g_slots, n_real, y, graph_index,
                        graph_mask is not None if static_shape is None else static_shape,
                        graph.ndata.get("pos"), graph.edata.get("edge_attr"))


def _one_graph_arrays(store, i: int) -> dict:
    """Graph ``i`` of ``store`` as tensors (its own node numbering), from bench_lib's collater
    (which also builds the edges of a store whose edges are made per batch)."""
    from bench_lib.strategies.collate import collate

    one = collate(store, np.array([i], dtype=np.int64))
    n, e = int(one.n_node[0]), int(one.n_edge[0])
    out = {"x": one.node_features[:n].clone(),
           "edge_index": torch.stack([one.senders[:e], one.receivers[:e]]),
           "y": one.targets[:1].clone()}
    if one.positions is not None:
        out["pos"] = one.positions[:n].clone()
    if one.edge_features is not None:
        out["edge_attr"] = one.edge_features[:e].clone()
    return out


def pyg_graphs(store, indices=None) -> list:
    """One ``torch_geometric.data.Data`` per graph of ``store`` (``x``, ``edge_index``, ``y`` ``[1,
    T]``, ``pos`` and ``edge_attr`` when the store has them): a dataset as a PyG user holds it in
    memory."""
    import_pyg()
    from torch_geometric.data import Data

    idx = range(store.n_graph) if indices is None else indices
    return [Data(**_one_graph_arrays(store, int(i))) for i in idx]


def dgl_graphs(store, indices=None) -> list:
    """``(DGLGraph, label [1, T])`` per graph of ``store``, node data ``x`` and ``pos``, edge data
    ``edge_attr``: the items a ``GraphDataLoader`` batches."""
    from bench_lib.deps import import_dgl

    dgl = import_dgl()
    out = []
    for i in (range(store.n_graph) if indices is None else indices):
        a = _one_graph_arrays(store, int(i))
        g = dgl.graph((a["edge_index"][0], a["edge_index"][1]), num_nodes=len(a["x"]))
        g.ndata["x"] = a["x"]
        if "pos" in a:
            g.ndata["pos"] = a["pos"]
        if "edge_attr" in a:
            g.edata["edge_attr"] = a["edge_attr"]
        out.append((g, a["y"]))
    return out
