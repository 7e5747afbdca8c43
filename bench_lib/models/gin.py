"""GIN for 2D molecular graphs (GINE with OGB-style atom and bond embeddings).

Each categorical atom (bond) feature column has its own embedding table and
the embeddings are summed (OGB's AtomEncoder/BondEncoder). A layer computes
``h_i' = MLP((1 + eps) h_i + sum_{j->i} relu(h_j + e_ji))``, with a residual
connection. Normalisation is per node (LayerNorm), never over the batch:
BatchNorm over padded nodes would let padding and neighbours in the batch
change a graph's output. The readout is the masked sum or mean over each
graph's real nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench_lib.models.ops import graph_ops
from bench_lib.strategies.batch import GraphBatch

__all__ = ["GINConfig", "GIN", "CategoricalEncoder"]


@dataclass(frozen=True)
class GINConfig:
    hidden: int = 128
    layers: int = 4
    readout: str = "sum"  # or "mean"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.readout not in ("sum", "mean"):
            raise ValueError(f"GINConfig.readout must be 'sum' or 'mean' (got {self.readout!r})")


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per categorical column (OGB's Atom/BondEncoder)."""

    def __init__(self, dims: tuple[int, ...], hidden: int) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(d + 1, hidden) for d in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.tables[0](x[:, 0].long())
        for k in range(1, len(self.tables)):
            out = out + self.tables[k](x[:, k].long())
        return out


class GINLayer(nn.Module):
    def __init__(self, cfg: GINConfig, edge_dims: tuple[int, ...]) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.bond = CategoricalEncoder(edge_dims, cfg.hidden) if edge_dims else None
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, 2 * cfg.hidden), nn.ReLU(), nn.Linear(2 * cfg.hidden, cfg.hidden))
        self.norm = nn.LayerNorm(cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, batch: GraphBatch, ops) -> torch.Tensor:
        e = self.bond(batch.edge_features) if self.bond is not None else None
        agg = ops.u_add_e_relu_sum(h, e)
        return h + self.dropout(torch.relu(self.norm(self.mlp((1 + self.eps) * h + agg))))


class GIN(nn.Module):
    """``forward(batch, backend) -> [G, T]`` predictions per graph slot."""

    def __init__(self, node_dims: tuple[int, ...], edge_dims: tuple[int, ...], n_targets: int = 1,
                 cfg: GINConfig = GINConfig()) -> None:
        super().__init__()
        if not node_dims:
            raise ValueError("GIN needs categorical node features (node_feature_dims is empty)")
        self.cfg = cfg
        self.atom = CategoricalEncoder(node_dims, cfg.hidden)
        self.layers = nn.ModuleList(GINLayer(cfg, edge_dims) for _ in range(cfg.layers))
        self.head = nn.Linear(cfg.hidden, n_targets)
        self.register_buffer("target_mean", torch.zeros(n_targets))
        self.register_buffer("target_std", torch.ones(n_targets))
        self.register_buffer("mean_nodes", torch.ones(1))

    def set_target_stats(self, mean: torch.Tensor, std: torch.Tensor, mean_nodes: float = 1.0) -> None:
        """Mean and std of each target over the real training graphs, and their
        mean node count (the sum readout is divided by it, a constant, so that
        the initial predictions sit near the target mean)."""
        self.target_mean.copy_(torch.as_tensor(mean).reshape(-1))
        self.target_std.copy_(torch.as_tensor(std).reshape(-1))
        self.mean_nodes.fill_(float(mean_nodes))

    def forward(self, batch: GraphBatch, backend: str = "torch", ops=None) -> torch.Tensor:
        """Predictions per graph slot; ``ops``: the batch's operators from
        :func:`~bench_lib.models.ops.graph_ops`, when already built (the
        harness builds them with the batch), else built here for ``backend``."""
        ops = ops if ops is not None else graph_ops(batch, backend)
        h = self.atom(batch.node_features)
        for layer in self.layers:
            h = layer(h, batch, ops)
        h = h * batch.node_mask[:, None]
        pooled = ops.sum_nodes(h)
        if self.cfg.readout == "mean":
            pooled = pooled / batch.n_node.clamp(min=1).to(pooled.dtype)[:, None]
        else:
            pooled = pooled / self.mean_nodes
        return self.head(pooled) * self.target_std + self.target_mean
