"""The batch contract: one frozen :class:`GraphBatch` every strategy produces.

Padding rule (jraph's convention, written once here): a batch holds its real
graphs first, in plan order, then **one padding graph** that owns every pad
node and every pad edge, then empty graphs (no nodes, no edges) up to the
graph slot count. Pad edges join pad nodes only, so no real node ever receives
a message from padding, and readouts, losses and statistics that use the
masks never see it. A static batch shape therefore needs at least one node
slot more than its real-node budget (``BatchShape.for_budget`` adds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from bench_lib.deps import import_dgl

__all__ = ["BatchShape", "GraphBatch"]


@dataclass(frozen=True)
class BatchShape:
    """Slot counts of a static-shape batch, padding included.

    Attributes:
      n_node: node slots (real nodes + pad nodes).
      n_edge: edge slots.
      n_graph: graph slots (real graphs + the padding graph + empty graphs).
    """

    n_node: int
    n_edge: int
    n_graph: int

    def __post_init__(self) -> None:
        for name in ("n_node", "n_edge", "n_graph"):
            if getattr(self, name) < 1 and name != "n_edge":
                raise ValueError(f"BatchShape.{name} must be >= 1 (got {getattr(self, name)})")
        if self.n_edge < 0:
            raise ValueError(f"BatchShape.n_edge must be >= 0 (got {self.n_edge})")

    @classmethod
    def for_budget(cls, max_nodes: int, max_edges: int, max_graphs: int) -> "BatchShape":
        """Shape that holds any batch within the real-item budgets: one extra
        node slot and one extra graph slot for the padding graph."""
        return cls(n_node=max_nodes + 1, n_edge=max_edges, n_graph=max_graphs + 1)


@dataclass(frozen=True, eq=False)
class GraphBatch:
    """A disjoint union of graphs plus padding (N node, E edge, G graph slots).

    Attributes:
      node_features: ``[N, F_n]`` int64 (categorical) or float32; zero on padding.
      senders: int64 ``[E]`` source node of each edge (batch-global index).
      receivers: int64 ``[E]`` target node of each edge.
      n_node: int64 ``[G]`` nodes per graph slot (real graphs, the padding
        graph, then zeros).
      n_edge: int64 ``[G]`` edges per graph slot, same layout.
      node_graph: int64 ``[N]`` graph slot of each node (pad nodes: the
        padding graph's slot).
      node_mask: bool ``[N]``, True on real nodes.
      edge_mask: bool ``[E]``, True on real edges.
      graph_mask: bool ``[G]``, True on real graphs.
      targets: float32 ``[G, T]``; zero on non-real graphs.
      graph_index: int64 ``[G]`` store index of each real graph, -1 elsewhere.
      static_shape: True when every batch of the epoch has these same N, E, G
        (it can be compiled once or captured in a CUDA graph).
      positions: float32 ``[N, 3]`` or None; zero on padding.
      edge_features: ``[E, F_e]`` or None; zero on padding.
    """

    node_features: torch.Tensor
    senders: torch.Tensor
    receivers: torch.Tensor
    n_node: torch.Tensor
    n_edge: torch.Tensor
    node_graph: torch.Tensor
    node_mask: torch.Tensor
    edge_mask: torch.Tensor
    graph_mask: torch.Tensor
    targets: torch.Tensor
    graph_index: torch.Tensor
    static_shape: bool
    positions: Optional[torch.Tensor] = None
    edge_features: Optional[torch.Tensor] = None

    @property
    def n_real_graph(self) -> int:
        return int(self.graph_mask.sum())

    @property
    def shape(self) -> BatchShape:
        return BatchShape(len(self.node_mask), len(self.edge_mask), len(self.graph_mask))

    def node_efficiency(self) -> float:
        """Real node slots / all node slots (1.0 for an empty-slot batch)."""
        return float(self.node_mask.float().mean()) if len(self.node_mask) else 1.0

    def edge_efficiency(self) -> float:
        return float(self.edge_mask.float().mean()) if len(self.edge_mask) else 1.0

    def nbytes(self) -> int:
        """Bytes of all the batch's tensors, padding included."""
        return sum(v.numel() * v.element_size() for v in self.__dict__.values()
                   if isinstance(v, torch.Tensor))

    def padding_bytes(self) -> int:
        """Bytes of the node and edge tensors that hold padding."""
        pad_nodes = int((~self.node_mask).sum())
        pad_edges = int((~self.edge_mask).sum())
        per_node = sum(t[0].numel() * t.element_size() for t in
                       (self.node_features, self.positions, self.node_graph, self.node_mask)
                       if t is not None and len(t))
        per_edge = sum(t[0].numel() * t.element_size() for t in
                       (self.senders, self.receivers, self.edge_features, self.edge_mask)
                       if t is not None and len(t))
        return pad_nodes * per_node + pad_edges * per_edge

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "GraphBatch":
        """The batch on ``device`` (``non_blocking``: asynchronous copies from pinned memory)."""
        moved = {k: (v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v)
                 for k, v in self.__dict__.items()}
        return GraphBatch(**moved)

    def pin_memory(self) -> "GraphBatch":
        """The batch in page-locked host memory, so that copies to a GPU can run
        asynchronously (``torch.utils.data``'s ``pin_memory`` calls this)."""
        return GraphBatch(**{k: (v.pin_memory() if isinstance(v, torch.Tensor) else v)
                             for k, v in self.__dict__.items()})

    def to_dgl(self):
        """A batched ``DGLGraph`` of the real graphs plus the one padding graph.

        ``batch_num_nodes``/``batch_num_edges`` list each real graph, then the
        padding graph (possibly empty); empty graph slots after it are left
        out. Features go to ``ndata['feat']``, ``ndata['pos']``,
        ``ndata['mask']``, ``edata['feat']``, ``edata['mask']``.
        """
        dgl = import_dgl()
        n_keep = self.n_real_graph + 1
        g = dgl.graph((self.senders, self.receivers), num_nodes=len(self.node_mask))
        g.set_batch_num_nodes(self.n_node[:n_keep])
        g.set_batch_num_edges(self.n_edge[:n_keep])
        g.ndata["feat"] = self.node_features
        g.ndata["mask"] = self.node_mask
        if self.positions is not None:
            g.ndata["pos"] = self.positions
        if self.edge_features is not None:
            g.edata["feat"] = self.edge_features
        g.edata["mask"] = self.edge_mask
        return g
