"""``python -m bench_lib.suite``: run a benchmark suite, then write its report.

With no arguments it runs ``benchmarks/default.toml``: the embedded datasets
(nci5k, a qm9 subset), every registered strategy, the models that apply, in
both fairness views. Each cell runs in its own process; the cells of one
dataset, model and seed are timed in turns (interleaved), so that a machine
that gets busier affects every strategy alike. Records are appended to
``results/<suite>/records.csv`` as cells finish, so a killed suite loses at
most the cells in flight, and re-running the same command resumes.
The command-line examples are in ``EXAMPLES`` (``--help`` prints them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from bench_lib.config import ConfigError, SuiteConfig, apply_overrides, load_config
from bench_lib.harness.cell import CellSpec
from bench_lib.harness.environment import environment
from bench_lib.harness.fairness import budgets_for, resolve
from bench_lib.harness.launch import LAUNCHERS
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.turns import Decide
from bench_lib.harness.runner import (ENVIRONMENT_SKIP, sweep_stale_temp, append_record, group_cells, read_records, record_done,
                                     rewrite_without, run_group)
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.budget import SlotBudget

__all__ = ["expand_cells", "main"]

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
_BUDGET_FIELDS = ("views", "node_slots_budget", "edge_slots_budget", "graphs_per_step_budget")


def default_config_path() -> Path:
    """``benchmarks/default.toml`` of the source checkout."""
    path = BENCHMARKS / "default.toml"
    if not path.exists():
        raise ConfigError(f"no default suite at {path}; pass --config FILE")
    return path


def _budget_fields(view: str, budget) -> dict:
    if view == "manual":
        return {"views": ("manual",)}
    if isinstance(budget, SlotBudget):
        return {"views": (view,), "node_slots_budget": budget.node_slots, "edge_slots_budget": budget.edge_slots}
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


def models_for(settings, store, mode: str = "train") -> tuple[tuple[str, ...], list[str], list[str]]:
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
        return (), [f"[datasets.{settings.name}] models: {why[m]}" + hint for m in settings.models], []
    return fit, [], [f"{settings.name}: model {m} skipped: {why[m]}" for m in settings.models if why[m]]


#: Graphs with a label the validation and training splits need at least for a time-to-accuracy run.
MIN_LABELLED = {"train": 2, "val": 1}


def _task(settings, store, splits: dict, mode: str):
    """``(task, goal, problems)`` of a dataset: its :class:`~bench_lib.tasks.Task` (None: no target), the
    validation score to reach (None: no time-to-accuracy run) and what stops it from running, each
    problem naming what to change."""
    from bench_lib.tasks import check_target, resolve_task

    where = f"[datasets.{settings.name}]"
    names = store.meta.target_names
    if settings.target is not None and settings.target not in names:
        return None, None, [f"{where} target: no column {settings.target!r}; the dataset's targets are "
                            f"{list(names) or 'none'}"]
    try:  # no metric named: the task's (target_mae, the shorthand, is checked against it below)
        task = resolve_task(store, settings.target, kind=settings.task, metric=settings.metric,
                            dataset=settings.name)
    except ValueError as err:
        return None, None, [f"{where} {err}"]
    if task is None or mode != "train":
        return task, None, []  # a loader-only cell trains nothing (its spec keeps the earlier fields)
    goal = settings.target_value if settings.target_value is not None else settings.target_mae
    problems = []
    if settings.target_mae is not None and task.metric != "mae":
        problems.append(f"{where} target_mae: {task.names[0]!r} is a {task.kind} target, scored by {task.metric}, "
                        f"not MAE; give the target in its terms: --target-metric {task.metric} --target-value X "
                        f"(target = {{metric = \"{task.metric}\", value = X}})")
        goal = None
    # the splits' labels matter to a time-to-accuracy run only
    labels = {k: task.labels(store.targets[v]) for k, v in splits.items()} if goal is not None else {}
    problems += [f"{where} {p}" for p in check_target(task, goal, labels, settings.max_classes)]
    if goal is not None:
        for split, least in MIN_LABELLED.items():
            y = labels[split]
            have = int(np.isfinite(y).any(axis=1).sum()) if len(y) else 0
            if have < least:
                problems.append(
                    f"{where}: the {'validation' if split == 'val' else 'training'} split holds {have} graph(s) with "
                    f"a label ({len(splits[split])} graph(s) of {store.n_graph:,}); time to accuracy needs at least "
                    f"{least}: use more graphs (n_graphs, a larger file: about {10 * least + 10} or more), or leave "
                    "out the target value to measure throughput and memory only")
    return task, goal, problems


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
        notes.append(f"windows raised from {t.windows} to {windows} per repeat, so that each cell is timed for at "
                     f"least {need:g} s ({cfg.repeats} repeats x {windows} windows x {t.window_s:g} s); below it "
                     "strategy ratios did not hold on a busy machine (set [suite] min_timed_s = 0 to keep yours)")
    return windows


def expand_cells(cfg: SuiteConfig, notes: list[str] | None = None) -> list[CellSpec]:
    """Every cell of the suite, parameters resolved per fairness view (planning only).

    A cell whose parameters come out the same in two views is one cell that
    serves both. Everything that would fail a cell for its configuration (a
    dataset that does not load, a target it does not have, a model it cannot
    feed, a budget some graph of any split cannot fit, a strategy that cannot
    take it) is found here: all of them, as one ``ConfigError``. ``notes``
    collects what a user should know about each dataset (its target, its
    skipped records, why time to accuracy does not run).
    """
    from bench_lib.data import FILE_KINDS, load_dataset, local_stamp, store_splits

    cells: dict[str, CellSpec] = {}
    problems: list[str] = []
    notes = [] if notes is None else notes
    t = cfg.train
    windows = timed_windows(cfg, notes)
    clock = cfg.clock
    if clock == "auto" and max(cfg.ranks) > 1:  # 1 and N ranks on one clock, so that they compare
        clock = "wall"
        notes.append("ranks > 1: every cell is timed on the wall clock (a rank's wait for the others is wall "
                     "time), 1-rank cells too, so that scaling efficiency compares like with like")
    for d in cfg.datasets:
        if d.name.split(":", 1)[0] in FILE_KINDS and ":" in d.name:
            try:  # an edited file makes new cells (a rerun measures it), not a resume of the old ones
                d = dataclasses.replace(d, options={**d.options, "file_stamp": local_stamp(d.name)})
            except OSError:
                pass  # the load below says what is wrong with the path
        stores: dict[int, object] = {}
        for seed in cfg.seeds:
            data_seed = seed if d.data_seed == "seed" else d.data_seed
            try:
                if data_seed not in stores:  # one dataset for every seed unless the suite varies it
                    stores[data_seed] = load_dataset(d.name, n_graphs=d.n_graphs, seed=data_seed, **d.options)
                store = stores[data_seed]
            except (ValueError, OSError, ImportError) as err:
                problems.append(f"[datasets.{d.name}]: {err}")
                break
            models, bad, skipped = models_for(d, store, cfg.mode)
            splits = store_splits(store, seed=data_seed)
            if not len(splits["train"]):
                problems.append(f"[datasets.{d.name}]: the training split is empty ({store.n_graph} graph(s)); "
                                "use more graphs")
                break
            task, goal, bad_target = _task(d, store, splits, cfg.mode)
            if seed == cfg.seeds[0]:
                problems += bad + bad_target
                notes.append(_dataset_note(d, store, task, goal, cfg.mode))
                notes += skipped
            else:  # this seed's own split (one class in it, too few labels)
                problems += [f"{p} (seed {seed})" for p in bad_target]
            if bad or bad_target:
                break
            n, e = store.n_node[splits["train"]], store.n_edge[splits["train"]]
            largest = int(store.n_node.max())
            try:
                budgets = budgets_for(d, n, e, cfg.fairness, seed=seed, largest=largest)
            except ValueError as err:
                problems.append(f"[datasets.{d.name}] (seed {seed}): {err}; raise node_slots (and pack_nodes) in "
                                f"[datasets.{d.name}] to at least {largest}")
                continue
            for split in ("val", "test"):
                biggest = int(store.n_node[splits[split]].max(initial=0))
                small = sorted({b.pack_nodes for b in budgets.values() if b.pack_nodes < biggest})
                if small:
                    problems.append(f"[datasets.{d.name}] (seed {seed}): pack_nodes={small[0]} (set in the suite "
                                    f"file) is smaller than the largest graph of the {split} split ({biggest} "
                                    f"nodes); raise it to at least {biggest}, or leave it out to derive it")
            for view, budget in budgets.items():
                for strategy in cfg.strategies:
                    if view not in cfg.strategy_fairness.get(strategy, [view]):
                        continue
                    try:
                        params, used = resolve(strategy, budget, n, e, cfg.strategy_params.get(strategy))
                        if used == "manual":  # fixed by hand: check them on the split now, not in the cell
                            STRATEGIES.create(strategy, **params).prepare(n, e, np.random.default_rng(seed))
                    except (ValueError, TypeError) as err:
                        problems.append(f"[datasets.{d.name}] {strategy} ({view}, seed {seed}): {err}")
                        continue
                    executions = [x for x in cfg.execution if strategy in cfg.execution_only.get(x, [strategy])]
                    # data-parallel cells run eager steps only (see CellRun)
                    arms = [(x, r) for x in executions for r in cfg.ranks if r == 1 or x == "eager"]
                    timed = cfg.timed_seeds is None or cfg.seeds.index(seed) < cfg.timed_seeds
                    if not timed and (goal is None or cfg.mode != "train"):
                        continue  # a seed beyond timed_seeds measures steps to a target only
                    for model, (execution, ranks) in ((m, a) for m in models for a in arms):
                        spec = CellSpec(
                            dataset=d.name, n_graphs=d.n_graphs, dataset_options=dict(d.options), strategy=strategy,
                            strategy_params=params, model=model, model_params=cfg.model_params.get(model, {}),
                            **_target_fields(d, task, goal, cfg.mode), seed=seed,
                            data_seed=None if d.data_seed == "seed" else d.data_seed, device=cfg.device,
                            backend=cfg.backend, threads=cfg.threads, clock=clock, malloc=cfg.malloc,
                            execution=execution, compile_options=dict(cfg.compile_options) if execution != "eager"
                            else {}, prefetch=cfg.prefetch, prefetch_with=cfg.prefetch_with, ranks=ranks,
                            repeats=cfg.repeats if timed else 0, lr=t.lr,
                            warmup_steps=t.warmup_steps, window_s=t.window_s, windows=windows,
                            eval_every=t.eval_every, max_steps=t.max_steps, train_time_limit_s=t.train_time_limit_s,
                            timeout_s=cfg.timeout_s, **_budget_fields(used, budget))
                        key = _measurement_key(spec)
                        cells[key] = _merge(cells[key], spec) if key in cells else spec
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return list(cells.values())


def _target_fields(settings, task, goal: float | None, mode: str) -> dict:
    """A cell's target fields. A loader-only cell trains nothing: it keeps the fields cells had before
    tasks (the column, and target_mae as given), so that its id, and resume, do not change."""
    if task is None:
        return {"target": None}
    if mode != "train":
        return {"target": task.names[0], "target_mae": settings.target_mae}
    return {"target": task.names[0], "task": task.kind, "metric": task.metric, "target_value": goal,
            "loss": settings.loss if task.kind == "regression" else "mse"}


def _dataset_note(d, store, task, goal: float | None, mode: str) -> str:
    """One line per dataset for the user: graphs, skipped records, target, task, time to accuracy."""
    from bench_lib.tasks import METRICS

    skipped = len(store.meta.skipped)
    parts = [f"{d.name}: {store.n_graph:,} graphs"]
    if skipped:
        options = [f"--option {shlex.quote(f'{k}={v!r}' if not isinstance(v, str) else f'{k}={v}')}"
                   for k, v in d.options.items() if k != "file_stamp"]
        parts.append(f"{skipped:,} input record(s) skipped (python -m bench_lib.data stats {shlex.quote(d.name)} "
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
            what = repr(task.names[0]) if len(task.names) == 1 else f"of {len(task.names)} label columns"
            if goal is None:
                flag = "--target-mae X" if task.metric == "mae" else f"--target-metric {task.metric} --target-value X"
                parts.append(f"{task.kind} target {what}, scored by {m.label}; time to accuracy skipped: no "
                             f"target value ({flag})")
            else:
                parts.append(f"time to accuracy: {task.kind} target {what} to validation {m.label} {goal:g} "
                             f"({m.direction})")
    return "; ".join(parts)


class Progress:
    """A progress line on a terminal, plain log lines elsewhere (stderr).

    Each finished cell gets a line of its own; the phases in between (setup,
    timed repeats, training) overwrite one line on a terminal and are logged
    line by line elsewhere."""

    def __init__(self, total: int, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # the one of the moment (a test may have swapped it)
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.group = ""

    def _times(self) -> str:
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        fmt = lambda s: "?" if s != s else f"{int(s) // 60}:{int(s) % 60:02d}"  # noqa: E731
        return f"{fmt(elapsed)} elapsed, ~{fmt(left)} left"

    def begin_group(self, k: int, n: int, cells: list[CellSpec]) -> None:
        c = cells[0]
        self.group = f"group {k}/{n} {c.dataset}/{c.model}/seed{c.seed}"
        self._line(f"{self.group}: {len(cells)} cell(s)", keep=True)

    def note(self, text: str) -> None:
        self._line(f"{self.group}: {text}", keep=not self.tty)

    def cell_done(self, spec: CellSpec, record: dict) -> None:
        self.done += 1
        status = record["status"]
        first = str(record["error"]).splitlines()[0] if record["error"] else ""
        self._line(f"[{self.done}/{self.total}] {spec.label()}: {status}" + (f" ({first})" if first else ""),
                   keep=True)

    def _line(self, text: str, keep: bool) -> None:
        text = f"{text} | {self._times()}"
        if self.tty:
            self.stream.write("\r" + (text if keep else text[:160].ljust(160)) + ("\n" if keep else ""))
        elif keep:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must be I/N with 0 <= I < N (got {text!r})") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard must be I/N with 0 <= I < N (got {text!r})")
    return i, n


#: ``--help``'s examples; the README's suite commands are among them (a test checks).
EXAMPLES = """\
examples:
  python -m bench_lib.suite                                  # the default suite (embedded data)
  python -m bench_lib.suite --config benchmarks/smoke.toml
  python -m bench_lib.suite --datasets nci5k --strategies pad,pack-lpfhp --repeats 5
  python -m bench_lib.suite --datasets csv:data/ESOL.csv --target "measured log solubility in mols per litre"
  python -m bench_lib.suite --datasets csv:data/BBBP.csv --target p_np --id-column name --target-value 0.85
  python -m bench_lib.suite --datasets csv:data/B3DB_classification.tsv --target 'BBB+/BBB-' --target-value 0.8
  python -m bench_lib.suite --datasets sdf:data/confs.sdf,xyz:data/clusters/ --option cutoff=5.0
  python -m bench_lib.suite --list          # datasets, strategies (plugins too), models
  python -m bench_lib.suite --dry-run       # the cells, without running them
  python -m bench_lib.suite --shard 0/4     # every 4th group of cells, for scheduler jobs
  python -m bench_lib.suite --device cuda   # the plain-torch backend on a GPU
  python -m bench_lib.suite --config benchmarks/compile.toml   # eager vs torch.compile, every strategy
  python -m bench_lib.suite --execution eager,compile --prefetch 2   # compiled steps, batches built ahead
  python -m bench_lib.suite --config benchmarks/ddp.toml      # 1 and 2 data-parallel ranks (torchrun)
  python -m bench_lib.suite --datasets nci5k --ranks 1,2 --strategies pad,dynamic,pack-lpfhp
  python -m bench_lib.suite --launcher slurm --partition gpu --gpus-per-job 1   # one Slurm task per group
  python -m bench_lib.suite --launcher slurm --no-wait --time-min 120 --array-parallelism 16
  python -m bench_lib.suite --launcher submitit-local --config benchmarks/smoke.toml   # the same jobs here
  python -m bench_lib.report results/default-reference  # a report from results alone

