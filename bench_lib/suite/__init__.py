"""``python -m bench_lib.suite``: run a benchmark suite, then write its report.

With no arguments it runs ``benchmarks/default.toml``: the embedded datasets
(nci5k, a qm9 subset), the built-in strategies and the libraries' loaders, the
models that apply, in both fairness views, with two seeds (the answer at a
glance in minutes; ``benchmarks/reference.toml`` runs the same cells with five).
Each cell runs in its own process; the cells of one dataset, model and seed are
timed in turns (interleaved), so that a machine that gets busier affects every
strategy alike. Records are appended to
``results/<suite>/records.csv`` as cells finish, so a killed suite loses at
most the cells in flight, and re-running the same command resumes.
The command-line examples are in ``EXAMPLES`` (``--help`` prints them); the
cells come from :mod:`bench_lib.cells`; the flags are laid on the suite file's
tables before they are checked (:class:`bench_lib.config.Overrides`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_lib.cells import Plan, expand_cells, plan_suite
from bench_lib.config import (ConfigError, Overrides, SuiteConfig, check_out, load_config,
                              read_suite_file)
from bench_lib.deps import DGL_EXTRA
from bench_lib.harness.progress import Heartbeat, phase
from bench_lib.harness.runner import group_cells, read_records
from bench_lib.plugins import PluginError
from bench_lib.schema import CellSpec
from bench_lib.stack import fit_to_stack
from bench_lib.stopping import Stop, stop_on_signals, stopped
from bench_lib.suite.flags import (EXAMPLES, default_config_path, parse_shard, command_line,
                                   print_list)
from bench_lib.suite.run import launch, run_here

# expand_cells: bench_lib.cells's, here for the callers that import it from here
__all__ = ["expand_cells", "main", "EXAMPLES", "default_config_path", "parse_shard"]


def _ints(flag: str, values: list[str] | None) -> list[int] | None:
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ConfigError(
            f"{flag} takes whole numbers, comma-separated (got {','.join(values)!r})") from None


def _error(err: ConfigError) -> int:
    for problem in err.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2


def _located(problem: str, config_path: Path, in_file: set[str]) -> str:
    """Say where a dataset's problem comes from: the suite file, or ``--datasets`` on the command
    line."""
    if problem.startswith("[datasets."):
        name = problem[len("[datasets."):].split("]", 1)[0]
        if name not in in_file:
            return f"--datasets {name}" + problem[len("[datasets.") + len(name) + 1:]
    return f"{config_path}: {problem}" if problem.startswith("[") else problem


def _check_device(cfg: SuiteConfig) -> None:
    import torch

    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda': torch sees no GPU on this machine "
                          "(torch.cuda.is_available() is False); run on a machine with one, or use "
                          "--device cpu")


def _split(text: str | None) -> list[str] | None:
    """A comma-separated flag's values (None: the flag was not given)."""
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _overrides(args: argparse.Namespace) -> Overrides:
    """The command line's flags, as :func:`load_config` lays them on the suite file."""
    targets = [t for text in args.target for t in _split(text)] if args.target else None
    return Overrides(datasets=_split(args.datasets), strategies=_split(args.strategies),
                     models=_split(args.models), repeats=args.repeats, device=args.device,
                     backend=args.backend, data_dir=args.data_dir, target=targets,
                     target_mae=args.target_mae, task=args.task,
                     target_metric=args.target_metric, target_value=args.target_value,
                     smiles_column=args.smiles_column, id_column=args.id_column,
                     options=dict(args.option), execution=_split(args.execution),
                     prefetch=args.prefetch, ranks=_ints("--ranks", _split(args.ranks)),
                     max_steps=args.max_steps,
                     slurm={"partition": args.partition, "time_min": args.time_min,
                            "gpus_per_job": args.gpus_per_job,
                            "array_parallelism": args.array_parallelism})


def _check_batching(args: argparse.Namespace, groups: list[list[CellSpec]], plan: Plan,
                    notes: list[str]) -> None:
    """The batching check of the cells' models (a ``ConfigError`` for a model whose batches leak
    between graphs), unless ``--no-batching-check``, which the notes then say."""
    from bench_lib.harness.batching import check_cells

    if args.no_batching_check:
        notes.append("batching check skipped (--no-batching-check): nothing says these models are "
                     "safe to batch")
    else:
        unsafe = check_cells([c for g in groups for c in g], say=notes.append, load=plan.store_of)
        if unsafe:
            raise ConfigError(unsafe)


