"""The cells of a suite, planned: :func:`expand_cells` turns a
:class:`~bench_lib.config.SuiteConfig` into one :class:`~bench_lib.schema.CellSpec` per dataset,
seed, fairness view, strategy, model, execution and number of ranks, parameters resolved (nothing is
timed here).

It goes in steps, one function each: the suite's clock and timed windows
(:func:`timed_windows`); per dataset and seed, its data, the models it can
feed (:func:`models_for`) and its target (:func:`_task`), checked
(:func:`_seed_data`); per seed, the budgets of the fairness views
(:func:`_expand_seed`); per view and strategy, the strategy's parameters and
its cells (:func:`_expand_strategy`). Every problem found on the way is raised
at the end, all together, as one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from typing import NamedTuple

import numpy as np

from bench_lib.config import ConfigError, DatasetSettings, SuiteConfig
from bench_lib.data import FILE_KINDS, load_dataset, local_stamp, store_splits
from bench_lib.deps import resolve_backend
from bench_lib.schema import CellSpec
from bench_lib.strategies.fairness import budgets_for, resolve
from bench_lib.strategies import STRATEGIES
from bench_lib.harness.progress import phase
from bench_lib.strategies.budget import Budget, SlotBudget

__all__ = ["MIN_LABELLED", "Plan", "PlannedData", "plan_suite", "dataset_store", "expand_cells",
           "models_for", "timed_windows"]

_BUDGET_FIELDS = ("views", "node_slots_budget", "edge_slots_budget", "graphs_per_step_budget")


def _budget_fields(view: str, budget) -> dict:
    if view == "manual":
        return {"views": ("manual",)}
    if isinstance(budget, SlotBudget):
        return {"views": (view,), "node_slots_budget": budget.node_slots,
                "edge_slots_budget": budget.edge_slots}
    return {"views": (view,), "graphs_per_step_budget": budget.graphs_per_step}


def _merge(a: CellSpec, b: CellSpec) -> CellSpec:
    """One cell serving the views of both (their measurements are identical)."""
    fields = {k: getattr(b, k) for k in _BUDGET_FIELDS[1:] if getattr(b, k) is not None}
    return dataclasses.replace(a, views=tuple(dict.fromkeys(a.views + b.views)), **fields)


def _measurement_key(spec: CellSpec) -> str:
    what = json.loads(spec.to_json())
    for k in _BUDGET_FIELDS:
        what.pop(k)
    return json.dumps(what, sort_keys=True)


def models_for(settings, store,
               mode: str = "train") -> tuple[tuple[str, ...], list[str], list[str]]:
    """``(models, problems, skipped)``: the dataset's models (chosen by what the
    data has when the settings name none); a named model the data cannot feed
    (it lacks what the model needs) is skipped with the reason, and it is a
    problem when no named model is left."""
    from bench_lib.models import MODELS

    if mode != "train":
        return ("none",), [], []
    if not settings.models:
        return (("schnet",) if store.positions is not None else ("gin",)), [], []
    why = {m: MODELS.missing(m, store) for m in settings.models}
    fit = tuple(m for m in settings.models if not why[m])
    if not fit:
        hint = "; use " + " or ".join(m for m in MODELS.names() if not MODELS.missing(m, store))
        return (), [f"[datasets.{settings.name}] models: {why[m]}" + hint
                    for m in settings.models], []
    return fit, [], [f"{settings.name}: model {m} skipped: {why[m]}" for m in settings.models
                     if why[m]]


#: Graphs with a label the validation and training splits need at least for a time-to-accuracy run.
MIN_LABELLED = {"train": 2, "val": 1}


def _task(settings, store, splits: dict, mode: str):
    """``(task, goal, problems)`` of a dataset: its :class:`~bench_lib.tasks.Task` (None: no
    target), the validation score to reach (None: no time-to-accuracy run) and what stops it from
    running, each problem naming what to change."""
    from bench_lib.tasks import check_target, resolve_task

    where = f"[datasets.{settings.name}]"
    names = store.meta.target_names
    if settings.target is not None and settings.target not in names:
        return None, None, [f"{where} target: no column {settings.target!r}; the dataset's targets "
                            f"are {list(names) or 'none'}"]
    try:  # no metric named: the task's (target_mae, the shorthand, is checked against it below)
        task = resolve_task(store, settings.target, kind=settings.task, metric=settings.metric,
                            dataset=settings.name)
    except ValueError as err:
        return None, None, [f"{where} {err}"]
    if task is None or mode != "train":
        # a loader-only cell trains nothing (its spec keeps the earlier fields)
        return task, None, []
    goal = settings.target_value if settings.target_value is not None else settings.target_mae
    problems = []
    if settings.target_mae is not None and task.metric != "mae":
        problems.append(f"{where} target_mae: {task.names[0]!r} is a {task.kind} target, scored by "
                        f"{task.metric}, not MAE; give the target in its terms: --target-metric "
                        f"{task.metric} --target-value X (target = {{metric = \"{task.metric}\", "
                        f"value = X}})")
        goal = None
    # the splits' labels matter to a time-to-accuracy run only
    labels = ({k: task.labels(store.targets[v]) for k, v in splits.items()} if goal is not None
              else {})
    problems += [f"{where} {p}" for p in check_target(task, goal, labels, settings.max_classes)]
    if goal is not None:
        for split, least in MIN_LABELLED.items():
            y = labels[split]
            have = int(np.isfinite(y).any(axis=1).sum()) if len(y) else 0
            if have < least:
                problems.append(
                    f"{where}: the {'validation' if split == 'val' else 'training'} split holds "
                    f"{have} graph(s) with a label ({len(splits[split])} graph(s) of "
                    f"{store.n_graph:,}); time to accuracy needs at least {least}: use more graphs "
                    f"(n_graphs, a larger file: about {10 * least + 10} or more), or leave out the "
                    f"target value to measure throughput and memory only")
    return task, goal, problems


def _constant_target(settings, store, splits: dict, task, mode: str) -> list[str]:
    """A regression target that holds one value in every labelled training graph: nothing to learn,
    and any target is 'reached' at step 0 by every strategy (one class only is the classification
    check's)."""
    if task is None or mode != "train" or task.kind != "regression":
        return []
    y = store.targets[splits["train"]][:, 0]
    y = y[np.isfinite(y)]
    if len(y) < 2 or np.ptp(y) > 0:
        return []
    return [(f"[datasets.{settings.name}]: target {task.names[0]!r} holds one value "
             f"({float(y[0]):g}) in every labelled graph of the training split: nothing to learn; "
             f"choose another target column, or leave the target out to measure throughput and "
             f"memory only")]


def timed_windows(cfg: SuiteConfig, notes: list[str] | None = None) -> int:
    """Windows per repeat: the configuration's, raised so that each cell is timed for at least
    ``min_timed_s`` seconds (repeats x windows x window_s): the default suite's timing, at which
    ``benchmarks/noise.py`` found strategy ratios within 10% between a quiet and a busy machine
    (``results/noise/benchmark.md``), what a shorter timing does not promise."""
    t, need = cfg.train, cfg.min_timed_s
    if not need or t.window_s <= 0 or cfg.repeats * t.windows * t.window_s >= need:
        return t.windows
    windows = math.ceil(round(need / (cfg.repeats * t.window_s), 9))
    if notes is not None:
        notes.append(
            f"windows raised from {t.windows} to {windows} per repeat, so that each cell is timed "
            f"for at least {need:g} s ({cfg.repeats} repeats x {windows} windows x {t.window_s:g} "
            f"s); below it strategy ratios did not hold on a busy machine (set [suite] min_timed_s "
            f"= 0 to keep yours)")
    return windows


@dataclasses.dataclass
class PlannedData:
    """One dataset as the suite's first seed planned it: the training split's node and edge counts,
    each view's budget, and each strategy's parameters in the views it runs in (what
    ``planning.json`` shows)."""

    n: np.ndarray
    e: np.ndarray
    seed: int
    budgets: dict[str, Budget]
    # view -> strategy -> params
    params: dict[str, dict[str, dict]] = dataclasses.field(default_factory=dict)


def _stored(stores: dict[tuple, object], name: str, n_graphs: int | None, options: dict,
            data_seed: int):
    """A dataset's graphs, loaded once into ``stores`` (keyed by what makes them)."""
    key = name, n_graphs, json.dumps(options, sort_keys=True, default=str), data_seed
    if key not in stores:
        phase(f"loading {name}" + (f" ({n_graphs:,} graphs)" if n_graphs else ""))
        stores[key] = load_dataset(name, n_graphs=n_graphs, seed=data_seed, **options)
    return stores[key]


def dataset_store(d: DatasetSettings, seed: int, stores: dict[tuple, object]):
    """Dataset ``d``'s graphs in the suite's seed ``seed``, loaded once into ``stores`` (a local
    file's stamp among its options, as its cells carry it)."""
    d = _stamped(d)
    return _stored(stores, d.name, d.n_graphs, d.options, d.seed_for(seed))


@dataclasses.dataclass
class Plan:
    """The suite planned once: its cells, the graphs each was planned on (loaded once per dataset
    and data seed), and each dataset's budgets and strategy parameters, for the batching check and
    ``planning.json``."""

    cells: list[CellSpec]
    stores: dict[tuple, object]
    datasets: dict[str, PlannedData]

    def store_of(self, spec: CellSpec):
        """The graphs a cell was planned on (loaded now if a cell of another plan asks)."""
        return _stored(self.stores, spec.dataset, spec.n_graphs, spec.dataset_options,
                       spec.dataset_seed)


@dataclasses.dataclass
class _Expansion:
    """What :func:`plan_suite` gathers as it goes: the suite, the clock and timed windows of its
    cells, the cells so far (by what they measure), the graphs loaded, what the first seed planned,
    the problems and the notes for the user."""

    cfg: SuiteConfig
    clock: str
    windows: int
    notes: list[str]
    stores: dict[tuple, object]
    cells: dict[str, CellSpec] = dataclasses.field(default_factory=dict)
    datasets: dict[str, PlannedData] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    def add(self, spec: CellSpec) -> None:
        """Add a cell, or merge it into the cell of another view that measures the same."""
        key = _measurement_key(spec)
        self.cells[key] = _merge(self.cells[key], spec) if key in self.cells else spec


class _SeedData(NamedTuple):
    """One dataset's data for one seed, checked: the graphs, their splits, the training split's node
    and edge counts, the models to run, the task and the validation score to reach (None: none)."""

    store: object
    splits: dict
    n: np.ndarray
    e: np.ndarray
    models: tuple[str, ...]
    task: object
    goal: float | None


def expand_cells(cfg: SuiteConfig, notes: list[str] | None = None) -> list[CellSpec]:
    """Every cell of the suite: :func:`plan_suite`'s cells."""
    return plan_suite(cfg, notes).cells


def plan_suite(cfg: SuiteConfig, notes: list[str] | None = None,
               stores: dict | None = None) -> Plan:
    """The suite's one planning pass: every cell, parameters resolved per fairness view (planning
    only).

    A cell whose parameters come out the same in two views is one cell that
    serves both. Everything that would fail a cell for its configuration (a
    dataset that does not load, a target it does not have, a model it cannot
    feed, a budget some graph of any split cannot fit, a strategy that cannot
    take it) is found here: all of them, as one ``ConfigError``. ``notes``
    collects what a user should know about each dataset (its target, its
    skipped records, why time to accuracy does not run). ``stores`` keeps the
    graphs loaded, for another plan of the same data (advise plans several
    budgets) and for :meth:`Plan.store_of`.
    """
    notes = [] if notes is None else notes
    windows = timed_windows(cfg, notes)
    plan = _Expansion(cfg, _suite_clock(cfg, notes), windows, notes,
                      {} if stores is None else stores)
    for d in cfg.datasets:
        _expand_dataset(plan, _stamped(d))
    if plan.problems:
        raise ConfigError(list(dict.fromkeys(plan.problems)))
    return Plan(list(plan.cells.values()), plan.stores, plan.datasets)


def _suite_clock(cfg: SuiteConfig, notes: list[str]) -> str:
    """The clock of every cell: the suite's, or the wall clock for all when some cells run more than
    one rank (a rank's wait for the others is wall time)."""
    # 1 and N ranks on one clock, so that they compare
    if cfg.clock == "auto" and max(cfg.ranks) > 1:
        notes.append("ranks > 1: every cell is timed on the wall clock (a rank's wait for the "
                     "others is wall time), 1-rank cells too, so that scaling efficiency compares "
                     "like with like")
        return "wall"
    return cfg.clock


def _stamped(d: DatasetSettings) -> DatasetSettings:
    """A local file's settings with the file's stamp among its options: an edited file makes new
    cells (a rerun measures it), not a resume of the old ones. Settings stamped already are kept
    (the files are read for their stamp once per plan, not once per seed)."""
    if d.name.split(":", 1)[0] in FILE_KINDS and ":" in d.name and "file_stamp" not in d.options:
        try:
            return dataclasses.replace(d, options={**d.options, "file_stamp": local_stamp(d.name)})
        except OSError:
            pass  # loading it says what is wrong with the path
    return d


def _expand_dataset(plan: _Expansion, d: DatasetSettings) -> None:
    """One dataset's cells, seed by seed; a problem with its data, models or target stops it there
    (the later seeds are not tried)."""
    for seed in plan.cfg.seeds:
        data = _seed_data(plan, d, seed)
        if data is None:
            break
        _expand_seed(plan, d, seed, data)


def _seed_data(plan: _Expansion, d: DatasetSettings, seed: int) -> _SeedData | None:
    """One seed's data (loaded once per data seed, kept in ``plan.stores``), models and target,
    checked; None when a problem stops the dataset. The first seed notes the dataset for the
    user."""
    cfg = plan.cfg
    data_seed = d.seed_for(seed)
    try:
        store = dataset_store(d, seed, plan.stores)
        phase(f"planning {d.name}, seed {seed}: budgets and strategies")
    except (ValueError, OSError, ImportError) as err:
        plan.problems.append(f"[datasets.{d.name}]: {err}")
        return None
    models, bad, skipped = models_for(d, store, cfg.mode)
    splits = store_splits(store, seed=data_seed)
    if not len(splits["train"]):
        plan.problems.append(
            f"[datasets.{d.name}]: the training split is empty ({store.n_graph} graph(s)); "
            "use more graphs")
        return None
    task, goal, bad_target = _task(d, store, splits, cfg.mode)
    bad_target += _constant_target(d, store, splits, task, cfg.mode)
    if seed == cfg.seeds[0]:
        plan.problems.extend(bad + bad_target)
        plan.notes.append(_dataset_note(d, store, task, goal, cfg.mode))
        plan.notes.extend(skipped)
    else:  # this seed's own split (one class in it, too few labels)
        plan.problems.extend(f"{p} (seed {seed})" for p in bad_target)
    if bad or bad_target:
        return None
    train = splits["train"]
    return _SeedData(store, splits, store.n_node[train], store.n_edge[train], models, task, goal)


def _expand_seed(plan: _Expansion, d: DatasetSettings, seed: int, data: _SeedData) -> None:
    """One seed's cells: the budget of each fairness view on the training split, checked on the
    other splits, then each strategy's cells in the views it runs in."""
    cfg = plan.cfg
    largest = int(data.store.n_node.max())
    try:
        budgets = budgets_for(d, data.n, data.e, cfg.fairness, seed=seed, largest=largest)
    except ValueError as err:
        plan.problems.append(f"[datasets.{d.name}] (seed {seed}): {err}; raise node_slots (and "
                             f"pack_nodes) in [datasets.{d.name}] to at least {largest}")
        return
    _check_pack_nodes(plan, d, seed, data, budgets)
    if not _fills_a_step(plan, d, data, budgets):
        return
    if seed == cfg.seeds[0]:
        plan.datasets[d.name] = PlannedData(data.n, data.e, seed, budgets)
    for view, budget in budgets.items():
        for strategy in cfg.strategies:
            if view in cfg.strategy_fairness.get(strategy, [view]):
                _expand_strategy(plan, d, seed, data, strategy, view, budget)


def _fills_a_step(plan: _Expansion, d: DatasetSettings, data: _SeedData, budgets: dict[str,
                  Budget]) -> bool:
    """Whether the training split holds at least one step of every view's budget (graphs per step,
    or node slots filled by real nodes); when it does not, every step would carry the whole split
    and no batching choice is left to compare: a problem naming what to change (said once, not once
    per seed)."""
    graphs, nodes = len(data.n), int(data.n.sum())
    short = [(view, f"{b.node_slots:,} node slots per step",
              "node_slots") if isinstance(b, SlotBudget)
             else (view, f"{b.graphs_per_step:,} graphs per step", "graphs_per_step")
             for view, b in budgets.items()
             if (nodes < b.node_slots if isinstance(b, SlotBudget) else graphs < b.graphs_per_step)]
    for view, need, key in short:
        problem = (f"[datasets.{d.name}]: the training split ({graphs:,} graph(s), {nodes:,} "
                   f"nodes) is smaller than one step of the {view} view ({need}): every step would "
                   f"carry the whole split; use more graphs (n_graphs, a larger file) or set a "
                   f"smaller {key} for it in a suite file")
        if problem not in plan.problems:
            plan.problems.append(problem)
    return not short


def _check_pack_nodes(plan: _Expansion, d: DatasetSettings, seed: int, data: _SeedData,
                      budgets: dict[str, Budget]) -> None:
    """A pack size set in the suite file holds the largest graph of the validation and test splits
    too (the training split's is checked with the budgets)."""
    for split in ("val", "test"):
        biggest = int(data.store.n_node[data.splits[split]].max(initial=0))
        small = sorted({b.pack_nodes for b in budgets.values() if b.pack_nodes < biggest})
        if small:
            plan.problems.append(f"[datasets.{d.name}] (seed {seed}): pack_nodes={small[0]} (set "
                                 f"in the suite file) is smaller than the largest graph of the "
                                 f"{split} split ({biggest} nodes); raise it to at least "
                                 f"{biggest}, or leave it out to derive it")


def _expand_strategy(plan: _Expansion, d: DatasetSettings, seed: int, data: _SeedData,
                     strategy: str,
                     view: str, budget: Budget) -> None:
    """One strategy's cells under one view's budget: its parameters (fixed by hand: checked on the
    split now, not in the cell), then one cell per model, execution and number of ranks."""
    cfg, t = plan.cfg, plan.cfg.train
    try:
        params, used = resolve(strategy, budget, data.n, data.e, cfg.strategy_params.get(strategy))
        if used == "manual":
            STRATEGIES.create(strategy, **params).prepare(data.n, data.e,
                                                          np.random.default_rng(seed))
    except (ValueError, TypeError) as err:
        plan.problems.append(f"[datasets.{d.name}] {strategy} ({view}, seed {seed}): {err}")
        return
    if seed == cfg.seeds[0]:
        plan.datasets[d.name].params.setdefault(view, {})[strategy] = params
    executions = [x for x in cfg.execution if strategy in cfg.execution_only.get(x, [strategy])]
    # data-parallel cells run eager steps only (see CellRun)
    arms = [(x, r) for x in executions for r in cfg.ranks if r == 1 or x == "eager"]
    timed = cfg.timed_seeds is None or cfg.seeds.index(seed) < cfg.timed_seeds
    if not timed and (data.goal is None or cfg.mode != "train"):
        return  # a seed beyond timed_seeds measures steps to a target only
    for model, (execution, ranks) in ((m, a) for m in data.models for a in arms):
        plan.add(CellSpec(
            dataset=d.name, n_graphs=d.n_graphs, dataset_options=dict(d.options), strategy=strategy,
            strategy_params=params, model=model, model_params=cfg.model_params.get(model, {}),
            **_target_fields(d, data.task, data.goal, cfg.mode), seed=seed,
            data_seed=None if d.data_seed == "seed" else d.data_seed, device=cfg.device,
            backend=resolve_backend(cfg.backend, cfg.device), threads=cfg.threads, clock=plan.clock,
            malloc=cfg.malloc,
            execution=execution, compile_options=dict(cfg.compile_options) if execution != "eager"
            else {}, prefetch=cfg.prefetch, prefetch_with=cfg.prefetch_with, ranks=ranks,
            repeats=cfg.repeats if timed else 0, lr=t.lr,
            warmup_steps=t.warmup_steps, window_s=t.window_s, windows=plan.windows,
            eval_every=t.eval_every, max_steps=t.max_steps, train_time_limit_s=t.train_time_limit_s,
            timeout_s=cfg.timeout_s, **_budget_fields(used, budget)))


def _target_fields(settings, task, goal: float | None, mode: str) -> dict:
    """A cell's target fields. A loader-only cell trains nothing: it keeps the fields cells had
    before tasks (the column, and target_mae as given), so that its id, and resume, do not
    change."""
    if task is None:
        return {"target": None}
    if mode != "train":
        return {"target": task.names[0], "target_mae": settings.target_mae}
    return {"target": task.names[0], "task": task.kind, "metric": task.metric, "target_value": goal,
            "loss": settings.loss if task.kind == "regression" else "mse"}


def _option_text(v) -> str:
    """A dataset option as ``--option`` takes it (a list of columns as a,b, not ['a', 'b'])."""
    if isinstance(v, str):
        return v
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else repr(v)


def _dataset_note(d, store, task, goal: float | None, mode: str) -> str:
    """One line per dataset for the user: graphs, skipped records, target, task, time to
    accuracy."""
    from bench_lib.tasks import METRICS

    skipped = len(store.meta.skipped)
    parts = [f"{d.name}: {store.n_graph:,} graphs"]
    if skipped:
        options = [f"--option {shlex.quote(f'{k}={_option_text(v)}')}" for k, v in d.options.items()
                   if k != "file_stamp"]
        parts.append(f"{skipped:,} input record(s) skipped (python -m bench_lib.data stats "
                     f"{shlex.quote(d.name)} "
                     + " ".join(options + ["--skipped"]) + ")")
    if store.meta.params.get("note"):
        parts.append(str(store.meta.params["note"]))
    if task is not None and task.note:
        parts.append(task.note)
    if mode == "train":
        if task is None:
            parts.append("time to accuracy skipped: the dataset has no target")
        else:
            m = METRICS[task.metric]
            what = (repr(task.names[0]) if len(task.names) == 1
                    else f"of {len(task.names)} label columns")
            if goal is None:
                flag = ("--target-mae X" if task.metric == "mae"
                        else f"--target-metric {task.metric} --target-value X")
                parts.append(f"{task.kind} target {what}, scored by {m.label}; time to accuracy "
                             f"skipped: no target value ({flag})")
            else:
                parts.append(f"time to accuracy: {task.kind} target {what} to validation {m.label} "
                             f"{goal:g} ({m.direction})")
    return "; ".join(parts)
