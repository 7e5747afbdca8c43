"""Dataset sources, each producing a :class:`GraphStore`.

Example::

    from bench_lib.data import load_dataset, split_indices
    store = load_dataset("qm9", n_graphs=2000, seed=0)
    splits = split_indices(store.n_graph, seed=0)   # {"train": ..., "val": ..., "test": ...}

Built stores are cached on disk (see :mod:`bench_lib.data.cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench_lib.data.cache import cached_build, default_cache_dir
from bench_lib.data.sources import (DATASETS, FILE_KINDS, Build, DatasetSource, local_source,
                                    local_stamp)
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["GraphStore", "StoreMeta", "DATASETS", "DatasetSource", "Build", "check_dataset_name",
           "local_stamp", "load_dataset", "split_indices", "store_splits",
           "default_cache_dir", "FILE_KINDS", "DATA_DIR_DATASETS", "DGL_DATASETS", "parse_option"]


def parse_option(text: str) -> tuple[str, object]:
    """A command line's ``--option KEY=VALUE`` (a dataset source's option) as ``(key, value)``, the
    value a Python literal where it reads as one (``5.0``, ``True``) and the text otherwise."""
    import argparse
    import ast

    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE (got {text!r})")
    key, value = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


#: Datasets read from a downloaded copy under a data root (``data_dir``).
DATA_DIR_DATASETS = ("ogbg-molhiv", "ogbg-molpcba", "pcqm4mv2", "zinc", "peptides-func")

#: Datasets built by DGL's own loaders: they need the ``bench_lib[dgl]`` stack (``peptides-func``
#: reads LRGB's files itself; only its ``download=true`` goes through DGL, and says so where DGL is
#: missing).
DGL_DATASETS = ("zinc",)


def check_dataset_name(name: str) -> None:
    """``ValueError`` naming the known datasets unless ``name`` is one, or
    ``csv:``/``sdf:``/``xyz:PATH``."""
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
    made = (DATASETS.get(name)().resolve(n_graphs, seed, options) if name in DATASETS
            else local_source(name, options))
    store = cached_build(made.cache_name, made.params, made.build, cache_dir=cache_dir,
                         use_cache=use_cache,
                         stream=made.stream)
    if made.subset_after and n_graphs is not None and n_graphs < store.n_graph:
        keep = np.sort(np.random.default_rng(seed).choice(store.n_graph, n_graphs, replace=False))
        store = store.subset(keep)
    return store


def store_splits(store: GraphStore, seed: int = 0) -> dict[str, np.ndarray]:
    """The dataset's official split when it has one, else :func:`split_indices`."""
    if store.split is not None:
        return {name: np.flatnonzero(store.split == k)
                for k, name in enumerate(("train", "val", "test"))}
    return split_indices(store.n_graph, seed=seed)


def split_indices(n_graph: int, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, np.ndarray]:
    """Seeded random ``train``/``val``/``test`` index arrays covering ``range(n_graph)``."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1 (got "
                         f"{fractions})")
    perm = np.random.default_rng(seed).permutation(n_graph)
    n_train = int(round(fractions[0] * n_graph))
    n_val = int(round(fractions[1] * n_graph))
    return {"train": np.sort(perm[:n_train]), "val": np.sort(perm[n_train:n_train + n_val]),
            "test": np.sort(perm[n_train + n_val:])}
