"""The base every model subclasses, built-in or plugin.

A model maps a :class:`~bench_lib.strategies.GraphBatch` to one row of
predictions per graph slot, ``[G, T]``; rows past the real graphs are
padding and are masked by the harness. It declares, as class attributes:

- ``name``: its registry name (``[models.<name>]`` in a suite file);
- ``Config``: a dataclass of its hyper-parameters (the keys of
  ``[models.<name>]``, checked by the suite);
- ``needs``: what it reads from a dataset, of ``"positions"`` (3D
  coordinates), ``"node_features"`` (categorical node features) and
  ``"edge_features"``; a dataset that lacks one skips the model with that
  reason;
- ``per_atom_target``: True when targets are standardised per atom
  (extensive energies summed over atoms), False for per graph.

The harness builds it with :meth:`Model.from_store` and gives it the
training targets' statistics through :meth:`Model.set_target_stats`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

__all__ = ["Model", "NEEDS"]

#: What a model may need from a dataset, and how to say that a dataset lacks it.
NEEDS = {"positions": "3D positions", "node_features": "categorical node features",
         "edge_features": "edge features"}


class Model(nn.Module):
    """Base of every model: target statistics as buffers, and the class attributes above."""

    name: ClassVar[str]
    Config: ClassVar[type]
    needs: ClassVar[tuple[str, ...]] = ()
    per_atom_target: ClassVar[bool] = False

    def __init__(self, n_targets: int = 1) -> None:
        super().__init__()
        self.register_buffer("target_mean", torch.zeros(n_targets))
        self.register_buffer("target_std", torch.ones(n_targets))
        self.register_buffer("mean_nodes", torch.ones(1))

    @classmethod
    def from_store(cls, store, cfg: Any, n_targets: int = 1) -> "Model":
        """The model for ``store`` (its feature vocabularies, say); by default ``cls(cfg,
        n_targets)``."""
        return cls(cfg, n_targets=n_targets)

    def set_target_stats(self, mean, std, mean_nodes: float = 1.0) -> None:
        """Mean and std of each target over the real training graphs (per atom when
        ``per_atom_target``), and their mean node count."""
        for buffer, value in ((self.target_mean, mean), (self.target_std, std)):
            buffer.copy_(torch.as_tensor(value, dtype=torch.float32).reshape(-1).expand_as(buffer))
        self.mean_nodes.fill_(float(mean_nodes))

    def denormalise(self, out: torch.Tensor) -> torch.Tensor:
        """Standardised outputs ``[*, T]`` in the targets' units."""
        return out * self.target_std + self.target_mean
