"""``python -m bench_lib.suite``: run a benchmark suite, then write its report.

With no arguments it runs ``benchmarks/default.toml``: the embedded datasets
(nci5k, a qm9 subset), every registered strategy, the models that apply, in
both fairness views. Each cell runs in its own process; the cells of one
dataset, model and seed are timed in turns (interleaved), so that a machine
that gets busier affects every strategy alike. Records are appended to
``results/<suite>/records.csv`` as cells finish, so a killed suite loses at
most the cells in flight, and re-running the same command resumes.

Examples::

    python -m bench_lib.suite                                  # default suite
    python -m bench_lib.suite --config benchmarks/smoke.toml   # a few minutes
    python -m bench_lib.suite --datasets nci5k --strategies pad,pack-lpfhp --repeats 5
    python -m bench_lib.suite --list
    python -m bench_lib.suite --dry-run
    python -m bench_lib.suite --shard 0/4                      # every 4th group of cells, from the first
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench_lib.config import ConfigError, SuiteConfig, apply_overrides, load_config
from bench_lib.harness.cell import CellSpec
from bench_lib.harness.environment import environment
from bench_lib.harness.fairness import budgets_for, resolve
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.runner import append_record, group_cells, read_records, rewrite_without, run_group
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


def expand_cells(cfg: SuiteConfig) -> list[CellSpec]:
    """Every cell of the suite, parameters resolved per fairness view (planning only).

    A cell whose parameters come out the same in two views is one cell that
    serves both. A budget that some graph cannot fit, or that a strategy
    cannot take, is a ``ConfigError`` naming the dataset, strategy and view.
    """
    from bench_lib.data import load_dataset, store_splits

    cells: dict[str, CellSpec] = {}
    t = cfg.train
    for d in cfg.datasets:
        models = d.models if cfg.mode == "train" else ("none",)
        for seed in cfg.seeds:
            store = load_dataset(d.name, n_graphs=d.n_graphs, seed=seed, **d.options)
            train = store_splits(store, seed=seed)["train"]
            n, e = store.n_node[train], store.n_edge[train]
            try:
                budgets = budgets_for(d, n, e, cfg.fairness, seed=seed)
            except ValueError as err:
                raise ConfigError(f"[datasets.{d.name}] (seed {seed}): {err}") from None
            for view, budget in budgets.items():
                for strategy in cfg.strategies:
                    try:
                        params, used = resolve(strategy, budget, n, e, cfg.strategy_params.get(strategy))
                        if used == "manual":  # fixed by hand: check them on the split now, not in the cell
                            STRATEGIES.create(strategy, **params).prepare(n, e, np.random.default_rng(seed))
                    except ValueError as err:
                        raise ConfigError(f"[datasets.{d.name}] {strategy} ({view}, seed {seed}): {err}") from None
                    for model in models:
                        spec = CellSpec(
                            dataset=d.name, n_graphs=d.n_graphs, dataset_options=dict(d.options), strategy=strategy,
                            strategy_params=params, model=model, model_params=cfg.model_params.get(model, {}),
                            target=d.target, target_mae=d.target_mae, seed=seed, device=cfg.device,
                            backend=cfg.backend, threads=cfg.threads, clock=cfg.clock, malloc=cfg.malloc,
                            repeats=cfg.repeats, lr=t.lr,
                            warmup_steps=t.warmup_steps, window_s=t.window_s, windows=t.windows,
                            eval_every=t.eval_every, max_steps=t.max_steps, train_time_limit_s=t.train_time_limit_s,
                            timeout_s=cfg.timeout_s, **_budget_fields(used, budget))
                        key = _measurement_key(spec)
                        cells[key] = _merge(cells[key], spec) if key in cells else spec
    return list(cells.values())


class Progress:
    """A progress line on a terminal, plain log lines elsewhere (stderr).

    Each finished cell gets a line of its own; the phases in between (setup,
    timed repeats, training) overwrite one line on a terminal and are logged
    line by line elsewhere."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench_lib.suite", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None, help="suite TOML (default: benchmarks/default.toml)")
    parser.add_argument("--datasets", help="comma-separated subset of the config's datasets")
    parser.add_argument("--strategies", help="comma-separated strategies (overrides the config)")
    parser.add_argument("--models", help="comma-separated models (keeps those each dataset lists)")
    parser.add_argument("--repeats", type=int, help="timed repeats per cell")
    parser.add_argument("--device", help="cpu or cuda (cuda runs the plain-torch backend)")
    parser.add_argument("--data-dir", help="root of downloaded datasets (OGB layout, zinc, peptides-func); "
                                           "default: $BENCH_LIB_DATA or ~/.cache/bench_lib/data")
    parser.add_argument("--out", type=Path, help="results directory (default: results/<suite name>)")
    parser.add_argument("--report-dir", type=Path,
                        help="report directory (default: reports/<suite name>, or OUT/report with --out)")
    parser.add_argument("--list", action="store_true", help="print datasets, strategies and models, then exit")
    parser.add_argument("--dry-run", action="store_true", help="print the cells without running them")
    parser.add_argument("--rerun-failed", action="store_true", help="run again the cells recorded as failed")
    parser.add_argument("--shard", help="I/N: run only groups I, I+N, I+2N, ... (0 <= I < N)")
    parser.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    return parser


