"""``python -m bench_lib.suite``: run a benchmark suite, then write its report.

With no arguments it runs ``benchmarks/default.toml``: the embedded datasets
(nci5k, a qm9 subset), every registered strategy, the models that apply, in
both fairness views. Each cell runs in its own process; records are appended
to ``results/<suite>/records.csv`` as cells finish, so a killed suite loses
at most the cell in flight, and re-running the same command resumes.

Examples::

    python -m bench_lib.suite                                  # default suite
    python -m bench_lib.suite --config benchmarks/smoke.toml   # about a minute
    python -m bench_lib.suite --datasets nci5k --strategies pad,pack-lpfhp --repeats 5
    python -m bench_lib.suite --list
    python -m bench_lib.suite --dry-run
    python -m bench_lib.suite --shard 0/4                      # every 4th cell, from the first
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench_lib.config import ConfigError, SuiteConfig, apply_overrides, load_config
from bench_lib.harness.cell import CellSpec
from bench_lib.harness.environment import environment
from bench_lib.harness.fairness import resolve_for_dataset
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.runner import append_record, read_records, rewrite_without, run_cell

__all__ = ["expand_cells", "main"]

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def default_config_path() -> Path:
    """``benchmarks/default.toml`` of the source checkout."""
    path = BENCHMARKS / "default.toml"
    if not path.exists():
        raise ConfigError(f"no default suite at {path}; pass --config FILE")
    return path


def expand_cells(cfg: SuiteConfig) -> list[CellSpec]:
    """Every cell of the suite, parameters resolved per fairness view (planning only)."""
    from bench_lib.data import load_dataset, store_splits

    cells: dict[str, CellSpec] = {}
    for d in cfg.datasets:
        models = d.models if cfg.mode == "train" else ("none",)
        for seed in cfg.seeds:
            store = load_dataset(d.name, n_graphs=d.n_graphs, seed=seed, **d.options)
            train = store_splits(store, seed=seed)["train"]
            n, e = store.n_node[train], store.n_edge[train]
            for view in cfg.fairness:
                for strategy in cfg.strategies:
                    try:
                        params, used = resolve_for_dataset(strategy, view, n, e, d, cfg.strategy_params.get(strategy),
                                                           seed=seed)
                    except ValueError as err:
                        raise ConfigError(f"[datasets.{d.name}] {strategy} ({view}): {err}") from None
                    budget = d.node_budget if view == "equal-padded-budget" else d.graphs_per_step
                    for model in models:
                        spec = CellSpec(
                            dataset=d.name, n_graphs=d.n_graphs, dataset_options=dict(d.options), strategy=strategy,
                            strategy_params=params, model=model, model_params=cfg.model_params.get(model, {}),
                            fairness=used, node_budget=budget, target=d.target, target_mae=d.target_mae,
                            seed=seed, device=cfg.device, backend=cfg.backend, threads=cfg.threads,
                            lr=cfg.train.lr, warmup_steps=cfg.train.warmup_steps, timed_steps=cfg.train.timed_steps,
                            repeats=cfg.repeats, eval_every=cfg.train.eval_every, max_steps=cfg.train.max_steps,
                            train_time_limit_s=cfg.train.train_time_limit_s, timeout_s=cfg.timeout_s)
                        cells.setdefault(spec.cell_id, spec)
    return list(cells.values())


class Progress:
    """A progress bar on a terminal, plain log lines elsewhere (stderr)."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.start = time.perf_counter()

    def _times(self) -> str:
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        fmt = lambda s: "?" if s != s else f"{int(s) // 60}:{int(s) % 60:02d}"  # noqa: E731
        return f"{fmt(elapsed)} elapsed, ~{fmt(left)} left"

    def begin(self, label: str) -> None:
        if self.tty:
            width = 24
            filled = int(width * self.done / max(self.total, 1))
            line = f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label} | {self._times()}"
            self.stream.write(line[:160].ljust(160))
        else:
            self.stream.write(f"[{self.done + 1}/{self.total}] {label} ({self._times()})\n")
        self.stream.flush()

    def end(self, label: str, status: str) -> None:
        self.done += 1
        if not self.tty or status != "ok":
            self.stream.write(("\n" if self.tty else "") + f"  {label}: {status}\n")
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


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--report-dir", type=Path, help="report directory (default: reports/<suite name>)")
    parser.add_argument("--list", action="store_true", help="print datasets, strategies and models, then exit")
    parser.add_argument("--dry-run", action="store_true", help="print the cells without running them")
    parser.add_argument("--rerun-failed", action="store_true", help="run again the cells recorded as failed")
    parser.add_argument("--shard", help="I/N: run only cells I, I+N, I+2N, ... (0 <= I < N)")
    parser.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    args = parser.parse_args(argv)

    from bench_lib.data import DATASETS
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    if args.list:
        print("datasets:  ", ", ".join(sorted(DATASETS)))
        print("strategies:", ", ".join(f"{n} ({'static' if STRATEGIES.get(n).static_shape else 'dynamic'} shapes)"
                                       for n in STRATEGIES.names()))
        print("models:    ", ", ".join(sorted(MODELS)))
        return 0
    split = lambda s: [x for x in s.split(",") if x] if s else None  # noqa: E731
    try:
        cfg = load_config(args.config or default_config_path())
        cfg = apply_overrides(cfg, datasets=split(args.datasets), strategies=split(args.strategies),
                              models=split(args.models), repeats=args.repeats, device=args.device,
                              data_dir=args.data_dir)
        shard = parse_shard(args.shard)
        cells = expand_cells(cfg)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if shard:
        cells = cells[shard[0]::shard[1]]
    if args.dry_run:
        for c in cells:
            print(f"{c.cell_id}  {c.label()}  {json.dumps(c.strategy_params, sort_keys=True)}")
        print(f"{len(cells)} cells", file=sys.stderr)
        return 0

    out = args.out or Path("results") / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    records = out / "records.csv"
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=1))
    env = environment()
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    (out / "planning.json").write_text(json.dumps(planning_summary(cfg), indent=1))
    done, failed = set(), set()
    if records.exists() and records.stat().st_size:
        df = read_records(records)
        done = set(df.loc[df.status.isin(["ok", "skipped"]), "cell_id"])
        failed = set(df.loc[df.status == "failed", "cell_id"]) - done
    todo = [c for c in cells if c.cell_id not in done and (args.rerun_failed or c.cell_id not in failed)]
    print(f"{cfg.name}: {len(cells)} cells, {len(cells) - len(todo)} already recorded, {len(todo)} to run "
          f"-> {records}", file=sys.stderr)
    progress = Progress(len(todo))
    for spec in todo:
        progress.begin(spec.label())
        record = run_cell(spec, environment=env, log_dir=out / "logs")
        if spec.cell_id in failed:
            rewrite_without(records, {spec.cell_id})
        append_record(records, record)
        first_line = str(record["error"]).splitlines()[0] if record["error"] else ""
        progress.end(spec.label(), record["status"] + (f" ({first_line})" if first_line else ""))
    progress.close()
    if not args.no_report:
        from bench_lib.report import write_report

        report_dir = args.report_dir or Path("reports") / cfg.name
        path = write_report(out, report_dir)
        print(f"report: {path}", file=sys.stderr)
    df = read_records(records) if records.exists() else None
    n_failed = 0 if df is None else int((df.status == "failed").sum())
    if n_failed:
        print(f"{n_failed} cell(s) failed; see {records} (re-run with --rerun-failed)", file=sys.stderr)
    return 1 if n_failed else 0


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
