"""The batching check of a suite's models, run before any cell is timed.

Each (dataset, model, parameters, backend) of the suite is built as its
first seed's cell builds it and checked under the strategies and budgets of
that seed's cells (:func:`bench_lib.models.check.check_batching`): a model
that is not safe to batch is refused with one line naming the model, the
strategy, the worst graph and the size of the difference.
"""

from __future__ import annotations

import json
from typing import Callable

import torch

from bench_lib.data import store_splits
from bench_lib.schema import CellSpec
from bench_lib.harness.progress import phase
from bench_lib.harness.train import build_model
from bench_lib.models.check import check_batching, sample_graphs
from bench_lib.strategies import STRATEGIES

__all__ = ["check_cells"]


def _key(c: CellSpec) -> tuple:
    return (c.dataset, c.n_graphs, json.dumps(c.dataset_options, sort_keys=True), c.model,
            json.dumps(c.model_params, sort_keys=True), c.backend if c.device == "cpu" else "torch")


def _quiet(line: str) -> None:
    """Say nothing."""


def check_cells(cells: list[CellSpec], load: Callable[[CellSpec], object],
                say: Callable[[str], None] = _quiet) -> list[str]:
    """Problems (one line per model and dataset that fails; empty: every model is safe to batch).
    ``load`` gives a cell's graphs: those the cells were planned on
    (:meth:`bench_lib.cells.Plan.store_of`), not loaded again."""
    groups: dict[tuple, list[CellSpec]] = {}
    for c in cells:
        if c.model != "none":
            groups.setdefault(_key(c), []).append(c)
    problems = []
    for k, ((dataset, _, _, model_name, _, backend), group) in enumerate(groups.items()):
        phase(f"batching check {k + 1}/{len(groups)}: {model_name} on {dataset}")
        first = group[0]
        strategies = {}
        for c in group:
            if c.seed == first.seed:
                label = f"{c.strategy} ({'+'.join(c.views)})"
                strategies.setdefault(label, STRATEGIES.create(c.strategy, **c.strategy_params))
        store = load(first)
        train = store_splits(store, seed=first.dataset_seed)["train"]
        torch.manual_seed(first.seed)
        try:
            model, _ = build_model(first, store, train)
        except NotImplementedError as err:  # the cells record it as skipped
            say(f"{model_name} on {dataset}: not checked ({err})")
            continue
        failures, errors, sample = None, [], sample_graphs(store, train)
        # single precision for a model that cannot run in double
        for dtype in (torch.float64, torch.float32):
            try:
                failures = check_batching(model, store, strategies, backend=backend, sample=sample,
                                          seed=first.seed, dtype=dtype)
                break
            except Exception as err:  # noqa: BLE001 (a plugin model may raise anything)
                errors.append(f"{type(err).__name__}: {err}")
        precision = "double" if not errors else "single"
        if failures is None:
            problems.append(
                f"model {model_name!r} could not be checked on {dataset}: {errors[-1]} (the "
                f"batching check runs forward and backward passes on the CPU; --no-batching-check "
                f"times it unchecked)")
        elif not failures:
            say(f"{model_name} on {dataset}: safe to batch (the batching check passed under "
                f"{len(strategies)} strategy budget(s), {backend} backend, {precision} precision)")
        else:
            worst = max(failures, key=lambda f: f.difference)
            others = [f for f in failures if f is not worst]
            names = dict.fromkeys(f.strategy.split(" (")[0] for f in others)
            problems.append(f"model {model_name!r} is not safe to batch on {dataset}: "
                            f"{worst.describe()}"
                            + (f"; it fails under {len(others)} other budget(s) too "
                               f"({', '.join(names)})"
                               if others else "")
                            + f" (python -m bench_lib.models check {model_name} --dataset "
                              f"{dataset})")
    return problems
