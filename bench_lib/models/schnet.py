"""SchNet (Schütt et al. 2017) on 3D positions, the seed paper's model.

Atom embeddings, then interaction blocks of continuous-filter convolutions:
the filter of edge j->i is a small network of the Gaussian expansion of the
distance ``|r_j - r_i|``, multiplied by a cosine cutoff, and the message is
``x_j * W(d_ij)``. An atom-wise network gives one number per atom; the
energy is the sum over the graph's atoms, with a per-atom standardisation
(``E = sum_i (std * o_i + mean)``; ``mean``/``std`` of energy per atom over
the training graphs).

Padding: pad edges have their distance set to the cutoff, so their filters
are exactly zero (:mod:`bench_lib.models.geometry`); pad nodes sit in the
padding graph, whose row the loss masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from bench_lib.models.base import Model
from bench_lib.models.geometry import cosine_cutoff, edge_geometry
from bench_lib.models.ops import graph_ops
from bench_lib.models.registry import MODELS
from bench_lib.strategies.batch import GraphBatch

__all__ = ["SchNetConfig", "SchNet", "shifted_softplus"]


@dataclass(frozen=True)
class SchNetConfig:
    """Defaults from the seed paper's code (hydronet-gnn)."""

    hidden: int = 100
    filters: int = 100
    interactions: int = 4
    gaussians: int = 25
    cutoff: float = 6.0
    max_z: int = 100


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.softplus(x) - math.log(2.0)


class SSP(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shifted_softplus(x)


class Interaction(nn.Module):
    def __init__(self, cfg: SchNetConfig) -> None:
        super().__init__()
        self.filter_net = nn.Sequential(nn.Linear(cfg.gaussians, cfg.filters), SSP(),
                                        nn.Linear(cfg.filters, cfg.filters))
        self.to_filters = nn.Linear(cfg.hidden, cfg.filters, bias=False)
        self.out = nn.Sequential(nn.Linear(cfg.filters, cfg.hidden), SSP(),
                                 nn.Linear(cfg.hidden, cfg.hidden))

    def forward(self, h: torch.Tensor, rbf: torch.Tensor, envelope: torch.Tensor,
                ops) -> torch.Tensor:
        w = self.filter_net(rbf) * envelope
        return h + self.out(ops.u_mul_e_sum(self.to_filters(h), w))


@MODELS.register
class SchNet(Model):
    """``forward(batch, backend) -> [G, 1]`` energies per graph slot."""

    name = "schnet"
    Config = SchNetConfig
    needs = ("positions",)
    per_atom_target = True

    def __init__(self, cfg: SchNetConfig = SchNetConfig(), n_targets: int = 1) -> None:
        super().__init__(n_targets)
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.max_z, cfg.hidden)
        self.interactions = nn.ModuleList(Interaction(cfg) for _ in range(cfg.interactions))
        self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden // 2), SSP(),
                                  nn.Linear(cfg.hidden // 2, n_targets))
        centers = torch.linspace(0.0, cfg.cutoff, cfg.gaussians)
        self.register_buffer("centers", centers)
        spacing = cfg.cutoff / max(cfg.gaussians - 1, 1)
        self.gamma = 0.5 / spacing**2

    def forward(self, batch: GraphBatch, backend: str = "torch", ops=None) -> torch.Tensor:
        """Predictions per graph slot; ``ops``: the batch's operators from
        :func:`~bench_lib.models.ops.graph_ops`, when already built (the
        harness builds them with the batch), else built here for ``backend``."""
        ops = ops if ops is not None else graph_ops(batch, backend)
        z = batch.node_features[:, 0].long()
        _, d = edge_geometry(batch, ops, self.cfg.cutoff)
        rbf = torch.exp(-self.gamma * (d[:, None] - self.centers[None, :]) ** 2)
        envelope = cosine_cutoff(d, self.cfg.cutoff)[:, None]
        h = self.embed(z)
        for block in self.interactions:
            h = block(h, rbf, envelope, ops)
        per_atom = self.denormalise(self.head(h))
        per_atom = per_atom * batch.node_mask[:, None]
        return ops.sum_nodes(per_atom)
