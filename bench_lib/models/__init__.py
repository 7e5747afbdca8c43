"""The GNNs every strategy trains: the same model, weights and optimiser.

Example::

    model = create_model("schnet", store, hidden=64)
    pred = model(batch, backend="torch")   # [G, T], one row per graph slot
    pred[batch.graph_mask]                 # the real graphs

Models live in one registry, :data:`MODELS` (``schnet``, ``painn``, ``gin``
and plugins from the ``bench_lib.models`` entry-point group); each
subclasses :class:`Model` and says what it needs from a dataset.
``create_model`` raises ``NotImplementedError`` when a dataset lacks it
(SchNet needs 3D positions): the harness records such a cell as skipped,
not failed. :func:`bench_lib.models.check.check_batching` tests that a
model is safe to batch (``python -m bench_lib.models check NAME``).
"""

from __future__ import annotations

from typing import Any

from bench_lib.models.base import NEEDS, Model
from bench_lib.models.ops import BACKENDS, graph_ops
from bench_lib.models.registry import ENTRY_POINT_GROUP, MODELS, ModelRegistry
from bench_lib.models.gin import GIN, GINConfig  # noqa: E402  (registers)
from bench_lib.models.painn import PaiNN, PaiNNConfig  # noqa: E402  (registers)
from bench_lib.models.schnet import SchNet, SchNetConfig  # noqa: E402  (registers)

__all__ = ["MODELS", "ModelRegistry", "ENTRY_POINT_GROUP", "Model", "NEEDS", "create_model",
           "graph_ops",
           "BACKENDS", "SchNet", "SchNetConfig", "PaiNN", "PaiNNConfig", "GIN", "GINConfig"]


def create_model(name: str, store, n_targets: int = 1, **params: Any) -> Model:
    """Model ``name`` sized for ``store``'s feature vocabularies, predicting
    ``n_targets`` columns (the harness picks which target columns)."""
    return MODELS.create(name, store, n_targets, **params)
