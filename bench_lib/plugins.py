"""Registries of named plugin classes, filled by built-ins and by entry points.

A :class:`Registry` maps names to subclasses of one base class. Built-ins
register with the :meth:`Registry.register` decorator; third-party packages
declare an entry point in the registry's group, which is loaded the first
time a name is looked up. Strategies (``bench_lib.strategies``), models
(``bench_lib.models``) and datasets (``bench_lib.data``) each have one.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["Registry", "PluginError"]


class PluginError(ValueError):
    """Entry points that do not load a usable plugin class: ``problems`` holds one message for
    each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class Registry:
    """Name -> class; ``kind`` names what is registered in messages ("strategy", "model")."""

    def __init__(self, base: type, group: str, kind: str) -> None:
        self.base, self.group, self.kind = base, group, kind
        self._classes: dict[str, type] = {}
        self._plugins_loaded = False

    def register(self, cls: type) -> type:
        """Class decorator: add ``cls`` under ``cls.name``."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} is not a {self.base.__name__} subclass")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{cls.__qualname__} needs a non-empty class attribute `name`")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"{self.kind} name {name!r} is taken by "
                             f"{known.__module__}.{known.__qualname__}")
        self._classes[name] = cls
        return cls

    def load_plugins(self, reload: bool = False) -> None:
        """Register every class in the entry-point group (once unless ``reload``)."""
        if self._plugins_loaded and not reload:
            return
        self._plugins_loaded = True
        broken = []  # every good plugin is registered before the bad ones are reported
        for ep in metadata.entry_points(group=self.group):
            try:
                cls = ep.load()
                if not (isinstance(cls, type) and issubclass(cls, self.base)):
                    what = (f"the {type(cls).__name__} {getattr(cls, '__qualname__', cls)!r}"
                            if callable(cls) else f"a {type(cls).__name__}")
                    raise ValueError(f"entry point {ep.name!r} in group {self.group!r} "
                                     f"({ep.value}) loads {what}, not a {self.base.__name__} "
                                     f"subclass: it must name the {self.kind} class itself (a "
                                     f"subclass of {self.base.__module__}.{self.base.__name__} "
                                     f"with name = {ep.name!r})")
                if getattr(cls, "name", None) != ep.name:
                    raise ValueError(f"entry point {ep.name!r} in group {self.group!r} loads "
                                     f"{cls!r} whose name is {getattr(cls, 'name', None)!r}")
                self.register(cls)
            except Exception as err:  # noqa: BLE001 (a plugin's import can raise anything)
                broken.append(err if isinstance(err, ValueError) else
                              f"entry point {ep.name!r} in group {self.group!r} ({ep.value}) "
                              f"failed to load: {type(err).__name__}: {err}")
        if broken:
            raise PluginError([str(b) for b in broken])

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._classes)

    def get(self, name: str) -> type:
        self.load_plugins()
        if name not in self._classes:
            raise ValueError(f"unknown {self.kind} {name!r}; known: "
                             f"{', '.join(sorted(self._classes))}")
        return self._classes[name]

    def is_plugin(self, name: str) -> bool:
        """True when ``name`` came from another package (an entry point), not from bench_lib."""
        return not self.get(name).__module__.startswith("bench_lib.")

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self):
        return iter(self.names())

    def unregister(self, name: str) -> None:
        self._classes.pop(name, None)
