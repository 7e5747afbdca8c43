"""Normalisation layers that never see padding.

``layer``: LayerNorm, per node (nothing crosses graphs). ``batch``:
BatchNorm whose statistics are taken over the real rows only (real nodes,
or real graphs for a per-graph vector), as OGB's GIN baselines normalise;
in training a graph's output then depends on the other real graphs of its
batch, as with any BatchNorm, but never on padding; in evaluation the
running statistics are used and nothing crosses graphs. ``none``: identity.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NORMS", "MaskedBatchNorm", "make_norm"]

NORMS = ("layer", "batch", "none")


class MaskedBatchNorm(nn.Module):
    """BatchNorm1d over the rows where ``mask`` is True (statistics, running averages and all)."""

    # the batching check puts it on its running statistics (bench_lib.models.check)
    batch_statistics = True

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            m = mask[:, None].to(x.dtype)
            n = m.sum()
            mean = (x * m).sum(0) / n.clamp(min=1)
            var = ((x - mean) * m).pow(2).sum(0) / n.clamp(min=1)
            with torch.no_grad():  # a batch of fewer than two real rows leaves them as they are
                unbiased = var * n / (n - 1).clamp(min=1)
                weight = self.momentum * (n > 1).to(x.dtype)
                self.running_mean.lerp_(mean.detach(), weight)
                self.running_var.lerp_(unbiased.detach(), weight)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class _LayerNorm(nn.LayerNorm):
    # the mask is not needed: a layer norm is per row
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        return super().forward(x)


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: ARG002
        return x


def make_norm(kind: str, features: int) -> nn.Module:
    """A ``norm(x, mask)`` module of ``kind`` (one of :data:`NORMS`)."""
    if kind == "layer":
        return _LayerNorm(features)
    if kind == "batch":
        return MaskedBatchNorm(features)
    if kind == "none":
        return _Identity()
    raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))} (got {kind!r})")
