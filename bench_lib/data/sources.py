"""Dataset sources: a :class:`DatasetSource` per dataset name, in the :data:`DATASETS` registry.

A source checks its options and says how to make its store: a :class:`Build` (the cache name and the
parameters that key the cache, the builder, whether ``n_graphs`` is drawn after building, and a
streaming builder for sets too large to hold). Built-ins register here; another package adds a
dataset through the ``bench_lib.datasets`` entry-point group (a :class:`DatasetSource` subclass with
its ``name``), as strategies and models do. ``csv:``, ``sdf:`` and ``xyz:PATH`` name local files
(:func:`local_source`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from bench_lib.data.store import GraphStore
from bench_lib.plugins import Registry

__all__ = ["Build", "DatasetSource", "DATASETS", "ENTRY_POINT_GROUP", "FILE_KINDS", "local_source",
           "local_files", "local_stamp", "check_options"]

ENTRY_POINT_GROUP = "bench_lib.datasets"

#: ``kind:PATH`` names a local file.
FILE_KINDS = ("csv", "sdf", "xyz")


@dataclass(frozen=True)
class Build:
    """How to make one dataset's store (or find it in the cache)."""

    cache_name: str
    params: dict[str, Any]  # with cache_name, the cache's key
    build: Callable[[], GraphStore]
    # the builder makes every graph: n_graphs are drawn from its store afterwards
    subset_after: bool
    # writes the store in pieces, for sets too large to hold
    stream: Callable[[Any], None] | None = None


class DatasetSource:
    """One dataset: :meth:`resolve` checks the options and returns its :class:`Build`."""

    name: ClassVar[str] = ""

    def resolve(self, n_graphs: int | None, seed: int, options: dict[str, Any]) -> Build:
        raise NotImplementedError


DATASETS = Registry(DatasetSource, ENTRY_POINT_GROUP, "dataset")


def check_options(name: str, options: dict, allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"{name} options are {sorted(allowed) or 'none'} (got {sorted(unknown)})")
    _check_values(name, options)


_OPTION_TYPES = {"cutoff": "positive number", "max_neighbors": "positive whole number or None",
                 "smiles_column": "text", "id_column": "text", "sep": "one character",
                 "target_columns": "text or list",
                 "subset": "text", "data_dir": "path", "download": "true or false",
                 "edges": "edges"}


def _check_values(name: str, options: dict) -> None:
    """``ValueError`` naming the option, its value and what it should be."""
    import math

    for key, value in options.items():
        kind = _OPTION_TYPES.get(key)
        ok = True
        if kind == "positive number":
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value) and value > 0)
        elif kind == "positive whole number or None":
            ok = (value is None
                  or (isinstance(value, int) and not isinstance(value, bool) and value > 0))
        elif kind == "text":
            ok = isinstance(value, str) and value != ""
        elif kind == "path":
            ok = isinstance(value, (str, Path)) and str(value) != ""
        elif kind == "one character":
            ok = isinstance(value, str) and len(value) == 1
        elif kind == "text or list":
            ok = (isinstance(value, str)
                  or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)))
        elif kind == "true or false":
            ok = isinstance(value, bool)
        elif kind == "edges":
            from bench_lib.data.neighbours import EDGE_KINDS

            ok, kind = value in EDGE_KINDS, "one of " + ", ".join(repr(k) for k in EDGE_KINDS)
        if not ok:
            raise ValueError(f"{name} option {key} must be "
                             f"{'' if kind.startswith('one of') else 'a '}{kind} (got {value!r})")




@DATASETS.register
class Nci5k(DatasetSource):
    name = "nci5k"

    def resolve(self, n_graphs, seed, options) -> Build:
        from bench_lib.data.nci5k import build_nci5k

        check_options(self.name, options, set())
        return Build("nci5k", {}, build_nci5k, True)


@DATASETS.register
class Qm9(DatasetSource):
    name = "qm9"

    def resolve(self, n_graphs, seed, options) -> Build:
        from bench_lib.data.qm9 import build_qm9

        check_options(self.name, options, {"cutoff", "max_neighbors", "edges"})
        params = {"n_graphs": n_graphs, "seed": seed, "cutoff": 6.0, "max_neighbors": 28, **options}
        return Build("qm9", params, lambda: build_qm9(**params), False)


