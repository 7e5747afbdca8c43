"""PaiNN (Schütt, Unke, Gastegger 2021, arXiv 2102.03150) on 3D positions.

Each atom carries scalar features ``s_i`` (``[F]``) and vector features
``v_i`` (``[3, F]``, zero at the start). An interaction is a message block
and an update block, both residual (the paper's equations 7-9 and 10-12):

- message: ``phi(s_j) * W(r_ij)`` (``[3F]``, ``W`` a linear map of ``rbf``
  sinc radial functions times a cosine cutoff) is split into ``a, b, c``;
  ``ds_i = sum_j a``, ``dv_i = sum_j v_j * b + c * r_ij / |r_ij|``;
- update: ``U v_i``, ``V v_i`` (linear over features, no bias); ``(a_vv,
  a_sv, a_ss) = MLP(s_i, |V v_i|)``; ``dv_i = a_vv * U v_i``, ``ds_i = a_sv
  <U v_i, V v_i> + a_ss``.

A two-layer network of ``s_i`` gives each atom's contribution, summed over
the graph's real atoms, with a per-atom standardisation as in SchNet.

Padding: pad edges have distance = cutoff and a zero direction
(:mod:`bench_lib.models.geometry`), so ``W`` and with it every message of a
pad edge is exactly zero; a pad node receives messages only from pad edges,
so its vector features stay exactly zero; its scalars are masked at the
readout. ``|V v|`` is ``sqrt(sum + 1e-8)``, finite at ``v = 0``.
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

__all__ = ["PaiNNConfig", "PaiNN"]


@dataclass(frozen=True)
class PaiNNConfig:
    """Defaults from the paper's QM9 set-up (128 features, 3 interactions, 20 radial functions, 5
    Å)."""

    hidden: int = 128
    interactions: int = 3
    rbf: int = 20
    cutoff: float = 5.0
    max_z: int = 100

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.interactions < 1 or self.rbf < 1 or not self.cutoff > 0:
            raise ValueError(f"PaiNNConfig: hidden, interactions and rbf must be >= 1 and cutoff > "
                             f"0 (got {self})")


class Message(nn.Module):
    def __init__(self, cfg: PaiNNConfig) -> None:
        super().__init__()
        f = cfg.hidden
        self.phi = nn.Sequential(nn.Linear(f, f), nn.SiLU(), nn.Linear(f, 3 * f))
        self.filter = nn.Linear(cfg.rbf, 3 * f)

    def forward(self, s, v, rbf, envelope, unit, ops):
        x = ops.gather(self.phi(s)) * self.filter(rbf) * envelope  # [E, 3F]
        a, b, c = torch.split(x, s.shape[1], dim=1)
        dv = ops.gather(v) * b[:, None, :] + c[:, None, :] * unit[:, :, None]  # [E, 3, F]
        return s + ops.scatter_sum(a), v + ops.scatter_sum(dv)


class Update(nn.Module):
    def __init__(self, cfg: PaiNNConfig) -> None:
        super().__init__()
        f = cfg.hidden
        self.U = nn.Linear(f, f, bias=False)
        self.V = nn.Linear(f, f, bias=False)
        self.mlp = nn.Sequential(nn.Linear(2 * f, f), nn.SiLU(), nn.Linear(f, 3 * f))

    def forward(self, s, v):
        uv, vv = self.U(v), self.V(v)  # [N, 3, F]
        norm = torch.sqrt(vv.pow(2).sum(dim=1) + 1e-8)
        a_vv, a_sv, a_ss = torch.split(self.mlp(torch.cat([s, norm], dim=-1)), s.shape[1], dim=1)
        return s + a_sv * (uv * vv).sum(dim=1) + a_ss, v + a_vv[:, None, :] * uv


@MODELS.register
class PaiNN(Model):
    """``forward(batch, backend) -> [G, T]`` per graph slot (sums of per-atom contributions)."""

    name = "painn"
    Config = PaiNNConfig
    needs = ("positions",)
    per_atom_target = True

    def __init__(self, cfg: PaiNNConfig = PaiNNConfig(), n_targets: int = 1) -> None:
        super().__init__(n_targets)
        self.cfg = cfg
        f = cfg.hidden
        self.embed = nn.Embedding(cfg.max_z, f)
        self.messages = nn.ModuleList(Message(cfg) for _ in range(cfg.interactions))
        self.updates = nn.ModuleList(Update(cfg) for _ in range(cfg.interactions))
        self.head = nn.Sequential(nn.Linear(f, f // 2 or 1), nn.SiLU(),
                                  nn.Linear(f // 2 or 1, n_targets))
        self.register_buffer("frequencies", torch.arange(1, cfg.rbf + 1,
                                                         dtype=torch.float32) * math.pi
                             / cfg.cutoff)

    def forward(self, batch: GraphBatch, backend: str = "torch", ops=None) -> torch.Tensor:
        """Predictions per graph slot; ``ops`` as in :class:`~bench_lib.models.SchNet`."""
        ops = ops if ops is not None else graph_ops(batch, backend)
        vec, d = edge_geometry(batch, ops, self.cfg.cutoff)
        unit = vec / d[:, None]
        rbf = torch.sin(d[:, None] * self.frequencies) / d[:, None]
        envelope = cosine_cutoff(d, self.cfg.cutoff)[:, None]
        s = self.embed(batch.node_features[:, 0].long())
        v = s.new_zeros(s.shape[0], 3, s.shape[1])
        for message, update in zip(self.messages, self.updates):
            s, v = message(s, v, rbf, envelope, unit, ops)
            s, v = update(s, v)
        per_atom = self.denormalise(self.head(s)) * batch.node_mask[:, None]
        return ops.sum_nodes(per_atom)
