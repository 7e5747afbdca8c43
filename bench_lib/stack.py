"""What this environment's stack can run: a suite configuration fitted to it.

bench_lib runs on two stacks (docs/stacks.md): today's torch, numpy 2 and PyG
(the default), and DGL's pinned stack (``bench_lib[dgl]``: dgl 2.1.0 on torch
2.2.1). Without DGL, :func:`fit_to_stack` leaves out the DGL-only parts a suite
file names (the ``dgl-loader`` arm, the DGL-built datasets), with one note
each saying why and how to get them, and refuses those the command line asks
for (``--backend dgl``, ``--strategies dgl-loader``, ``--datasets zinc``) with
one problem each that names ``bench_lib[dgl]``; it also turns the backend
``auto`` into the one that runs here. Nothing is left to fail later on a
missing import.
"""

from __future__ import annotations

import dataclasses

from bench_lib.config import ConfigError, SuiteConfig
from bench_lib.data import DGL_DATASETS
from bench_lib.deps import DGL_EXTRA, DGL_HINT, dgl_available, dgl_missing_reason, resolve_backend
from bench_lib.strategies import STRATEGIES

__all__ = ["fit_to_stack", "dgl_strategies"]


def dgl_strategies(names) -> list[str]:
    """The strategies of ``names`` that cannot run without DGL."""
    return [n for n in names if n in STRATEGIES.names() and STRATEGIES.get(n).needs_dgl]


def fit_to_stack(cfg: SuiteConfig, notes: list[str], *, cli_strategies=None, cli_datasets=None,
                 cli_backend: str | None = None, where: str = "the suite file") -> SuiteConfig:
    """``cfg`` with its backend resolved and, without DGL, its DGL-only parts left out (``notes``
    say which and why); a ``ConfigError`` for a DGL-only part named on the command line (``cli_*``:
    what the flags named, None where not given) or a suite file's explicit ``backend = "dgl"``."""
    backend = resolve_backend(cfg.backend, cfg.device)
    if cfg.backend == "auto":
        if backend == "dgl":
            why = "DGL imports here"
        elif cfg.device != "cpu":
            why = f"PyPI's DGL runs on the CPU only, the device is {cfg.device}"
        else:
            why = dgl_missing_reason()
        notes.append(f"backend: {backend} (auto: {why})")
    if dgl_available():
        return dataclasses.replace(cfg, backend=backend)
    reason = dgl_missing_reason()
    problems = _refused(cfg, reason, cli_strategies or (), cli_datasets or (), cli_backend, where)
    if problems:
        raise ConfigError(problems)
    strategies = dgl_strategies(cfg.strategies)
    for name in strategies:
        notes.append(f"strategy {name}: left out ({reason}; {DGL_HINT})")
    datasets = [d.name for d in cfg.datasets if d.name in DGL_DATASETS]
    for name in datasets:
        notes.append(f"dataset {name}: left out (built by DGL's loaders; {reason}; {DGL_HINT})")
    return dataclasses.replace(
        cfg, backend=backend,
        strategies=tuple(s for s in cfg.strategies if s not in strategies),
        datasets=tuple(d for d in cfg.datasets if d.name not in datasets),
        strategy_fairness={k: v for k, v in cfg.strategy_fairness.items() if k not in strategies},
        execution_only={k: [s for s in v if s not in strategies]
                        for k, v in cfg.execution_only.items()})


def _refused(cfg: SuiteConfig, reason: str, cli_strategies, cli_datasets, cli_backend,
             where) -> list[str]:
    """The DGL-only parts asked for explicitly: one problem each, naming ``bench_lib[dgl]``."""
    problems = []
    if cli_backend == "dgl":
        problems.append(f"--backend dgl: {reason}; {DGL_HINT}; or use --backend torch")
    elif cfg.backend == "dgl":
        problems.append(
            f"{where}: backend = \"dgl\": {reason}; {DGL_HINT}; or set backend = \"auto\" "
            "(--backend auto) to run plain torch here")
    for name in dgl_strategies(cli_strategies):
        problems.append(f"--strategies {name}: needs DGL ({reason}); {DGL_HINT}")
    for name in (n for n in cli_datasets if n in DGL_DATASETS):
        problems.append(f"--datasets {name}: built by DGL's loaders, which need {DGL_EXTRA} "
                        f"({reason}); {DGL_HINT}")
    return problems