class _OgbSource(DatasetSource):
    """An OGB set read from a data root (``data_dir``), downloaded there with ``download=true``."""

    def resolve(self, n_graphs, seed, options) -> Build:
        from bench_lib.data.ogb_sets import OGB_SETS, build_ogb, data_root

        check_options(self.name, options, {"data_dir", "download"})
        root = str(data_root(options.get("data_dir")).resolve())
        download = bool(options.get("download", False))
        if self.name == "pcqm4mv2":
            from bench_lib.data.ogb_sets import stream_pcqm

            return Build(self.name, {"root": root, "version": 2},
                         lambda: build_ogb(self.name, root, download), True,
                         lambda writer: stream_pcqm(writer, root, download))
        # the labels file's size and time: a set rewritten under the same root (a stand-in replaced
        # by OGB's own download, say) is built again, not read from the cache of the old one
        labels = Path(root) / OGB_SETS[self.name]["dir"] / "raw" / "graph-label.csv.gz"
        stamp = [labels.stat().st_size, labels.stat().st_mtime_ns] if labels.exists() else None
        return Build(self.name, {"root": root, "labels": stamp},
                     lambda: build_ogb(self.name, root, download), True)


@DATASETS.register
class OgbgMolhiv(_OgbSource):
    name = "ogbg-molhiv"


@DATASETS.register
class OgbgMolpcba(_OgbSource):
    name = "ogbg-molpcba"


@DATASETS.register
class Pcqm4mv2(_OgbSource):
    name = "pcqm4mv2"


class _DglSource(DatasetSource):
    """A set read from a data root by DGL's loaders (ZINC) or from LRGB's files (peptides-func)."""

    def resolve(self, n_graphs, seed, options) -> Build:
        from bench_lib.data.dgl_sets import build_peptides, build_zinc
        from bench_lib.data.ogb_sets import data_root

        check_options(self.name, options, {"data_dir", "download"})
        root = str(data_root(options.get("data_dir")).resolve())
        build = build_zinc if self.name == "zinc" else build_peptides
        return Build(self.name, {"root": root},
                     lambda: build(root, bool(options.get("download", False))), True)


@DATASETS.register
class Zinc(_DglSource):
    name = "zinc"


@DATASETS.register
class PeptidesFunc(_DglSource):
    name = "peptides-func"


@DATASETS.register
class HydronetLike(DatasetSource):
    name = "hydronet-like"

    def resolve(self, n_graphs, seed, options) -> Build:
        from bench_lib.data.water import BUILD_VERSION, build_hydronet_like, stream_hydronet_like

        check_options(self.name, options, {"subset", "cutoff", "max_neighbors", "edges"})
        params = {"n_graphs": n_graphs or 10_000, "seed": seed, "subset": "full_4.5M",
                  "cutoff": 6.0,
                  "max_neighbors": 28, "edges": "stored", **options}
        return Build(self.name, {**params, "version": BUILD_VERSION},
                     lambda: build_hydronet_like(**params), False,
                     lambda writer: stream_hydronet_like(writer, **params))


#: Bump when a local-file builder's output changes (part of the cache key).
LOCAL_BUILD_VERSION = 3


def local_files(path: str) -> list[Path]:
    import glob

    expanded = str(Path(path).expanduser())
    if any(c in path for c in "*?["):
        return sorted(Path(p) for p in glob.glob(expanded))
    if Path(expanded).is_dir():
        return sorted(Path(expanded).glob("*.xyz"))
    return [Path(expanded)]


def local_stamp(name: str) -> str:
    """A short fingerprint (paths, sizes, modification times) of a ``kind:PATH`` dataset's files:
    a suite puts it in the cell's options, so that an edited file makes new cells, not a resume."""
    import hashlib
    import json

    files = local_files(name.split(":", 1)[1])
    stamp = [(str(f.resolve()), f.stat().st_size,
              f.stat().st_mtime_ns) for f in files if f.is_file()]
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:12]


def local_source(name: str, options: dict[str, Any]) -> Build:
    """The :class:`Build` of a ``csv:``, ``sdf:`` or ``xyz:PATH`` dataset."""
    from bench_lib.data import local_files as builders

    kind, path = name.split(":", 1)
    # identifies the cell, not the build
    options = {k: v for k, v in options.items() if k != "file_stamp"}
    allowed = {"csv": {"smiles_column", "target_columns", "id_column", "sep"},
               "sdf": {"target_columns", "cutoff", "max_neighbors", "edges"},
               "xyz": {"cutoff", "max_neighbors", "edges"}}[kind]
    check_options(name, options, allowed)
    files = local_files(path)
    stamp = [(str(f.resolve()), f.stat().st_size,
              f.stat().st_mtime_ns) for f in files if f.exists()]
    build = {"csv": builders.build_csv, "sdf": builders.build_sdf, "xyz": builders.build_xyz}[kind]
    params = {"files": stamp, "version": LOCAL_BUILD_VERSION, **options}
    return Build(f"local-{kind}", params, lambda: build(path, **options), True)
