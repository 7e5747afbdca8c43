"""GIN for 2D molecular graphs (GINE with OGB-style atom and bond embeddings).

Each categorical atom (bond) feature column has its own embedding table and
the embeddings are summed (OGB's AtomEncoder/BondEncoder). A layer computes
``h_i' = MLP((1 + eps) h_i + sum_{j->i} relu(h_j + e_ji))``, with a residual
connection. ``norm``: ``layer`` (LayerNorm, per node; the default),
``batch`` (BatchNorm with statistics over the real nodes only, OGB's
baselines' choice) or ``none`` (:mod:`bench_lib.models.norm`): padding never
enters a statistic. ``virtual_node`` (OGB's gin-virtual): each graph has a
virtual node, added to its nodes before every layer and recomputed after
every layer but the last from their sum (OGB's non-residual update); the
padding graph's virtual node reaches pad nodes only. The GINE layers
themselves are residual with the norm after their MLP (OGB's are not
residual). The readout is the masked sum or mean over each graph's real
nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench_lib.models.base import Model
from bench_lib.models.norm import NORMS, make_norm
from bench_lib.models.ops import graph_ops
from bench_lib.models.registry import MODELS
from bench_lib.strategies.batch import GraphBatch

__all__ = ["GINConfig", "GIN", "CategoricalEncoder"]


@dataclass(frozen=True)
class GINConfig:
    hidden: int = 128
    layers: int = 4
    readout: str = "sum"  # or "mean"
    dropout: float = 0.0
    norm: str = "layer"  # or "batch" (over real nodes only), "none"
    virtual_node: bool = False

    def __post_init__(self) -> None:
        if self.readout not in ("sum", "mean"):
            raise ValueError(f"GINConfig.readout must be 'sum' or 'mean' (got {self.readout!r})")
        if self.norm not in NORMS:
            raise ValueError(f"GINConfig.norm must be one of {', '.join(map(repr, NORMS))} (got "
                             f"{self.norm!r})")


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
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, 2 * cfg.hidden), nn.ReLU(),
                                 nn.Linear(2 * cfg.hidden, cfg.hidden))
        self.norm = make_norm(cfg.norm, cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, batch: GraphBatch, ops) -> torch.Tensor:
        e = self.bond(batch.edge_features) if self.bond is not None else None
        agg = ops.u_add_e_relu_sum(h, e)
        return h + self.dropout(torch.relu(self.norm(self.mlp((1 + self.eps) * h + agg),
                                                     batch.node_mask)))


class VirtualNode(nn.Module):
    """OGB's virtual-node update: ``vn <- MLP(sum of the graph's real nodes + vn)`` (Linear,
    norm, ReLU twice; OGB's default, not its residual variant)."""

    def __init__(self, cfg: GINConfig) -> None:
        super().__init__()
        self.lin1, self.lin2 = (nn.Linear(cfg.hidden, 2 * cfg.hidden),
                                nn.Linear(2 * cfg.hidden, cfg.hidden))
        self.norm1, self.norm2 = (make_norm(cfg.norm, 2 * cfg.hidden),
                                  make_norm(cfg.norm, cfg.hidden))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, vn: torch.Tensor, h: torch.Tensor, batch: GraphBatch, ops) -> torch.Tensor:
        x = ops.sum_nodes(h * batch.node_mask[:, None]) + vn
        x = torch.relu(self.norm1(self.lin1(x), batch.graph_mask))
        x = torch.relu(self.norm2(self.lin2(x), batch.graph_mask))
        return self.dropout(x)


@MODELS.register
class GIN(Model):
    """``forward(batch, backend) -> [G, T]`` predictions per graph slot."""

    name = "gin"
    Config = GINConfig
    needs = ("node_features",)

    def __init__(self, node_dims: tuple[int, ...], edge_dims: tuple[int, ...], n_targets: int = 1,
                 cfg: GINConfig = GINConfig()) -> None:
        super().__init__(n_targets)
        if not node_dims:
            raise ValueError("GIN needs categorical node features (node_feature_dims is empty)")
        self.cfg = cfg
        self.atom = CategoricalEncoder(node_dims, cfg.hidden)
        self.layers = nn.ModuleList(GINLayer(cfg, edge_dims) for _ in range(cfg.layers))
        if cfg.virtual_node:
            # OGB: an embedding initialised to zero
            self.vn_init = nn.Parameter(torch.zeros(cfg.hidden))
            self.vn_updates = nn.ModuleList(VirtualNode(cfg) for _ in range(cfg.layers - 1))
        self.head = nn.Linear(cfg.hidden, n_targets)

    @classmethod
    def from_store(cls, store, cfg: GINConfig, n_targets: int = 1) -> "GIN":
        edge_dims = store.meta.edge_feature_dims if store.edge_features is not None else ()
        return cls(tuple(store.meta.node_feature_dims), tuple(edge_dims), n_targets, cfg)

    def forward(self, batch: GraphBatch, backend: str = "torch", ops=None) -> torch.Tensor:
        """Predictions per graph slot; ``ops``: the batch's operators from
        :func:`~bench_lib.models.ops.graph_ops`, when already built (the
        harness builds them with the batch), else built here for ``backend``.
        The sum readout is divided by the training graphs' mean node count (a
        constant), so that the initial predictions sit near the target mean."""
        ops = ops if ops is not None else graph_ops(batch, backend)
        h = self.atom(batch.node_features)
        vn = self.vn_init.expand(batch.graph_mask.shape[0], -1) if self.cfg.virtual_node else None
        for k, layer in enumerate(self.layers):
            if vn is not None:
                h = h + vn.index_select(0, batch.node_graph)
            h_in = h
            h = layer(h, batch, ops)
            if vn is not None and k < len(self.layers) - 1:
                vn = self.vn_updates[k](vn, h_in, batch, ops)
        h = h * batch.node_mask[:, None]
        pooled = ops.sum_nodes(h)
        if self.cfg.readout == "mean":
            pooled = pooled / batch.n_node.clamp(min=1).to(pooled.dtype)[:, None]
        else:
            pooled = pooled / self.mean_nodes
        return self.denormalise(self.head(pooled))
