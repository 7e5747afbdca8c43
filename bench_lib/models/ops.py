"""Message-passing primitives on a :class:`GraphBatch`, in two backends.

``dgl``: the batch becomes a ``DGLGraph`` (``GraphBatch.to_dgl``) and the
primitives are DGL's fused kernels (``dgl.ops``). PyPI's DGL is CPU-only.

``torch``: plain torch ops (``index_select``/``index_add_``) on the batch's
own tensors. Shapes follow the batch's slots, so a static-shape batch gives
static shapes (compile once, capture in a CUDA graph), it runs on any device,
and it needs no DGL.

Both return graph-level tensors with one row per graph *slot* ``[G, F]``
(rows past the real graphs are padding and must be masked by the caller).
"""

from __future__ import annotations

import torch

from bench_lib.deps import import_dgl
from bench_lib.strategies.batch import GraphBatch

__all__ = ["BACKENDS", "graph_ops", "TorchOps", "DGLOps"]

BACKENDS = ("torch", "dgl")


class TorchOps:
    """Primitives with plain torch ops."""

    def __init__(self, batch: GraphBatch) -> None:
        self.batch = batch
        self.n_node_slots = batch.node_mask.shape[0]
        self.n_graph_slots = batch.graph_mask.shape[0]

    def edge_vectors(self, pos: torch.Tensor) -> torch.Tensor:
        """``pos[sender] - pos[receiver]``, ``[E, 3]``."""
        return pos.index_select(0, self.batch.senders) - pos.index_select(0, self.batch.receivers)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """``x[sender]`` of every edge, ``[E, ...]``."""
        return x.index_select(0, self.batch.senders)

    def scatter_sum(self, msg: torch.Tensor) -> torch.Tensor:
        """``out[i] = sum over edges j->i of msg[j->i]``, ``[N, ...]``."""
        return torch.zeros((self.n_node_slots,) + msg.shape[1:], dtype=msg.dtype,
                           device=msg.device).index_add_(
            0, self.batch.receivers, msg)

    def u_mul_e_sum(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``out[i] = sum over edges j->i of x[j] * w[j->i]`` (trailing dimensions broadcast)."""
        return self.scatter_sum(self.gather(x) * w)

    def u_add_e_relu_sum(self, x: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        """``out[i] = sum over edges j->i of relu(x[j] + e[j->i])`` (GINE)."""
        msg = self.gather(x)
        return self.scatter_sum(torch.relu(msg if e is None else msg + e))

    def sum_nodes(self, h: torch.Tensor) -> torch.Tensor:
        """Per-graph-slot sum, ``[G, F]``."""
        return torch.zeros(self.n_graph_slots, h.shape[1], dtype=h.dtype,
                           device=h.device).index_add_(
            0, self.batch.node_graph, h)


class DGLOps:
    """The same primitives through DGL (CPU)."""

    def __init__(self, batch: GraphBatch) -> None:
        self.dgl = import_dgl()
        self.batch = batch
        self.graph = batch.to_dgl()
        self.n_graph_slots = batch.graph_mask.shape[0]

    def edge_vectors(self, pos: torch.Tensor) -> torch.Tensor:
        return self.dgl.ops.u_sub_v(self.graph, pos, pos)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return self.dgl.ops.copy_u(self.graph, x)

    def scatter_sum(self, msg: torch.Tensor) -> torch.Tensor:
        return self.dgl.ops.copy_e_sum(self.graph, msg)

    def u_mul_e_sum(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.dgl.ops.u_mul_e_sum(self.graph, x, w)

    def u_add_e_relu_sum(self, x: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        msg = (self.dgl.ops.copy_u(self.graph, x) if e is None
               else self.dgl.ops.u_add_e(self.graph, x, e))
        return self.dgl.ops.copy_e_sum(self.graph, torch.relu(msg))

    def sum_nodes(self, h: torch.Tensor) -> torch.Tensor:
        per_graph = self.dgl.ops.segment_reduce(self.graph.batch_num_nodes(), h, "sum")
        out = h.new_zeros(self.n_graph_slots, h.shape[1])
        return torch.cat([per_graph, out[per_graph.shape[0]:]], dim=0)


def graph_ops(batch: GraphBatch, backend: str):
    """The primitives for ``backend`` (``torch`` or ``dgl``) on ``batch``."""
    if backend == "torch":
        return TorchOps(batch)
    if backend == "dgl":
        if batch.senders.device.type != "cpu":
            raise ValueError(
                "backend 'dgl' runs on the CPU only (PyPI's DGL); use backend='torch' on "
                f"{batch.senders.device}")
        return DGLOps(batch)
    raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