Local files (csv:PATH, sdf:PATH, xyz:PATH) join the config's settings with
its defaults; the model is chosen by what the data has (gin for 2D molecules,
schnet for 3D) unless --models names one. A CSV may be comma, tab or semicolon
separated and compressed (.gz, .bz2, .xz, .zip); without --target, the one
numeric column is the target, and a file with none runs throughput and memory
cells only. Text labels are classes; a column of two values is binary (said
when the suite starts; --task regression regresses it). --target-value X is
the validation score to reach in the metric's direction (ROC-AUC for binary,
accuracy for multiclass, average precision for multilabel, MAE for regression;
--target-metric chooses). Every problem is reported before any cell runs, one error: line
each, exit status 2.
"""


def _option(text: str) -> tuple[str, object]:
    import ast

    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE (got {text!r})")
    key, value = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one error: line, exit status 2, no usage dump
        self.exit(2, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bench_lib.suite",
                     description="Run a benchmark suite (every batching strategy on the same GNN, interleaved), "
                                 "then write its report.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None, help="suite TOML (default: benchmarks/default.toml)")
    parser.add_argument("--datasets", help="comma-separated datasets: the config's, any of --list, or "
                                           "csv:PATH / sdf:PATH / xyz:PATH (local files)")
    parser.add_argument("--target", action="append", default=None, metavar="COL",
                        help="target column(s) of the --datasets (repeatable or a comma list; the first is trained)")
    parser.add_argument("--target-mae", type=float, default=None, metavar="X",
                        help="validation MAE that counts as reached (time to accuracy) for the --datasets")
    parser.add_argument("--task", choices=("regression", "binary", "multiclass", "multilabel"),
                        help="what the --datasets' target is (default: the dataset's own, or inferred: text labels "
                             "are classes, a column of two values is binary)")
    parser.add_argument("--target-metric", metavar="M", help="validation metric of the --datasets: mae, rmse, "
                        "rocauc, ap, accuracy (default: the task's; OGB's for an OGB set)")
    parser.add_argument("--target-value", type=float, default=None, metavar="X",
                        help="validation score that counts as reached, in the metric's direction (higher for "
                             "rocauc, ap, accuracy)")
    parser.add_argument("--smiles-column", metavar="COL", help="SMILES column of a csv: dataset (default: guessed)")
    parser.add_argument("--id-column", metavar="COL", help="ID column of a csv: dataset, to name skipped rows")
    parser.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                        help="dataset option for the --datasets (e.g. cutoff=5.0, max_neighbors=None)")
    parser.add_argument("--strategies", help="comma-separated strategies (overrides the config)")
    parser.add_argument("--models", help="comma-separated models, run on every dataset instead of its list (a "
                                         "dataset that cannot feed one of them skips it, with the reason; one "
                                         "that can feed none is an error)")
    parser.add_argument("--repeats", type=int, help="timed repeats per cell")
    parser.add_argument("--device", help="cpu or cuda (cuda runs the plain-torch backend)")
    parser.add_argument("--execution", help="comma-separated: eager, compile, compile-dynamic, cudagraphs "
                        "(compiled cells need backend torch; cudagraphs needs cuda)")
    parser.add_argument("--prefetch", type=int, metavar="N",
                        help="batches built ahead of the step in a background thread (0: inline)")
    parser.add_argument("--data-dir", help="root of downloaded datasets (OGB layout, zinc, peptides-func); "
                                           "default: $BENCH_LIB_DATA or ~/.cache/bench_lib/data")
    parser.add_argument("--out", type=Path, help="results directory (default: results/<suite name>)")
    parser.add_argument("--report-dir", type=Path,
                        help="report directory (default: reports/<suite name>, or OUT/report with --out)")
    parser.add_argument("--list", action="store_true", help="print datasets, strategies and models, then exit")
    parser.add_argument("--dry-run", action="store_true", help="print the cells without running them")
    parser.add_argument("--rerun-failed", action="store_true", help="run again the cells recorded as failed")
    parser.add_argument("--shard", help="I/N: run only groups I, I+N, I+2N, ... (0 <= I < N)")
    parser.add_argument("--ranks", help="comma-separated data-parallel processes per cell to sweep, e.g. 1,2 "
                                        "(torchrun; ranks > 1 runs eager cells only)")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local",
                        help="local: run here (default); slurm: a Slurm job array through submitit, one task per "
                             "group, records merged back; submitit-local: the same jobs on this machine, all at "
                             "once (to try the path; its timings contend with each other)")
    parser.add_argument("--partition", help="--launcher slurm: Slurm partition (else [slurm] partition)")
    parser.add_argument("--time-min", type=int, help="--launcher slurm: minutes per task (one group of cells)")
    parser.add_argument("--gpus-per-job", type=int, help="--launcher slurm: GPUs per task")
    parser.add_argument("--array-parallelism", type=int, help="--launcher slurm: tasks running at once")
    parser.add_argument("--no-wait", action="store_true",
                        help="--launcher slurm: exit once submitted; `python -m bench_lib.report OUT` merges later")
    parser.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    parser.add_argument("--no-batching-check", action="store_true",
                        help="time the models without the batching check (python -m bench_lib.models check NAME "
                             "runs it alone): for a model the check cannot run, never to hide a leak")
    return parser


def _print_list() -> None:
    from bench_lib.data import DATASETS, FILE_KINDS
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    print("datasets:  ", ", ".join(sorted(DATASETS)))
    print("local files:", ", ".join(f"{k}:PATH" for k in FILE_KINDS),
          "(csv: a SMILES table, .gz/.bz2/.xz/.zip too; sdf: molecules, 3D or 2D; xyz: frames, a folder or a glob)")
    def shapes(cls) -> str:
        if cls.static_shape:
            return "static shapes"
        return "a few bucket shapes" if "buckets" in getattr(cls, "__dataclass_fields__", {}) else "dynamic shapes"

    print("strategies:", ", ".join(f"{n} ({shapes(STRATEGIES.get(n))})" for n in STRATEGIES.names()))
    def needs(name: str) -> str:
        plugin = f"; plugin {MODELS.get(name).__module__}" if MODELS.is_plugin(name) else ""
        return f"{name} ({MODELS.needs_text(name)}{plugin})"

    print("models:    ", ", ".join(needs(n) for n in MODELS.names()))


def _recorded(records: Path) -> tuple[set[str], set[str]]:
    """(cell ids done: ok or skipped for good, cell ids to retry: failed, or skipped for a
    reason of the machine such as a missing GPU, which a rerun elsewhere may not have)."""
    if not (records.exists() and records.stat().st_size):
        return set(), set()
    df = read_records(records)
    final = [record_done(s, e) for s, e in zip(df.status, df.error.fillna(""))]
    done = set(df.cell_id[final])
    return done, set(df.cell_id) - done


def _environment_skips(records: Path) -> set[str]:
    if not (records.exists() and records.stat().st_size):
        return set()
    df = read_records(records)
    return set(df.loc[(df.status == "skipped") & df.error.fillna("").astype(str).str.startswith(ENVIRONMENT_SKIP),
                      "cell_id"])


def _todo(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path,
          rerun_failed: bool) -> tuple[list[list[CellSpec]], dict, set[str]]:
    """Write the run's config, environment and planning; the groups' cells not recorded yet, the
    environment, and the cells recorded as not done (failed or skipped for the machine)."""
    records = out / "records.csv"
    env = environment()
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=1))
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    (out / "planning.json").write_text(json.dumps(planning_summary(cfg), indent=1))
    done, failed = _recorded(records)
    env_skips = _environment_skips(records)
    todo = [[c for c in g if c.cell_id not in done and (rerun_failed or c.cell_id not in failed
                                                        or c.cell_id in env_skips)] for g in groups]
    todo = [g for g in todo if g]
    n_cells = sum(len(g) for g in groups)
    n_todo = sum(len(g) for g in todo)
    print(f"{cfg.name}: {n_cells} cells in {len(groups)} group(s), {n_cells - n_todo} already recorded, "
          f"{n_todo} to run -> {records}", file=sys.stderr)
    return todo, env, failed


def _train_parallel(cfg: SuiteConfig, group: list[CellSpec]) -> int:
    """Cells of ``group`` that may train side by side: the suite's ``train_parallel``, at most as many as
    the machine has cores for (each cell uses threads x ranks of them)."""
    need = max(c.threads * c.ranks for c in group)
    return max(1, min(cfg.train_parallel, (os.cpu_count() or 1) // need))


def _decide(cfg: SuiteConfig) -> Decide | None:
    """The suite's ``decide`` settings for the runner (None: the fixed turns only)."""
    return Decide(cfg.decide_looks, cfg.decide_budget_s, cfg.margin) if cfg.decide else None


