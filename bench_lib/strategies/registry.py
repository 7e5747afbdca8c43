"""Strategies by name; third-party packages add theirs by entry point.

A package adds a strategy by declaring, in its ``pyproject.toml``::

    [project.entry-points."bench_lib.strategies"]
    my-packer = "my_package.module:MyPacker"

where ``MyPacker`` subclasses :class:`bench_lib.strategies.Strategy`. The
entry point's name must equal the class's ``name``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench_lib.plugins import Registry
from bench_lib.strategies.base import Strategy

__all__ = ["ENTRY_POINT_GROUP", "StrategyRegistry", "STRATEGIES"]

ENTRY_POINT_GROUP = "bench_lib.strategies"


class StrategyRegistry(Registry):
    """Name -> strategy class."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        super().__init__(Strategy, group, "strategy")

    def names(self, baselines: bool = True) -> list[str]:
        """Registered names; ``baselines=False`` leaves out other libraries' loaders
        (``pyg``...)."""
        names = super().names()
        return names if baselines else [n for n in names if not self.get(n).baseline]

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


#: The registry of this process (built-ins register on import of bench_lib.strategies).
STRATEGIES = StrategyRegistry()
