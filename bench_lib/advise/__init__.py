"""``python -m bench_lib.advise DATASET``: which batching strategy, predicted in about a minute.

Two steps, both on this machine:

1. **Planning alone** (no model): the suite's cells for DATASET (the default
   suite's settings, or ``--config``'s) at its budgets scaled by 0.5, 1 and 2,
   each strategy's parameters resolved as the suite resolves them, and of
   each plan the node and edge efficiency, real graphs per step and the node,
   edge and graph slots per step (:func:`bench_lib.harness.planning.plan_metrics`,
   the same numbers a suite's records hold).
2. **Calibration**: a few timed steps of the suite's model at several slot
   counts (``dynamic-budget`` batches padded to chosen node, edge and graph
   slots, one cell each, run by the suite's own runner: worker processes
   taking turns window by window, batch building plus the training step timed
   on the suite's step clock and thread count), fitted as a cost model
   ``step s = a + b * node slots + c * edge slots + d * graph slots``
   (non-negative least squares on relative error).

The predicted graphs/s of a strategy is its real graphs per step over the
cost model's step time at its slots per step. It is a prediction, not a
measurement: the printed suite command measures it (with intervals and time to
accuracy, which planning cannot predict).

Planning, the run and the command line are here; the cost model, its
calibration and the predictions in :mod:`bench_lib.advise.cost_model`; what is
printed in :mod:`bench_lib.advise.text`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

from bench_lib.parsing import add_table_flags, prog
from bench_lib.harness.progress import Heartbeat
from bench_lib.advise.cost_model import (SCALES, Advice, CostModel, calibrate, calibration_points,
                                         calibration_spec, fit_cost_model, predict)
from bench_lib.advise.text import advice_json, advice_markdown

__all__ = ["SCALES", "PREDICTED", "CostModel", "fit_cost_model", "calibration_points",
           "calibration_spec",
           "asked_config", "suite_config", "not_predicted", "plan_cells",
           "calibrate", "predict", "advise", "advise_routes", "advice_markdown", "advice_json",
           "main"]

# What advise predicts, whatever the configuration asks: eager steps, one process, batches built
# inline.
PREDICTED = {"execution": ("eager",), "ranks": (1,), "prefetch": 0}


def asked_config(dataset: str, config: Path | None = None, **overrides):
    """``config`` (default: the default suite) for ``dataset`` alone, with the suite's command-line
    ``overrides``, as the user asked for it, fitted to this stack (without DGL, the suite file's
    DGL-only arms left out; :mod:`bench_lib.stack`)."""
    from bench_lib.config import Overrides, load_config
    from bench_lib.stack import fit_to_stack
    from bench_lib.suite import default_config_path

    cfg = load_config(config or default_config_path(),
                      Overrides(datasets=[dataset], **overrides))
    return fit_to_stack(cfg, [], cli_strategies=overrides.get("strategies"), cli_datasets=[dataset],
                        cli_backend=overrides.get("backend"))


def one_model(asked) -> tuple[object, list[str]]:
    """``(configuration, other models)``: advise times one model, the dataset's first
    unless ``--models`` chose; the others are named in the answer."""
    d = asked.datasets[0]
    if len(d.models) <= 1:
        return asked, []
    return dataclasses.replace(asked, datasets=(dataclasses.replace(d, models=d.models[:1]),
                                                )), list(d.models[1:])


def _as_predicted(asked):
    """The configuration advise plans and times: ``asked``, first seed only, with
    :data:`PREDICTED`'s settings."""
    return dataclasses.replace(asked, seeds=asked.seeds[:1], **PREDICTED)


def suite_config(dataset: str, config: Path | None = None, **overrides):
    """The suite configuration advise plans and times (see :func:`asked_config` for the
    arguments)."""
    return _as_predicted(one_model(asked_config(dataset, config, **overrides))[0])


def not_predicted(asked) -> dict:
    """The settings of the asked configuration that advise replaces by :data:`PREDICTED`, as the
    configuration has them; empty when it asks for nothing else."""
    return {k: getattr(asked, k) for k, v in PREDICTED.items() if getattr(asked, k) != v}


