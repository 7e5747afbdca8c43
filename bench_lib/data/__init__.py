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

__all__ = ["GraphStore", "StoreMeta", "DATASETS", "load_dataset", "split_indices", "default_cache_dir"]


def _nci5k(n_graphs, seed, options):
    from bench_lib.data.nci5k import build_nci5k

    if options:
        raise ValueError(f"nci5k takes no options (got {sorted(options)})")
    return "nci5k", {}, build_nci5k, True


def _qm9(n_graphs, seed, options):
    from bench_lib.data.qm9 import build_qm9

    allowed = {"cutoff", "max_neighbors"}
    if set(options) - allowed:
        raise ValueError(f"qm9 options are {sorted(allowed)} (got {sorted(set(options) - allowed)})")
    params = {"n_graphs": n_graphs, "seed": seed, "cutoff": 6.0, "max_neighbors": 28, **options}
    return "qm9", params, lambda: build_qm9(**params), False


#: name -> resolver(n_graphs, seed, options) -> (cache name, build params, build(), subset_after)
DATASETS: dict[str, Callable[..., tuple[str, dict[str, Any], Callable[[], GraphStore], bool]]] = {
    "nci5k": _nci5k,
    "qm9": _qm9,
}


def load_dataset(name: str, n_graphs: int | None = None, seed: int = 0,
                 cache_dir: Path | str | None = None, use_cache: bool = True,
                 **options: Any) -> GraphStore:
    """Build (or load from cache) dataset ``name``.

    Args:
      name: one of :data:`DATASETS`.
      n_graphs: keep a seeded random subset of this many graphs (all if None).
      seed: seed of that subset.
      cache_dir: where built stores are cached (default: ``default_cache_dir()``).
      use_cache: False to build from scratch and write nothing.
      **options: source options (``qm9``: ``cutoff``, ``max_neighbors``).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    if n_graphs is not None and n_graphs < 1:
        raise ValueError(f"n_graphs must be >= 1 or None (got {n_graphs})")
    cache_name, params, build, subset_after = DATASETS[name](n_graphs, seed, options)
    store = cached_build(cache_name, params, build, cache_dir=cache_dir, use_cache=use_cache)
    if subset_after and n_graphs is not None and n_graphs < store.n_graph:
        keep = np.sort(np.random.default_rng(seed).choice(store.n_graph, n_graphs, replace=False))
        store = store.subset(keep)
    return store


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