def _plan(args: argparse.Namespace,
          notes: list[str]) -> tuple[SuiteConfig, list[list[CellSpec]], Path,
                                     tuple[int, int] | None, Plan]:
    """``(configuration, groups of cells, results folder, shard, plan)`` the command line asks for,
    every check done (the results folder writable, ``--dry-run`` too) and the folder made (not with
    ``--dry-run``); a ``ConfigError`` for anything wrong, a dataset's problems located in the suite
    file or on the command line."""
    config_path = args.config or default_config_path()
    phase(f"reading {config_path}")
    in_file = set(read_suite_file(config_path).get("datasets", {}))
    cfg = load_config(config_path, _overrides(args))
    asked, cfg = cfg, fit_to_stack(cfg, notes, cli_strategies=_split(args.strategies),
                                   cli_datasets=_split(args.datasets), cli_backend=args.backend,
                                   where=str(config_path))
    left_out = ([f"strategy {s}" for s in asked.strategies if s not in cfg.strategies]
                + [f"dataset {d.name}" for d in asked.datasets if d not in cfg.datasets])
    shard = parse_shard(args.shard)
    out = args.out or Path("results") / cfg.name
    problems = check_out("--out" if args.out else "results folder", out)
    if problems:
        raise ConfigError(problems)
    if args.launcher == "local":  # a cluster's tasks may have GPUs this machine lacks
        _check_device(cfg)
    try:
        plan = plan_suite(cfg, notes)
    except ConfigError as err:
        raise ConfigError([_located(p, config_path, in_file) for p in err.problems]) from None
    groups = group_cells(plan.cells, cfg.interleave)
    if not groups:
        without = (f"; left out for want of DGL ({DGL_EXTRA}): {', '.join(left_out)}" if left_out
                   else "")
        raise ConfigError(f"the suite has no cell to run (no dataset, strategy or model "
                          f"left{without})")
    _check_batching(args, groups, plan, notes)
    if not args.dry_run:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"--out {out}: cannot create the results folder ({err.strerror})") from None
    return cfg, groups, out, shard, plan


def _print_cells(groups: list[list[CellSpec]]) -> None:
    """``--dry-run``: each cell's id, label and strategy parameters."""
    for g in groups:
        for c in g:
            print(f"{c.cell_id}  {c.label()}  {json.dumps(c.strategy_params, sort_keys=True)}")
    print(f"{sum(map(len, groups))} cells in {len(groups)} group(s)", file=sys.stderr)


def _write_report(args: argparse.Namespace, cfg: SuiteConfig, out: Path) -> None:
    from bench_lib.report import write_report

    default_dir = args.out / "report" if args.out else Path("reports") / cfg.name
    path = write_report(out, args.report_dir or default_dir)
    print(f"report: {path}", file=sys.stderr)


def _exit_status(out: Path) -> int:
    """1 when a cell's last record says it failed (and how many did), else 0."""
    df = read_records(out / "records.csv") if (out / "records.csv").exists() else None
    last = None if df is None else df.drop_duplicates("cell_id", keep="last")
    n_failed = 0 if last is None else int((last.status == "failed").sum())
    if n_failed:
        print(f"{n_failed} cell(s) failed; see {out / 'records.csv'} (re-run with --rerun-failed)",
              file=sys.stderr)
    return 1 if n_failed else 0


def main(argv: list[str] | None = None) -> int:
    """The suite's command: its argument list in, its exit status out (a bad flag: 2, as a bad
    setting is, not a ``SystemExit``)."""
    try:
        args = command_line().parse_args(argv)
    except SystemExit as done:  # --help (0) or a bad flag (2): already said
        return int(done.code or 0)
    with stop_on_signals() as where:
        try:
            return _main(args, where)
        except Stop as stop:
            return stopped(stop, where[0] / "records.csv" if where else None)


def _main(args: argparse.Namespace, where: list[Path]) -> int:
    """The suite's command; ``where`` receives the results folder once it is known (what a stop
    reports)."""
    notes: list[str] = []
    try:
        if args.list:
            print_list()
            return 0
        with Heartbeat():
            cfg, groups, out, shard, plan = _plan(args, notes)
    except (ConfigError, PluginError) as err:
        return _error(err)
    where.append(out)
    for note in notes:
        print(note, file=sys.stderr)
    if shard:
        groups = groups[shard[0]::shard[1]]
    if args.dry_run:
        _print_cells(groups)
        return 0
    if args.launcher == "local":
        run_here(cfg, groups, out, args.rerun_failed, plan)
    else:
        try:
            if not launch(cfg, groups, out, args.rerun_failed, plan, args.launcher,
                          wait=not args.no_wait):
                return 0
        # no Slurm here (submitit finds no srun/sbatch), a refused sbatch...
        except RuntimeError as err:
            print(f"error: --launcher {args.launcher}: {err}", file=sys.stderr)
            return 2
    if not args.no_report:
        _write_report(args, cfg, out)
    return _exit_status(out)

