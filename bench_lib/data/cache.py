"""On-disk cache of built :class:`GraphStore` objects, checked by SHA-256.

A store is saved as ``<key>.npz`` (plain arrays, no pickle) beside
``<key>.json`` (its metadata, the build parameters and the npz's SHA-256).
Loading recomputes the checksum; a cache whose checksum does not match, or
that cannot be read, is rebuilt rather than trusted. Files are written to a
temporary name and renamed, so a killed build leaves no half-written cache.

The cache directory is ``$BENCH_LIB_CACHE`` when set, else the user cache
directory (``~/.cache/bench_lib`` on Linux); every function also takes an
explicit ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["default_cache_dir", "cache_key", "save_store", "load_store", "cached_build"]

log = logging.getLogger(__name__)

#: Bump when the on-disk layout or any builder's output changes.
FORMAT_VERSION = 2


def default_cache_dir() -> Path:
    env = os.environ.get("BENCH_LIB_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("bench_lib"))


def cache_key(name: str, params: dict[str, Any]) -> str:
    """``<name>-<16 hex>``: a stable hash of the build parameters."""
    blob = json.dumps({"format": FORMAT_VERSION, "name": name, "params": params},
                      sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_store(store: GraphStore, path_stem: Path) -> None:
    """Write ``<stem>.npz`` then ``<stem>.json`` (the json last: it names the
    npz's checksum, so a store is only ever found complete)."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    npz = path_stem.with_suffix(".npz")
    _atomic_write(npz, lambda f: np.savez(f, **store.arrays()), "wb")
    info = {"format": FORMAT_VERSION, "sha256": _sha256(npz), "meta": store.meta.to_json()}
    _atomic_write(path_stem.with_suffix(".json"),
                  lambda f: f.write(json.dumps(info, indent=1, default=str)), "w")


def load_store(path_stem: Path) -> GraphStore:
    """Load a saved store; ``ValueError`` when missing, unreadable or corrupt."""
    path_stem = Path(path_stem)
    npz, js = path_stem.with_suffix(".npz"), path_stem.with_suffix(".json")
    if not (npz.exists() and js.exists()):
        raise ValueError(f"no cached store at {path_stem}(.npz/.json)")
    try:
        info = json.loads(js.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cache metadata {js} is unreadable: {err}") from err
    if info.get("format") != FORMAT_VERSION:
        raise ValueError(f"cache {js} has format {info.get('format')}, expected {FORMAT_VERSION}")
    digest = _sha256(npz)
    if digest != info.get("sha256"):
        raise ValueError(f"cache {npz} fails its checksum ({digest[:12]} != {str(info.get('sha256'))[:12]})")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return GraphStore(meta=StoreMeta.from_json(info["meta"]), **arrays)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cache {npz} is unreadable: {err}") from err


def cached_build(name: str, params: dict[str, Any], build: Callable[[], GraphStore],
                 cache_dir: Path | str | None = None, use_cache: bool = True) -> GraphStore:
    """Return the cached store for ``(name, params)``, building it on a miss.

    A cache that fails to load (checksum mismatch, truncation, old format) is
    logged and rebuilt.
    """
    if not use_cache:
        return build()
    stem = Path(cache_dir if cache_dir is not None else default_cache_dir()) / cache_key(name, params)
    if stem.with_suffix(".json").exists():
        try:
            return load_store(stem)
        except ValueError as err:
            log.warning("rebuilding %s: %s", name, err)
    store = build()
    save_store(store, stem)
    return store