def _run(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool) -> None:
    """Run the groups' cells that are not recorded yet, appending records as they end."""
    records = out / "records.csv"
    todo, env, failed = _todo(cfg, groups, out, rerun_failed)
    n_todo = sum(len(g) for g in todo)
    stale = sweep_stale_temp()
    if stale:
        print(f"removed {len(stale)} temporary folder(s) of cells a killed run left behind", file=sys.stderr)

    def on_record(record: dict) -> None:
        if record["cell_id"] in failed:
            rewrite_without(records, {record["cell_id"]})
        append_record(records, record)

    progress = Progress(n_todo)
    for k, group in enumerate(todo):
        progress.begin_group(k + 1, len(todo), group)
        run_group(group, environment=env, log_dir=out / "logs", on_record=on_record, progress=progress,
                  decide=_decide(cfg), train_parallel=_train_parallel(cfg, group))
    progress.close()


def _launch(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool, launcher: str,
            wait: bool) -> bool:
    """Submit the groups not recorded yet as a job array (one task per group), then (``wait``) merge
    each task's records as it ends. False when the jobs were left running (``--no-wait``)."""
    from bench_lib.harness.launch import job_records, merge_job_records, submit_groups

    if job_records(out):
        counts = merge_job_records(out)
        print(f"merged earlier jobs' records: {counts['added']} added, {counts['replaced']} replaced a failure, "
              f"{counts['already']} already recorded", file=sys.stderr)
    todo, _, _ = _todo(cfg, groups, out, rerun_failed)
    if not todo:
        return True
    cluster = "slurm" if launcher == "slurm" else "local"
    jobs = submit_groups(todo, out, cfg.slurm, cluster=cluster, job_name=f"bench_lib-{cfg.name}",
                         decide=dataclasses.asdict(_decide(cfg)) if cfg.decide else None,
                         train_parallel=cfg.train_parallel)
    first = jobs[0].job_id.split("_")[0] if jobs else "?"
    print(f"submitted {len(jobs)} task(s) ({cluster}), job {first}; records come back in {out / 'jobs'}",
          file=sys.stderr)
    if not wait:
        print(f"not waiting: once the jobs end, `python -m bench_lib.report {out}` merges their records "
              "and writes the report; re-running this command submits only what is still missing",
              file=sys.stderr)
        return False
    import submitit

    for k, job in enumerate(submitit.helpers.as_completed(jobs, poll_frequency=0.5 if cluster == "local" else 30)):
        try:
            summary = job.result()
            how = ", ".join(f"{v} {s}" for s, v in summary.items() if s not in ("job", "records"))
        except Exception as err:  # the task died (time limit, node failure): its cells are not recorded
            how = f"task failed: {str(err).splitlines()[-1] if str(err) else type(err).__name__}"
        counts = merge_job_records(out)
        print(f"[{k + 1}/{len(jobs)}] job {job.job_id}: {how}; merged {counts['added'] + counts['replaced']} "
              "record(s)", file=sys.stderr)
    return True


