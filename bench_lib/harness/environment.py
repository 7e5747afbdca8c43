"""What a measurement was made on: packages, CPU, threads, GPU, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "pip_freeze", "stack_text", "STACK_PACKAGES"]

PACKAGES = ("bench_lib", "torch", "dgl", "numpy", "scipy", "pandas", "torch_geometric", "numba",
            "rdkit", "ogb")
#: The packages that make a stack (docs/stacks.md): what ``stack_text`` names and compare tells
#: apart.
STACK_PACKAGES = ("torch", "numpy", "pandas", "torch_geometric", "dgl", "numba")


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
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5,
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


def _packages() -> dict:
    """Each of :data:`PACKAGES`' installed version; DGL's only where it imports (a dgl 2.1.0 left
    beside a newer torch is installed but cannot run: the run did not use it)."""
    from bench_lib.deps import dgl_available

    found = {p: _version(p) for p in PACKAGES}
    if found["dgl"] and not dgl_available():
        found["dgl"] = None
    return found


def pip_freeze() -> str:
    """Every installed distribution as ``name==version`` lines (``pip freeze``'s format, read from
    this interpreter's metadata, so it needs no pip), sorted by name; bench_lib itself left out."""
    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower().replace("_", "-") != "bench-lib":
            seen.setdefault(name.lower(), f"{name}=={dist.version}")
    return "".join(line + "\n" for _, line in sorted(seen.items()))


def stack_text(packages: dict) -> str:
    """``torch 2.14.1, numpy 2.4.6, ..., dgl none``: the stack an ``environment.json``'s packages
    name (a package the run did not record is left out: older runs recorded fewer)."""
    return ", ".join(f"{p} {packages.get(p) or 'none'}" for p in STACK_PACKAGES if p in packages)


def environment() -> dict:
    """The machine and software of this run (each cell records its own threads and load)."""
    import torch

    gpu = None
    if torch.cuda.is_available():
        gpu = {"name": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
               "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "host": platform.node(), "python": platform.python_version(),
            "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(), "memory_gib": _memory_gib(), "gpu": gpu,
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "git_commit": _git_commit(), "packages": _packages(),
    }
