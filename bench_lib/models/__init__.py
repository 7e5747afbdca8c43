"""The GNNs every strategy trains: the same model, weights and optimiser.

Example::

    model = create_model("schnet", store, hidden=64)
    pred = model(batch, backend="torch")   # [G, T], one row per graph slot
    pred[batch.graph_mask]                 # the real graphs

``create_model`` raises ``NotImplementedError`` when a model does not apply
to a dataset (SchNet needs 3D positions): the harness records such a cell as
skipped, not failed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from bench_lib.data.store import GraphStore
from bench_lib.models.gin import GIN, GINConfig
from bench_lib.models.ops import BACKENDS
from bench_lib.models.schnet import SchNet, SchNetConfig

__all__ = ["MODELS", "create_model", "BACKENDS", "SchNet", "SchNetConfig", "GIN", "GINConfig"]

MODELS = {"schnet": SchNetConfig, "gin": GINConfig}


def _config(cls, name: str, params: dict[str, Any]):
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(params) - fields
    if unknown:
        raise ValueError(f"model {name!r} has no parameter(s) {sorted(unknown)}; valid: {sorted(fields)}")
    return cls(**params)


def create_model(name: str, store: GraphStore, n_targets: int = 1, **params: Any) -> nn.Module:
    """Model ``name`` sized for ``store``'s feature vocabularies, predicting
    ``n_targets`` columns (the harness picks which target columns)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    cfg = _config(MODELS[name], name, params)
    if name == "schnet":
        if store.positions is None:
            raise NotImplementedError(f"schnet needs 3D positions; dataset {store.meta.name!r} has none")
        return SchNet(cfg, n_targets=n_targets)
    if not store.meta.node_feature_dims:
        raise NotImplementedError(f"gin needs categorical node features; dataset {store.meta.name!r} has none")
    edge_dims = store.meta.edge_feature_dims if store.edge_features is not None else ()
    return GIN(tuple(store.meta.node_feature_dims), tuple(edge_dims), n_targets, cfg)
