"""On-disk cache of built :class:`GraphStore` objects, checked by SHA-256.

A store is saved as the folder ``<key>/``: one raw ``.bin`` file per column
(plain arrays, no pickle; written chunk by chunk by :class:`StoreWriter`, so
a builder can stream) and ``store.json`` (format, metadata, build
parameters, each column's size and SHA-256). Loading memory-maps the
columns read-only, so opening even millions of graphs copies nothing; it
first checks every column's size and checksum (in full up to
:data:`FULL_CHECK_BYTES`, else its first and last MiB; ``verify_store``
checks every byte). A cache that fails, or cannot be read, is rebuilt
rather than trusted. The folder is written under a temporary name and
renamed into place, so a killed build leaves no half-written cache.

The cache directory is ``$BENCH_LIB_CACHE`` when set, else the user cache
directory (``~/.cache/bench_lib`` on Linux); every function also takes an
explicit ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench_lib.data.store import GraphStore, StoreMeta, attach_file

__all__ = ["default_cache_dir", "cache_key", "save_store", "load_store", "verify_store",
           "cached_build",
           "StoreWriter", "FULL_CHECK_BYTES"]

log = logging.getLogger(__name__)

#: Bump when the on-disk layout or any builder's output changes.
FORMAT_VERSION = 3


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


#: Stores up to this many bytes are checksummed in full on every load; larger ones (millions of
#: graphs) have each column's size and its first and last MiB checked, so that they open in well
#: under a second; :func:`verify_store` checks every byte.
FULL_CHECK_BYTES = 256 << 20
_SPOT = 1 << 20


def _spot_sha256(path: Path) -> str:
    """SHA-256 of a file's first and last MiB (with its size): a quick check of a large column."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_SPOT))
        f.seek(max(0, size - _SPOT))
        h.update(f.read(_SPOT))
    return h.hexdigest()


