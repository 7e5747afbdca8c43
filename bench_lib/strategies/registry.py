"""Strategies by name; third-party packages add theirs by entry point.

A package adds a strategy by declaring, in its ``pyproject.toml``::

    [project.entry-points."bench_lib.strategies"]
    my-packer = "my_package.module:MyPacker"

where ``MyPacker`` subclasses :class:`bench_lib.strategies.Strategy`. The
entry point's name must equal the class's ``name``.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
from typing import Any

from bench_lib.strategies.base import Strategy

__all__ = ["ENTRY_POINT_GROUP", "StrategyRegistry", "STRATEGIES"]

ENTRY_POINT_GROUP = "bench_lib.strategies"


class StrategyRegistry:
    """Name -> strategy class."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._classes: dict[str, type[Strategy]] = {}
        self._plugins_loaded = False

    def register(self, cls: type[Strategy]) -> type[Strategy]:
        """Class decorator: add ``cls`` under ``cls.name``."""
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"{cls!r} is not a Strategy subclass")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{cls.__qualname__} needs a non-empty class attribute `name`")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"strategy name {name!r} is taken by {known.__module__}.{known.__qualname__}")
        self._classes[name] = cls
        return cls

    def load_plugins(self, reload: bool = False) -> None:
        """Register every class in the entry-point group (once unless ``reload``)."""
        if self._plugins_loaded and not reload:
            return
        self._plugins_loaded = True
        for ep in metadata.entry_points(group=self.group):
            cls = ep.load()
            if getattr(cls, "name", None) != ep.name:
                raise ValueError(f"entry point {ep.name!r} in group {self.group!r} loads "
                                 f"{cls!r} whose name is {getattr(cls, 'name', None)!r}")
            self.register(cls)

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._classes)

    def get(self, name: str) -> type[Strategy]:
        self.load_plugins()
        if name not in self._classes:
            raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(self._classes))}")
        return self._classes[name]

    def create(self, name: str, **params: Any) -> Strategy:
        """Instantiate strategy ``name``; an unknown parameter is named with the valid ones."""
        cls = self.get(name)
        if dataclasses.is_dataclass(cls):
            fields = {f.name for f in dataclasses.fields(cls)}
            unknown = set(params) - fields
            if unknown:
                raise ValueError(f"strategy {name!r} has no parameter(s) {sorted(unknown)}; "
                                 f"valid: {sorted(fields)}")
        return cls(**params)

    def unregister(self, name: str) -> None:
        self._classes.pop(name, None)


#: The registry of this process (built-ins register on import of bench_lib.strategies).
STRATEGIES = StrategyRegistry()