def _ints(flag: str, values: list[str] | None) -> list[int] | None:
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ConfigError(f"{flag} takes whole numbers, comma-separated (got {','.join(values)!r})") from None


def _error(err: ConfigError) -> int:
    for problem in err.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2


def _located(problem: str, config_path: Path, in_file: set[str]) -> str:
    """Say where a dataset's problem comes from: the suite file, or ``--datasets`` on the command line."""
    if problem.startswith("[datasets."):
        name = problem[len("[datasets."):].split("]", 1)[0]
        if name not in in_file:
            return f"--datasets {name}" + problem[len("[datasets.") + len(name) + 1:]
    return f"{config_path}: {problem}" if problem.startswith("[") else problem


def _check_device(cfg: SuiteConfig) -> None:
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda': torch sees no GPU on this machine (torch.cuda.is_available() is "
                              "False); run on a machine with one, or use --device cpu")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        _print_list()
        return 0
    split = lambda s: None if s is None else [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    notes: list[str] = []
    config_path = None
    try:
        config_path = args.config or default_config_path()
        cfg = load_config(config_path)
        in_file = {d.name for d in cfg.datasets}
        targets = [t for text in args.target for t in split(text)] if args.target else None
        cfg = apply_overrides(cfg, datasets=split(args.datasets), strategies=split(args.strategies),
                              models=split(args.models), repeats=args.repeats, device=args.device,
                              data_dir=args.data_dir, target=targets, target_mae=args.target_mae,
                              task=args.task, target_metric=args.target_metric, target_value=args.target_value,
                              smiles_column=args.smiles_column, id_column=args.id_column, options=dict(args.option),
                              execution=split(args.execution), prefetch=args.prefetch,
                              ranks=_ints("--ranks", split(args.ranks)),
                              slurm={"partition": args.partition, "time_min": args.time_min,
                                     "gpus_per_job": args.gpus_per_job,
                                     "array_parallelism": args.array_parallelism})
        shard = parse_shard(args.shard)
        if args.launcher == "local":  # a cluster's tasks may have GPUs this machine lacks
            _check_device(cfg)
        try:
            cells = expand_cells(cfg, notes)
        except ConfigError as err:
            raise ConfigError([_located(p, config_path, in_file) for p in err.problems]) from None
        groups = group_cells(cells, cfg.interleave)
        if not groups:
            raise ConfigError("the suite has no cell to run (no dataset, strategy or model left)")
        out = args.out or Path("results") / cfg.name
        from bench_lib.harness.batching import check_cells

        if args.no_batching_check:
            notes.append("batching check skipped (--no-batching-check): nothing says these models are safe to batch")
        else:
            unsafe = check_cells([c for g in groups for c in g], say=notes.append)
            if unsafe:
                raise ConfigError(unsafe)
        if not args.dry_run:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ConfigError(f"--out {out}: cannot create the results folder ({err.strerror})") from None
    except ConfigError as err:
        return _error(err)
    for note in notes:
        print(note, file=sys.stderr)
    if shard:
        groups = groups[shard[0]::shard[1]]
    if args.dry_run:
        for g in groups:
            for c in g:
                print(f"{c.cell_id}  {c.label()}  {json.dumps(c.strategy_params, sort_keys=True)}")
        print(f"{sum(map(len, groups))} cells in {len(groups)} group(s)", file=sys.stderr)
        return 0
    if args.launcher == "local":
        _run(cfg, groups, out, args.rerun_failed)
    else:
        try:
            if not _launch(cfg, groups, out, args.rerun_failed, args.launcher, wait=not args.no_wait):
                return 0
        except RuntimeError as err:  # no Slurm here (submitit finds no srun/sbatch), a refused sbatch...
            print(f"error: --launcher {args.launcher}: {err}", file=sys.stderr)
            return 2
    if not args.no_report:
        from bench_lib.report import write_report

        default_dir = args.out / "report" if args.out else Path("reports") / cfg.name
        path = write_report(out, args.report_dir or default_dir)
        print(f"report: {path}", file=sys.stderr)
    df = read_records(out / "records.csv") if (out / "records.csv").exists() else None
    last = None if df is None else df.drop_duplicates("cell_id", keep="last")
    n_failed = 0 if last is None else int((last.status == "failed").sum())
    if n_failed:
        print(f"{n_failed} cell(s) failed; see {out / 'records.csv'} (re-run with --rerun-failed)", file=sys.stderr)
    return 1 if n_failed else 0


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