class StoreWriter:
    """Writes a store column by column, chunk after chunk, in bounded memory.

    Each column is a raw little-endian ``<name>.bin`` file that chunks are
    appended to (hashed as they go); :meth:`finish` writes ``store.json``
    (format, metadata, each column's dtype, shape, size and checksums) and
    renames the folder into place. Until then everything is under a
    temporary name, so a killed build leaves no store that could be read;
    leaving the ``with`` block without :meth:`finish` removes it.

    Example::

        with StoreWriter(path) as w:
            for chunk in chunks:            # dicts of column arrays, graphs in order
                w.append(**chunk)
            w.finish(meta)
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                         suffix=".tmp"))
        self._files: dict[str, Any] = {}
        self._columns: dict[str, dict] = {}
        self._hash: dict[str, Any] = {}
        self.done = False

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.abort()

    def append(self, **columns: np.ndarray | None) -> None:
        """Append rows to each named column (``None`` columns are left out; a column must
        be given in every append once it has been)."""
        for name, array in columns.items():
            if array is None:
                continue
            array = np.ascontiguousarray(array)
            col = self._columns.get(name)
            if col is None:
                col = self._columns[name] = {"dtype": array.dtype.str,
                                             "shape": [0, *array.shape[1:]]}
                self._files[name] = open(self.tmp / f"{name}.bin", "wb")
                self._hash[name] = hashlib.sha256()
            elif array.dtype.str != col["dtype"] or list(array.shape[1:]) != col["shape"][1:]:
                raise ValueError(f"column {name}: chunk of {array.dtype} {array.shape[1:]} after "
                                 f"{col['dtype']} {tuple(col['shape'][1:])}")
            data = array.tobytes()
            self._files[name].write(data)
            self._hash[name].update(data)
            col["shape"][0] += len(array)

    def finish(self, meta: StoreMeta) -> None:
        for name, f in self._files.items():
            f.close()
            file = self.tmp / f"{name}.bin"
            self._columns[name].update(bytes=file.stat().st_size,
                                       sha256=self._hash[name].hexdigest(),
                                       spot=_spot_sha256(file))
        info = {"format": FORMAT_VERSION, "columns": self._columns, "meta": meta.to_json()}
        (self.tmp / "store.json").write_text(json.dumps(info, indent=1, default=str))
        if self.path.exists():  # a stale or corrupt store: moved aside, then removed
            stale = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                          suffix=".old"))
            os.replace(self.path, stale / "store")
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(self.tmp, self.path)
        self.done = True

    def abort(self) -> None:
        for f in self._files.values():
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def save_store(store: GraphStore, path: Path) -> None:
    """Write ``store`` as the folder ``path`` (see :class:`StoreWriter`)."""
    with StoreWriter(path) as w:
        w.append(**store.arrays())
        w.finish(store.meta)


def _info(path: Path) -> dict:
    js = Path(path) / "store.json"
    if not js.exists():
        raise ValueError(f"no cached store at {path} (no store.json)")
    try:
        info = json.loads(js.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cache metadata {js} is unreadable: {err}") from err
    if info.get("format") != FORMAT_VERSION:
        raise ValueError(f"cache {js} has format {info.get('format')}, expected {FORMAT_VERSION}")
    return info


def verify_store(path: Path, full: bool = True) -> None:
    """``ValueError`` unless every column of the store at ``path`` has its recorded size and
    checksum (``full``: every byte; else the first and last MiB)."""
    path = Path(path)
    for name, col in _info(path)["columns"].items():
        file = path / f"{name}.bin"
        if not file.exists() or file.stat().st_size != col["bytes"]:
            got = file.stat().st_size if file.exists() else "missing"
            raise ValueError(f"cache {file} fails its size check ({got} bytes, expected "
                             f"{col['bytes']})")
        key = "sha256" if full else "spot"
        digest = _sha256(file) if full else _spot_sha256(file)
        if digest != col[key]:
            raise ValueError(f"cache {file} fails its checksum ({digest[:12]} != "
                             f"{str(col[key])[:12]})")


def _column(file: Path, col: dict) -> np.ndarray:
    dtype, shape = np.dtype(col["dtype"]), tuple(col["shape"])
    if col["bytes"] == 0:  # an empty file cannot be mapped
        out = np.empty(shape, dtype)
        out.flags.writeable = False
        return out
    fd = os.open(file, os.O_RDONLY)  # the mapping and the reads of take_rows: one and the same file
    try:
        with open(fd, "rb", closefd=False) as f:
            column = np.memmap(f, dtype=dtype, mode="r", shape=shape)
    except BaseException:
        os.close(fd)
        raise
    attach_file(column, fd, str(file))
    return column


def load_store(path: Path) -> GraphStore:
    """Open a saved store, its columns memory-mapped read-only (nothing is copied);
    ``ValueError`` when missing, unreadable or corrupt (see :data:`FULL_CHECK_BYTES`)."""
    path = Path(path)
    info = _info(path)
    total = sum(c["bytes"] for c in info["columns"].values())
    verify_store(path, full=total <= FULL_CHECK_BYTES)
    try:
        arrays = {name: _column(path / f"{name}.bin", col) for name, col in info["columns"].items()}
        return GraphStore.from_columns(StoreMeta.from_json(info["meta"]), **arrays)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cache {path} is unreadable: {err}") from err


def cached_build(name: str, params: dict[str, Any], build: Callable[[], GraphStore],
                 cache_dir: Path | str | None = None, use_cache: bool = True,
                 stream: Callable[[StoreWriter], StoreMeta] | None = None) -> GraphStore:
    """Return the cached store for ``(name, params)``, building it on a miss.

    ``stream``, when given, builds the store into a :class:`StoreWriter`
    chunk by chunk (bounded memory) and returns its metadata; the cached
    store is then opened memory-mapped. ``build`` (the whole store in
    memory) serves ``use_cache=False``. A cache that fails to load
    (checksum mismatch, truncation, old format) is logged and rebuilt.
    """
    if not use_cache:
        return build()
    stem = Path(cache_dir if cache_dir is not None
                else default_cache_dir()) / cache_key(name, params)
    if stem.exists():
        try:
            return load_store(stem)
        except ValueError as err:
            log.warning("rebuilding %s: %s", name, err)
    if stream is not None:
        with StoreWriter(stem) as w:
            w.finish(stream(w))
        return load_store(stem)
    store = build()
    save_store(store, stem)
    return store
