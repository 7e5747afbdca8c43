"""Models by name; third-party packages add theirs by entry point.

A package adds a model by declaring, in its ``pyproject.toml``::

    [project.entry-points."bench_lib.models"]
    my-model = "my_package.module:MyModel"

where ``MyModel`` subclasses :class:`bench_lib.models.Model` and its
``name`` equals the entry point's. Its hyper-parameters come from the suite
file's ``[models.my-model]`` table like the built-ins'.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench_lib.models.base import NEEDS, Model
from bench_lib.plugins import Registry

__all__ = ["ENTRY_POINT_GROUP", "ModelRegistry", "MODELS"]

ENTRY_POINT_GROUP = "bench_lib.models"


class ModelRegistry(Registry):
    """Name -> model class."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        super().__init__(Model, group, "model")

    def register(self, cls: type) -> type:
        cls = super().register(cls)
        config = getattr(cls, "Config", None)
        if not dataclasses.is_dataclass(config):
            self.unregister(cls.name)
            raise TypeError(f"model {cls.name!r}: its class attribute `Config` must be a dataclass "
                            f"of its hyper-parameters (got {config!r})")
        unknown = set(cls.needs) - set(NEEDS)
        if unknown:
            self.unregister(cls.name)
            raise ValueError(f"model {cls.name!r} needs {sorted(unknown)}; a model may need "
                             f"{', '.join(NEEDS)}")
        return cls

    def config(self, name: str) -> type:
        """The dataclass of model ``name``'s hyper-parameters."""
        return self.get(name).Config

    def needs_text(self, name: str) -> str:
        """What model ``name`` needs from a dataset, in words ("3D positions"; "any graphs" for
        nothing)."""
        return " + ".join(NEEDS[n] for n in self.get(name).needs) or "any graphs"

    def missing(self, name: str, store) -> str | None:
        """Why ``store`` cannot feed model ``name`` (None when it can)."""
        for need in self.get(name).needs:
            if need == "positions" and store.positions is None:
                why = ("its coordinates are 2D (every z = 0)"
                       if store.meta.params.get("coordinates") == "2D"
                       else "it has no 3D positions (molecules from SMILES or a 2D file)")
            elif need == "node_features" and not store.meta.node_feature_dims:
                why = "it has no categorical node features"
            elif need == "edge_features" and store.edge_features is None:
                why = "it has no edge features"
            else:
                continue
            return f"{name} needs {NEEDS[need]} and {why}"
        return None

    def create(self, name: str, store, n_targets: int = 1, **params: Any) -> Model:
        """Model ``name`` sized for ``store``; an unknown parameter is named with the valid ones.

        Raises ``NotImplementedError`` (with the reason) when ``store`` lacks what the model
        needs."""
        cls = self.get(name)
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = set(params) - fields
        if unknown:
            raise ValueError(f"model {name!r} has no parameter(s) {sorted(unknown)}; valid: "
                             f"{sorted(fields)}")
        why = self.missing(name, store)
        if why:
            raise NotImplementedError(f"{why} (dataset {store.meta.name!r})")
        return cls.from_store(store, cls.Config(**params), n_targets=n_targets)


#: The registry of this process (built-ins register on import of bench_lib.models).
MODELS = ModelRegistry()
