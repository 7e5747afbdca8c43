"""Imports of heavy or optional dependencies, in one place.

DGL is CPU-only on PyPI and slow to import, so nothing imports it at module
level: code that needs it calls :func:`import_dgl`.
"""

from __future__ import annotations

import warnings

__all__ = ["import_dgl"]


def import_dgl():
    """``import dgl``, quietly.

    ``dgl`` imports ``ogb``, whose ``outdated`` dependency (0.2.2) checks
    PyPI for a newer version in a background thread, ignoring
    ``OUTDATED_IGNORE``; offline it only warns that the check failed. That
    one warning is filtered; every other warning is left alone.
    """
    warnings.filterwarnings("ignore", message="Failed to check for latest version of package")
    import dgl

    return dgl