def _print_list() -> None:
    from bench_lib.data import DATASETS
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    print("datasets:  ", ", ".join(sorted(DATASETS)))
    print("strategies:", ", ".join(f"{n} ({'static' if STRATEGIES.get(n).static_shape else 'dynamic'} shapes)"
                                   for n in STRATEGIES.names()))
    print("models:    ", ", ".join(sorted(MODELS)))


def _recorded(records: Path) -> tuple[set[str], set[str]]:
    """(cell ids done: ok or skipped, cell ids that only failed)."""
    if not (records.exists() and records.stat().st_size):
        return set(), set()
    df = read_records(records)
    done = set(df.loc[df.status.isin(["ok", "skipped"]), "cell_id"])
    return done, set(df.loc[df.status == "failed", "cell_id"]) - done


def _run(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool) -> None:
    """Run the groups' cells that are not recorded yet, appending records as they end."""
    records = out / "records.csv"
    env = environment()
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=1))
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    (out / "planning.json").write_text(json.dumps(planning_summary(cfg), indent=1))
    done, failed = _recorded(records)
    todo = [[c for c in g if c.cell_id not in done and (rerun_failed or c.cell_id not in failed)] for g in groups]
    todo = [g for g in todo if g]
    n_cells = sum(len(g) for g in groups)
    n_todo = sum(len(g) for g in todo)
    print(f"{cfg.name}: {n_cells} cells in {len(groups)} group(s), {n_cells - n_todo} already recorded, "
          f"{n_todo} to run -> {records}", file=sys.stderr)

    def on_record(record: dict) -> None:
        if record["cell_id"] in failed:
            rewrite_without(records, {record["cell_id"]})
        append_record(records, record)

    progress = Progress(n_todo)
    for k, group in enumerate(todo):
        progress.begin_group(k + 1, len(todo), group)
        run_group(group, environment=env, log_dir=out / "logs", on_record=on_record, progress=progress)
    progress.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        _print_list()
        return 0
    split = lambda s: [x for x in s.split(",") if x] if s else None  # noqa: E731
    try:
        cfg = load_config(args.config or default_config_path())
        cfg = apply_overrides(cfg, datasets=split(args.datasets), strategies=split(args.strategies),
                              models=split(args.models), repeats=args.repeats, device=args.device,
                              data_dir=args.data_dir)
        shard = parse_shard(args.shard)
        groups = group_cells(expand_cells(cfg), cfg.interleave)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if shard:
        groups = groups[shard[0]::shard[1]]
    if args.dry_run:
        for g in groups:
            for c in g:
                print(f"{c.cell_id}  {c.label()}  {json.dumps(c.strategy_params, sort_keys=True)}")
        print(f"{sum(map(len, groups))} cells in {len(groups)} group(s)", file=sys.stderr)
        return 0
    out = args.out or Path("results") / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    _run(cfg, groups, out, args.rerun_failed)
    if not args.no_report:
        from bench_lib.report import write_report

        default_dir = args.out / "report" if args.out else Path("reports") / cfg.name
        path = write_report(out, args.report_dir or default_dir)
        print(f"report: {path}", file=sys.stderr)
    df = read_records(out / "records.csv") if (out / "records.csv").exists() else None
    n_failed = 0 if df is None else int((df.drop_duplicates("cell_id", keep="last").status == "failed").sum())
    if n_failed:
        print(f"{n_failed} cell(s) failed; see {out / 'records.csv'} (re-run with --rerun-failed)", file=sys.stderr)
    return 1 if n_failed else 0


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
