"""What a measurement was made on: packages, CPU, threads, GPU, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["environment"]

PACKAGES = ("bench_lib", "torch", "dgl", "numpy", "scipy", "pandas", "rdkit", "ogb")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def environment() -> dict:
    """The machine and software of this run (each cell records its own threads and load)."""
    import torch

    gpu = None
    if torch.cuda.is_available():
        gpu = {"name": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
               "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "host": platform.node(), "python": platform.python_version(), "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(), "memory_gib": _memory_gib(), "gpu": gpu,
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "git_commit": _git_commit(), "packages": {p: _version(p) for p in PACKAGES},
    }