def _scaled(settings, scale: float, pack_nodes: int):
    """A dataset's settings with node slots and graphs per step times ``scale`` (node slots
    stay a multiple of the pack size; a set edge budget scales with them)."""
    packs = max(1, round(settings.node_slots / pack_nodes * scale))
    edge_slots = None if settings.edge_slots is None else \
        int(math.ceil(settings.edge_slots * packs * pack_nodes / settings.node_slots))
    return dataclasses.replace(settings, node_slots=packs * pack_nodes, edge_slots=edge_slots,
                               pack_nodes=pack_nodes,
                               graphs_per_step=max(1, round(settings.graphs_per_step * scale)))


def plan_cells(cfg, scales=SCALES) -> tuple[list[dict], dict[float, str], tuple[int, int]]:
    """One row per cell the suite would run at each budget scale: the cell, its view(s) and its
    plan's metrics (planning only); the scales left out, with why (a budget too small for the
    largest graph; the suite's own budget, scale 1, must plan); and the training split's largest
    node and edge counts."""
    from bench_lib.cells import dataset_store, plan_suite
    from bench_lib.config import ConfigError
    from bench_lib.data import store_splits
    from bench_lib.harness.batching import check_cells
    from bench_lib.strategies.fairness import default_pack_nodes
    from bench_lib.harness.planning import plan_metrics
    from bench_lib.strategies import STRATEGIES
    from bench_lib.strategies.loader import BatchLoader

    d = cfg.datasets[0]
    seed = cfg.seeds[0]
    stores: dict = {}  # every budget scale plans on the same graphs, loaded once
    store = dataset_store(d, seed, stores)
    train = store_splits(store, seed=d.seed_for(seed))["train"]
    pack_nodes = d.pack_nodes or default_pack_nodes(d.node_slots, int(store.n_node[train].max()))
    rows, skipped = [], {}
    for scale in scales:
        settings = _scaled(d, scale, pack_nodes)
        try:
            plan = plan_suite(dataclasses.replace(cfg, datasets=(settings,)), stores=stores)
        except ConfigError as err:
            if scale == 1.0:
                raise
            skipped[scale] = err.problems[0]
            continue
        if scale == 1.0:  # a model that is not safe to batch is refused, as the suite refuses it
            unsafe = check_cells(plan.cells, load=plan.store_of)
            if unsafe:
                raise ConfigError(unsafe)
        for spec in plan.cells:
            loader = BatchLoader(store, STRATEGIES.create(spec.strategy, **spec.strategy_params),
                                 train, seed=seed)
            rows.append({"scale": scale, "spec": spec, "node_slots_budget": settings.node_slots,
                         "graphs_per_step_budget": settings.graphs_per_step,
                         **plan_metrics(loader.plan(0), loader.n_node, loader.n_edge)})
    return rows, skipped, (int(store.n_node[train].max()), int(store.n_edge[train].max()))


def advise(dataset: str, config: Path | None = None, seconds: float = 4.0, progress=None,
           suite_args: list[str] | None = None, **overrides) -> Advice:
    """Plan every strategy, calibrate the cost model and predict graphs/s (see the module
    docstring). ``overrides``: :class:`bench_lib.config.Overrides` fields (strategies,
    models, options...); ``suite_args``: the same as suite flags, for the printed command."""
    t0 = time.perf_counter()
    asked = asked_config(dataset, config, **overrides)
    if overrides.get("models") and len(overrides["models"]) > 1:
        raise ValueError(f"advise times one model; --models names "
                         f"{', '.join(overrides['models'])}: choose one")
    asked, others = one_model(asked)
    cfg = _as_predicted(asked)
    planned, skipped, largest = plan_cells(cfg)
    # the libraries' own loaders build their batches with their own collaters, which the calibration
    # (bench_lib's) does not time: planned as `dynamic`, they would be predicted as fast as it
    # (benchmarks/advise.py measured PyG's DataLoader 14% slower on nci5k); the suite measures them
    from bench_lib.strategies import STRATEGIES

    baselines = list(dict.fromkeys(r["spec"].strategy for r in planned
                                   if STRATEGIES.get(r["spec"].strategy).baseline))
    every, planned = planned, [r for r in planned if r["spec"].strategy not in baselines]
    if not planned:
        raise ValueError(f"advise predicts bench_lib's strategies; {', '.join(baselines)} "
                         f"build their batches with another library's loader, which it does not "
                         f"time: measure them with python -m bench_lib.suite")
    models = list(dict.fromkeys(r["spec"].model for r in planned))
    t1 = time.perf_counter()
    cost = calibrate(planned, largest, seconds, progress=progress)
    t2 = time.perf_counter()
    for r in planned:
        r["predicted_step_s"], r["predicted_graphs_per_s"] = predict(cost, r)
    spec = planned[0]["spec"]
    one = [r for r in planned if r["scale"] == 1.0]
    settings = {"threads": spec.threads, "clock": "cpu" if spec.timed_on_cpu_clock else "wall",
                "backend": spec.backend, "device": spec.device, "seed": spec.seed,
                "malloc": spec.malloc,
                "node_slots": one[0]["node_slots_budget"],
                "graphs_per_step": one[0]["graphs_per_step_budget"],
                "edge_slots": next((r["spec"].edge_slots_budget for r in one
                                    if r["spec"].edge_slots_budget), None),
                "model_params": spec.model_params, "strategies": list(cfg.strategies),
                "not_predicted": not_predicted(asked), "other_models": others,
                "baselines_not_predicted": baselines}
    return Advice(dataset, models[0], planned, cost, settings,
                  _command(dataset, every, suite_args or [], spec),  # the baselines measured too
                  {"planning_s": t1 - t0, "calibration_s": t2 - t1,
                   "total_s": time.perf_counter() - t0}, skipped)


