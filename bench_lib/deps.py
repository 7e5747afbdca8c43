"""Imports of heavy or optional dependencies, in one place.

DGL is optional: it lives on its own pinned stack (``pip install 'bench_lib[dgl]'``:
dgl 2.1.0 loads only with torch 2.0.0-2.2.1), while bench_lib's default stack is
today's torch, numpy 2 and PyG. Nothing imports DGL at module level: code that
needs it calls :func:`import_dgl`, which raises :class:`DGLMissing` (an
``ImportError`` that says how to get DGL) where it cannot be imported.
:func:`dgl_available` asks without raising, and :func:`resolve_backend` turns
the backend ``auto`` into ``dgl`` or ``torch``.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

__all__ = ["import_dgl", "dgl_available", "dgl_missing_reason", "DGLMissing", "DGL_EXTRA",
           "DGL_HINT",
           "BACKEND_CHOICES", "resolve_backend", "quiet_jit_deprecation"]

DGL_EXTRA = "bench_lib[dgl]"
DGL_HINT = (f"pip install '{DGL_EXTRA}' brings DGL's own pinned stack (dgl 2.1.0 on torch 2.2.1; "
            "`make bench-dgl` builds it in .venv-dgl), see docs/stacks.md")
BACKEND_CHOICES = ("auto", "dgl", "torch")


class DGLMissing(ImportError):
    """DGL cannot be imported here; the message says why and how to get it."""


@functools.lru_cache(maxsize=1)
def _load_dgl():
    """(dgl module, None) or (None, why it did not import)."""
    warnings.filterwarnings("ignore", message="Failed to check for latest version of package")
    try:
        import dgl
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] == "dgl":
            return None, "DGL is not installed"
        return None, f"DGL does not import here ({type(err).__name__}: {err})"
    # dgl 2.1.0 on another torch: FileNotFoundError (graphbolt)
    except Exception as err:  # noqa: BLE001
        import torch

        return None, (f"DGL does not import with torch {torch.__version__} ({type(err).__name__}: "
                      f"{str(err).splitlines()[0][:160]})")
    return dgl, None


def import_dgl():
    """``import dgl``, quietly, or :class:`DGLMissing` naming ``bench_lib[dgl]``.

    ``dgl`` imports ``ogb``, whose ``outdated`` dependency (0.2.2) checks
    PyPI for a newer version in a background thread, ignoring
    ``OUTDATED_IGNORE``; offline it only warns that the check failed. That
    one warning is filtered; every other warning is left alone.
    """
    dgl, why = _load_dgl()
    if dgl is None:
        raise DGLMissing(f"{why}: {DGL_HINT}")
    return dgl


def dgl_available() -> bool:
    """Whether DGL imports in this environment (imported once, then remembered)."""
    return _load_dgl()[0] is not None


def dgl_missing_reason() -> str | None:
    """Why DGL does not import here (None where it does)."""
    return _load_dgl()[1]


def resolve_backend(backend: str, device: str = "cpu") -> str:
    """``auto``: ``dgl`` where DGL imports and the device is the CPU (PyPI's DGL is CPU-only), else
    ``torch``; ``dgl`` and ``torch`` stay as they are."""
    if backend != "auto":
        return backend
    return "dgl" if device == "cpu" and dgl_available() else "torch"


@contextlib.contextmanager
def quiet_jit_deprecation():
    """Imports of PyG (and of ``ogb``, which imports PyG where it is installed) without the
    FutureWarning that torch 2.14 and newer give for PyG 2.8's ``torch.jit.script`` calls at import
    (every process would print it); every other warning is left alone."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                category=FutureWarning)
        yield
