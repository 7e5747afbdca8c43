"""Helpers of the report tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def benchmark_script(name: str):
    """``benchmarks/<name>.py`` loaded as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}",
                                                  ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed(path: Path, what: str) -> Path:
    """``path``, a file of a committed reference run (``what``); a failure, not a skip, when it is
    missing."""
    if not path.exists():
        pytest.fail(f"{path.parent} is missing: {what} must be committed")
    return path