def advise_routes(dataset: str, routes: list[str], steps: int, config: Path | None = None,
                  seconds: float = 4.0, progress=None, **overrides) -> dict:
    """Which compile route, measured here (:mod:`bench_lib.advise.routes`): each strategy eager and
    under the routes its plan's shapes fit, one group of the suite's cells, ranked by the time for
    ``steps`` steps with the compile seconds counted."""
    from bench_lib.advise.cost_model import _Progress
    from bench_lib.advise.routes import (ROUTE_STRATEGIES, check_routes, eager_base, ranked,
                                         route_cells)
    from bench_lib.harness.progress import phase
    from bench_lib.harness.runner import run_group

    check_routes(routes, steps)
    overrides["strategies"] = overrides.get("strategies") or list(ROUTE_STRATEGIES)
    asked, _ = one_model(asked_config(dataset, config, **overrides))
    base = eager_base(asked)
    planned, _, _ = plan_cells(base, scales=(1.0,))
    cells = route_cells(base, planned, routes, seconds)
    what = (f"timing {len(cells)} cells in turns (each compiled one compiles from a cold cache, "
            f"then again from its warm one)")
    if progress:
        progress(what)
    phase(what)
    records = run_group(cells, progress=_Progress(progress))
    return ranked(records, steps, dataset, cells[0].model)


def _command(dataset: str, planned: list[dict], suite_args: list[str], spec=None) -> str:
    """The suite command that measures what advise predicted: the same dataset, strategies and
    settings, into a results folder of its own, with the target value when the dataset has one (time
    to accuracy; without one the suite measures throughput and memory, and the text says how to add
    it)."""
    import shlex

    from bench_lib.report.names import file_stem

    strategies = list(dict.fromkeys(r["spec"].strategy for r in planned))
    words = ["python -m bench_lib.suite", "--datasets", shlex.quote(dataset), "--strategies",
             ",".join(strategies)]
    words += [shlex.quote(a) for a in suite_args]
    if spec is not None and spec.goal is not None:
        if spec.metric != "mae":
            words += ["--target-metric", spec.metric]
        words += ["--target-value", f"{spec.goal:g}"]
    return " ".join(words + ["--out", shlex.quote(f"results/advise-{file_stem(dataset)}")])


def _parser() -> argparse.ArgumentParser:
    from bench_lib.data import parse_option

    parser = argparse.ArgumentParser(prog=prog("python -m bench_lib.advise"),
                                     description=("Predict each batching strategy's graphs/s on "
                                                  "this machine for DATASET: planning, then a "
                                                  "short calibration of step time against slots "
                                                  "(about a minute)."))
    parser.add_argument("dataset", help="a dataset name (python -m bench_lib.suite --list) or "
                                        "csv:/sdf:/xyz:PATH")
    parser.add_argument("--config", type=Path,
                        help="suite TOML whose settings to use (default: the default suite)")
    parser.add_argument("--strategies", help="comma-separated strategies (default: the config's)")
    parser.add_argument("--models", help="the model to time (default: the dataset's in the config)")
    parser.add_argument("--target", help="target column (csv/sdf files)")
    add_table_flags(parser)
    parser.add_argument("--option", type=parse_option, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="dataset option, as for the suite")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="about this many step-clock seconds of timed calibration steps in all "
                             "(default 4; at least 2 windows per repeat)")
    parser.add_argument("--json", type=Path, help="also write the advice as JSON here")
    parser.add_argument("--execution", metavar="ROUTES",
                        help="comma-separated compile routes (compile-static, compile, "
                             "compile-marked, compile-dynamic, cudagraphs): time each strategy "
                             "eager and under the routes that fit its shapes, and name the route "
                             "with the least time for --steps steps, compiling included "
                             "(bench_lib.advise.routes; measured here)")
    parser.add_argument("--steps", type=int, default=10_000,
                        help="the training steps the compile cost is counted against, with "
                             "--execution (default 10000)")
    parser.add_argument("--device-profile", metavar="NAME",
                        help="project for a device of bench_lib/costs/devices.toml (a100-40gb, "
                             "h100-sxm, h200) from counted costs instead of calibrating on this "
                             "machine: projected, not measured")
    return parser


