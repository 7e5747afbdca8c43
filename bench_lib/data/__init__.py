"""Dataset sources, each producing a :class:`GraphStore`.

Example::

    from bench_lib.data import load_dataset, split_indices
    store = load_dataset("qm9", n_graphs=2000, seed=0)
    splits = split_indices(store.n_graph, seed=0)   # {"train": ..., "val": ..., "test": ...}

Built stores are cached on disk (see :mod:`bench_lib.data.cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench_lib.data.cache import cached_build, default_cache_dir
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["GraphStore", "StoreMeta", "DATASETS", "check_dataset_name", "local_stamp", "load_dataset", "split_indices", "store_splits",
           "default_cache_dir", "FILE_KINDS", "DATA_DIR_DATASETS", "DGL_DATASETS", "parse_option"]


def parse_option(text: str) -> tuple[str, object]:
    """A command line's ``--option KEY=VALUE`` (a dataset source's option) as ``(key, value)``, the value
    a Python literal where it reads as one (``5.0``, ``True``) and the text otherwise."""
    import argparse
    import ast

    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE (got {text!r})")
    key, value = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def _check_options(name: str, options: dict, allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"{name} options are {sorted(allowed) or 'none'} (got {sorted(unknown)})")
    _check_values(name, options)


def _nci5k(name, n_graphs, seed, options):
    from bench_lib.data.nci5k import build_nci5k

    _check_options(name, options, set())
    return "nci5k", {}, build_nci5k, True


def _qm9(name, n_graphs, seed, options):
    from bench_lib.data.qm9 import build_qm9

    _check_options(name, options, {"cutoff", "max_neighbors", "edges"})
    params = {"n_graphs": n_graphs, "seed": seed, "cutoff": 6.0, "max_neighbors": 28, **options}
    return "qm9", params, lambda: build_qm9(**params), False


def _ogb(name, n_graphs, seed, options):
    from bench_lib.data.ogb_sets import build_ogb, data_root

    _check_options(name, options, {"data_dir", "download"})
    root = str(data_root(options.get("data_dir")).resolve())
    download = bool(options.get("download", False))
    if name == "pcqm4mv2":
        from bench_lib.data.ogb_sets import stream_pcqm

        return name, {"root": root, "version": 2}, lambda: build_ogb(name, root, download), True, \
            lambda writer: stream_pcqm(writer, root, download)
    # the labels file's size and time: a set rewritten under the same root (a stand-in replaced by OGB's own
    # download, say) is built again, not read from the cache of the old one
    from bench_lib.data.ogb_sets import OGB_SETS

    labels = Path(root) / OGB_SETS[name]["dir"] / "raw" / "graph-label.csv.gz"
    stamp = [labels.stat().st_size, labels.stat().st_mtime_ns] if labels.exists() else None
    return name, {"root": root, "labels": stamp}, lambda: build_ogb(name, root, download), True


def _dgl_set(name, n_graphs, seed, options):
    from bench_lib.data.dgl_sets import build_peptides, build_zinc
    from bench_lib.data.ogb_sets import data_root

    _check_options(name, options, {"data_dir", "download"})
    root = str(data_root(options.get("data_dir")).resolve())
    build = build_zinc if name == "zinc" else build_peptides
    return name, {"root": root}, lambda: build(root, bool(options.get("download", False))), True


def _hydronet(name, n_graphs, seed, options):
    from bench_lib.data.water import build_hydronet_like, stream_hydronet_like

    from bench_lib.data.water import BUILD_VERSION

    _check_options(name, options, {"subset", "cutoff", "max_neighbors", "edges"})
    params = {"n_graphs": n_graphs or 10_000, "seed": seed, "subset": "full_4.5M", "cutoff": 6.0,
              "max_neighbors": 28, "edges": "stored", **options}
    return name, {**params, "version": BUILD_VERSION}, lambda: build_hydronet_like(**params), False, \
        lambda writer: stream_hydronet_like(writer, **params)


#: Bump when a local-file builder's output changes (part of the cache key).
LOCAL_BUILD_VERSION = 3


def _local_files(path: str) -> list[Path]:
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

    files = _local_files(name.split(":", 1)[1])
    stamp = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:12]


_OPTION_TYPES = {"cutoff": "positive number", "max_neighbors": "positive whole number or None",
                 "smiles_column": "text", "id_column": "text", "sep": "one character", "target_columns": "text or list",
                 "subset": "text", "data_dir": "path", "download": "true or false", "edges": "edges"}


def _check_values(name: str, options: dict) -> None:
    """``ValueError`` naming the option, its value and what it should be."""
    import math

    for key, value in options.items():
        kind = _OPTION_TYPES.get(key)
        ok = True
        if kind == "positive number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        elif kind == "positive whole number or None":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        elif kind == "text":
            ok = isinstance(value, str) and value != ""
        elif kind == "path":
            ok = isinstance(value, (str, Path)) and str(value) != ""
        elif kind == "one character":
            ok = isinstance(value, str) and len(value) == 1
        elif kind == "text or list":
            ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
        elif kind == "true or false":
            ok = isinstance(value, bool)
        elif kind == "edges":
            from bench_lib.data.neighbours import EDGE_KINDS

            ok, kind = value in EDGE_KINDS, "one of " + ", ".join(repr(k) for k in EDGE_KINDS)
        if not ok:
            raise ValueError(f"{name} option {key} must be {'' if kind.startswith('one of') else 'a '}{kind} "
                             f"(got {value!r})")


def _local(name, n_graphs, seed, options):
    from bench_lib.data import local_files

    kind, path = name.split(":", 1)
    options = {k: v for k, v in options.items() if k != "file_stamp"}  # identifies the cell, not the build
    allowed = {"csv": {"smiles_column", "target_columns", "id_column", "sep"},
               "sdf": {"target_columns", "cutoff", "max_neighbors", "edges"},
               "xyz": {"cutoff", "max_neighbors", "edges"}}[kind]
    _check_options(name, options, allowed)
    files = _local_files(path)
    stamp = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]
    build = {"csv": local_files.build_csv, "sdf": local_files.build_sdf, "xyz": local_files.build_xyz}[kind]
    params = {"files": stamp, "version": LOCAL_BUILD_VERSION, **options}
    return f"local-{kind}", params, lambda: build(path, **options), True


#: name -> resolver(name, n_graphs, seed, options) -> (cache name, build params, build(), subset_after)
DATASETS: dict[str, Callable[..., tuple[str, dict[str, Any], Callable[[], GraphStore], bool]]] = {
    "nci5k": _nci5k,
    "qm9": _qm9,
    "ogbg-molhiv": _ogb,
    "ogbg-molpcba": _ogb,
    "pcqm4mv2": _ogb,
    "zinc": _dgl_set,
    "peptides-func": _dgl_set,
    "hydronet-like": _hydronet,
}
#: ``kind:PATH`` names a local file.
FILE_KINDS = ("csv", "sdf", "xyz")

#: Datasets read from a downloaded copy under a data root (``data_dir``).
DATA_DIR_DATASETS = ("ogbg-molhiv", "ogbg-molpcba", "pcqm4mv2", "zinc", "peptides-func")

#: Datasets built by DGL's own loaders: they need the ``bench_lib[dgl]`` stack (``peptides-func`` reads
#: LRGB's files itself; only its ``download=true`` goes through DGL, and says so where DGL is missing).
DGL_DATASETS = ("zinc",)


def check_dataset_name(name: str) -> None:
    """``ValueError`` naming the known datasets unless ``name`` is one, or ``csv:``/``sdf:``/``xyz:PATH``."""
    if name in DATASETS or name.split(":", 1)[0] in FILE_KINDS and name.split(":", 1)[-1].strip():
        return
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}, "
                     f"or {', '.join(k + ':PATH' for k in FILE_KINDS)}")


def load_dataset(name: str, n_graphs: int | None = None, seed: int = 0,
                 cache_dir: Path | str | None = None, use_cache: bool = True,
                 **options: Any) -> GraphStore:
    """Build (or load from cache) dataset ``name``.

    Args:
      name: one of :data:`DATASETS`, or ``csv:PATH``, ``sdf:PATH``, ``xyz:PATH``.
      n_graphs: keep a seeded random subset of this many graphs (all if None).
      seed: seed of that subset.
      cache_dir: where built stores are cached (default: ``default_cache_dir()``).
      use_cache: False to build from scratch and write nothing.
      **options: source options (``qm9``/``hydronet-like``/``xyz:``/``sdf:``: ``cutoff``,
        ``max_neighbors``, ``edges`` (``"stored"``, or ``"radius"``/``"knn"`` built per batch,
        see :mod:`bench_lib.data.neighbours`); OGB sets, ``zinc``, ``peptides-func``: ``data_dir``,
        ``download``; ``csv:``: ``smiles_column``, ``target_columns``, ``id_column``,
        ``sep``; ``sdf:``: ``target_columns``, ``cutoff``, ``max_neighbors``).
    """
    check_dataset_name(name)
    if n_graphs is not None and n_graphs < 1:
        raise ValueError(f"n_graphs must be >= 1 or None (got {n_graphs})")
    resolver = DATASETS[name] if name in DATASETS else _local
    cache_name, params, build, subset_after, *stream = resolver(name, n_graphs, seed, options)
    store = cached_build(cache_name, params, build, cache_dir=cache_dir, use_cache=use_cache,
                         stream=stream[0] if stream else None)
    if subset_after and n_graphs is not None and n_graphs < store.n_graph:
        keep = np.sort(np.random.default_rng(seed).choice(store.n_graph, n_graphs, replace=False))
        store = store.subset(keep)
    return store


def store_splits(store: GraphStore, seed: int = 0) -> dict[str, np.ndarray]:
    """The dataset's official split when it has one, else :func:`split_indices`."""
    if store.split is not None:
        return {name: np.flatnonzero(store.split == k) for k, name in enumerate(("train", "val", "test"))}
    return split_indices(store.n_graph, seed=seed)


def split_indices(n_graph: int, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, np.ndarray]:
    """Seeded random ``train``/``val``/``test`` index arrays covering ``range(n_graph)``."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1 (got {fractions})")
    perm = np.random.default_rng(seed).permutation(n_graph)
    n_train = int(round(fractions[0] * n_graph))
    n_val = int(round(fractions[1] * n_graph))
    return {"train": np.sort(perm[:n_train]), "val": np.sort(perm[n_train:n_train + n_val]),
            "test": np.sort(perm[n_train + n_val:])}
