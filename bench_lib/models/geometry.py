"""Edge geometry shared by the 3D models (SchNet, PaiNN).

Pad edges get the cutoff as their distance and a zero vector, so every
filter multiplied by the cosine cutoff is exactly zero on them, whatever the
pad nodes' positions hold; real edges at or beyond the cutoff (k-NN graphs)
get a zero filter the same way.
"""

from __future__ import annotations

import math

import torch

from bench_lib.strategies.batch import GraphBatch

__all__ = ["edge_geometry", "cosine_cutoff"]


def edge_geometry(batch: GraphBatch, ops, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(vectors [E, 3], distances [E])`` of ``sender - receiver``; pad edges: zero vector,
    distance ``cutoff``."""
    vec = ops.edge_vectors(batch.positions)
    d = torch.where(batch.edge_mask, vec.norm(dim=-1), torch.full_like(vec[:, 0], cutoff))
    return torch.where(batch.edge_mask[:, None], vec, torch.zeros_like(vec)), d


def cosine_cutoff(d: torch.Tensor, cutoff: float) -> torch.Tensor:
    """``0.5 (cos(pi d / cutoff) + 1)`` below the cutoff, exactly 0 from it on, ``[E]``."""
    return 0.5 * (torch.cos(d * math.pi / cutoff) + 1.0) * (d < cutoff)