def suite_flags(args: argparse.Namespace) -> list[str]:
    """The suite's flags for the settings ``args`` (advise's) chose, for the printed command."""
    flags = ["--config", str(args.config)] if args.config else []
    for flag, value in (("--models", args.models), ("--target", args.target),
                        ("--smiles-column", args.smiles_column), ("--id-column", args.id_column)):
        if value:
            flags += [flag, value]
    for k, v in args.option:
        flags += ["--option", f"{k}={v}"]
    return flags


def main(argv: list[str] | None = None) -> int:
    from bench_lib.config import ConfigError

    args = _parser().parse_args(argv)
    def split(s):
        return None if s is None else [x.strip() for x in s.split(",") if x.strip()]
    if not args.seconds > 0:
        print(f"error: --seconds must be > 0 (got {args.seconds:g})", file=sys.stderr)
        return 2
    suite_args = suite_flags(args)
    def progress(text):
        return print(text, file=sys.stderr, flush=True)
    if args.execution is not None:  # measured here; with --device-profile, projected beside it
        return _routes(args, split, progress)
    if args.device_profile:
        return _projected(args, split)
    try:
        with Heartbeat():
            advice = advise(args.dataset, args.config, seconds=args.seconds, progress=progress,
                            suite_args=suite_args, **_asked(args, split))
    except (ConfigError, ValueError, FileNotFoundError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    text = advice_markdown(advice)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(advice_json(advice), indent=1))
    print(text)
    return 0


def _asked(args, split) -> dict:
    """The suite's settings advise's flags change (:class:`bench_lib.config.Overrides` fields),
    the same for every answer advise gives."""
    return {"strategies": split(args.strategies), "models": split(args.models),
            "target": split(args.target), "options": dict(args.option),
            "smiles_column": args.smiles_column, "id_column": args.id_column}


def _routes(args, split, progress) -> int:
    """``--execution``: rank the compile routes for the data (bench_lib.advise.routes)."""
    from bench_lib.advise.routes import routes_markdown
    from bench_lib.config import ConfigError

    try:
        with Heartbeat():
            answer = advise_routes(args.dataset, split(args.execution) or [], args.steps,
                                   args.config, seconds=args.seconds, progress=progress,
                                   **_asked(args, split))
    except (ConfigError, ValueError, FileNotFoundError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(answer, indent=1, default=str))
    print(routes_markdown(answer))
    if args.device_profile:  # the accelerator's side: projected from counted costs, labelled so
        print()
        return _projected(args, split)
    return 0


def _projected(args, split) -> int:
    """``--device-profile``: plan, count and project (bench_lib.advise.device); nothing is timed."""
    from bench_lib.advise.device import project_rows, projection_markdown
    from bench_lib.config import ConfigError
    from bench_lib.costs.project import load_profiles

    profiles = load_profiles()
    if args.device_profile not in profiles:
        print(f"error: --device-profile {args.device_profile!r} is not a profile of "
              f"bench_lib/costs/devices.toml; valid: {', '.join(profiles)}", file=sys.stderr)
        return 2
    try:
        asked = asked_config(args.dataset, args.config, **_asked(args, split))
        asked, _ = one_model(asked)
        planned, _, _ = plan_cells(_as_predicted(asked), scales=(1.0,))
    except (ConfigError, ValueError, FileNotFoundError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    profile = profiles[args.device_profile]
    rows = project_rows(planned, profile)
    print(projection_markdown(args.dataset, rows[0]["spec"].model, rows, profile))
    return 0

