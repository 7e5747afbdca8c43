"""``python -m bench_lib.suite``: run a benchmark suite, then write its report.

With no arguments it runs ``benchmarks/default.toml``: the embedded datasets
(nci5k, a qm9 subset), every registered strategy, the models that apply, in
both fairness views. Each cell runs in its own process; the cells of one
dataset, model and seed are timed in turns (interleaved), so that a machine
that gets busier affects every strategy alike. Records are appended to
``results/<suite>/records.csv`` as cells finish, so a killed suite loses at
most the cells in flight, and re-running the same command resumes.
The command-line examples are in ``EXAMPLES`` (``--help`` prints them); the
cells come from :mod:`bench_lib.cells`, the flags' changes to the suite file
from :mod:`bench_lib.overrides`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from bench_lib.cells import Plan, expand_cells, plan_suite, timed_windows
from bench_lib.config import ConfigError, SuiteConfig, check_out, load_config
from bench_lib.data import parse_option
from bench_lib.deps import BACKEND_CHOICES, DGL_EXTRA, dgl_available
from bench_lib.schema import CellSpec
from bench_lib.harness.environment import environment, pip_freeze
from bench_lib.harness.launch import LAUNCHERS
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.progress import Heartbeat, Progress, kinds_first, phase
from bench_lib.harness.turns import Decide
from bench_lib.harness.runner import (ENVIRONMENT_SKIP, sweep_stale_temp, append_record, group_cells, read_records, record_done,
                                     rewrite_without, run_group)
from bench_lib.overrides import apply_overrides
from bench_lib.parsing import Parser
from bench_lib.plugins import PluginError
from bench_lib.stopping import Stop, stop_on_signals, stopped
from bench_lib.stack import fit_to_stack

__all__ = ["expand_cells", "main"]  # expand_cells: bench_lib.cells's, here for the callers that import it from here

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def default_config_path() -> Path:
    """``benchmarks/default.toml`` of the source checkout."""
    path = BENCHMARKS / "default.toml"
    if not path.exists():
        raise ConfigError(f"no default suite at {path}; pass --config FILE")
    return path


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


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m bench_lib.suite",
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
    parser.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                        help="dataset option for the --datasets (e.g. cutoff=5.0, max_neighbors=None)")
    parser.add_argument("--strategies", help="comma-separated strategies (overrides the config)")
    parser.add_argument("--models", help="comma-separated models, run on every dataset instead of its list (a "
                                         "dataset that cannot feed one of them skips it, with the reason; one "
                                         "that can feed none is an error)")
    parser.add_argument("--repeats", type=int, help="timed repeats per cell")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="training steps a time-to-accuracy run may take to reach its target ([train] max_steps)")
    parser.add_argument("--device", help="cpu or cuda (cuda runs the plain-torch backend)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES,
                        help="the models' message passing: torch (plain torch operators), dgl (DGL's kernels; "
                             "needs bench_lib[dgl]) or auto: dgl where DGL imports, else torch (default: the "
                             "suite file's backend, auto where it names none)")
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
    _launch_flags(parser)
    parser.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    parser.add_argument("--no-batching-check", action="store_true",
                        help="time the models without the batching check (python -m bench_lib.models check NAME "
                             "runs it alone): for a model the check cannot run, never to hide a leak")
    return parser


def _launch_flags(parser: argparse.ArgumentParser) -> None:
    """Where the cells run: ``--launcher`` and the Slurm flags."""
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


def _print_list() -> None:
    from bench_lib.data import DATASETS, DGL_DATASETS, FILE_KINDS
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    print("datasets:  ", ", ".join(f"{n} (needs bench_lib[dgl])" if n in DGL_DATASETS and not dgl_available()
                                   else n for n in sorted(DATASETS)))
    print("local files:", ", ".join(f"{k}:PATH" for k in FILE_KINDS),
          "(csv: a SMILES table, .gz/.bz2/.xz/.zip too; sdf: molecules, 3D or 2D; xyz: frames, a folder or a glob)")
    def shapes(cls) -> str:
        if cls.static_shape:
            return "static shapes"
        return "a few bucket shapes" if "buckets" in getattr(cls, "__dataclass_fields__", {}) else "dynamic shapes"

    dgl = "" if dgl_available() else "; needs bench_lib[dgl]"
    print("strategies:", ", ".join(f"{n} ({shapes(STRATEGIES.get(n))}{dgl if STRATEGIES.get(n).needs_dgl else ''})"
                                   for n in STRATEGIES.names()))
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
    final = [record_done(s, e) for s, e in zip(df.status, df.error.astype(object).fillna(""))]
    done = set(df.cell_id[final])
    return done, set(df.cell_id) - done


def _environment_skips(records: Path) -> set[str]:
    if not (records.exists() and records.stat().st_size):
        return set()
    df = read_records(records)
    errors = df.error.astype(object).fillna("").astype(str)
    return set(df.loc[(df.status == "skipped") & errors.str.startswith(ENVIRONMENT_SKIP), "cell_id"])


def _todo(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool,
          plan: Plan) -> tuple[list[list[CellSpec]], dict, set[str]]:
    """Write the run's config, environment and planning; the groups' cells not recorded yet, the
    environment, and the cells recorded as not done (failed or skipped for the machine)."""
    records = out / "records.csv"
    phase("recording the environment (environment.json, pip-freeze.txt)")
    env = environment()
    ran = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, windows=timed_windows(cfg)))  # raised
    (out / "config.json").write_text(json.dumps(ran.to_json(), indent=1))
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    (out / "pip-freeze.txt").write_text(pip_freeze())
    phase("the plans' fill for planning.json")
    (out / "planning.json").write_text(json.dumps(planning_summary(plan.datasets), indent=1))
    phase(f"reading the records already in {records}")
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


def _run(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool, plan: Plan) -> None:
    """Run the groups' cells that are not recorded yet, appending records as they end."""
    records = out / "records.csv"
    with Heartbeat():
        todo, env, failed = _todo(cfg, groups, out, rerun_failed, plan)
    todo = kinds_first(todo)
    n_todo = sum(len(g) for g in todo)
    stale = sweep_stale_temp()
    if stale:
        print(f"removed {len(stale)} temporary folder(s) of cells a killed run left behind", file=sys.stderr)

    def on_record(record: dict) -> None:
        if record["cell_id"] in failed:
            rewrite_without(records, {record["cell_id"]})
        append_record(records, record)

    progress = Progress(n_todo, groups=todo)
    for k, group in enumerate(todo):
        progress.begin_group(k + 1, len(todo), group)
        run_group(group, environment=env, log_dir=out / "logs", on_record=on_record, progress=progress,
                  decide=_decide(cfg), train_parallel=_train_parallel(cfg, group))
    progress.close()


def _launch(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool, plan: Plan,
            launcher: str, wait: bool) -> bool:
    """Submit the groups not recorded yet as a job array (one task per group), then (``wait``) merge
    each task's records as it ends. False when the jobs were left running (``--no-wait``)."""
    from bench_lib.harness.launch import job_records, merge_job_records, submit_groups

    if job_records(out):
        counts = merge_job_records(out)
        print(f"merged earlier jobs' records: {counts['added']} added, {counts['replaced']} replaced a failure, "
              f"{counts['already']} already recorded", file=sys.stderr)
    todo, _, _ = _todo(cfg, groups, out, rerun_failed, plan)
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
    import torch

    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda': torch sees no GPU on this machine (torch.cuda.is_available() is "
                          "False); run on a machine with one, or use --device cpu")


def _split(text: str | None) -> list[str] | None:
    """A comma-separated flag's values (None: the flag was not given)."""
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _overridden(cfg: SuiteConfig, args: argparse.Namespace) -> SuiteConfig:
    """The suite file's configuration with the command line's flags applied."""
    targets = [t for text in args.target for t in _split(text)] if args.target else None
    return apply_overrides(cfg, datasets=_split(args.datasets), strategies=_split(args.strategies),
                           models=_split(args.models), repeats=args.repeats, device=args.device,
                           backend=args.backend,
                           data_dir=args.data_dir, target=targets, target_mae=args.target_mae,
                           task=args.task, target_metric=args.target_metric, target_value=args.target_value,
                           smiles_column=args.smiles_column, id_column=args.id_column, options=dict(args.option),
                           execution=_split(args.execution), prefetch=args.prefetch,
                           ranks=_ints("--ranks", _split(args.ranks)), max_steps=args.max_steps,
                           slurm={"partition": args.partition, "time_min": args.time_min,
                                  "gpus_per_job": args.gpus_per_job,
                                  "array_parallelism": args.array_parallelism})


def _check_batching(args: argparse.Namespace, groups: list[list[CellSpec]], plan: Plan, notes: list[str]) -> None:
    """The batching check of the cells' models (a ``ConfigError`` for a model whose batches leak between
    graphs), unless ``--no-batching-check``, which the notes then say."""
    from bench_lib.harness.batching import check_cells

    if args.no_batching_check:
        notes.append("batching check skipped (--no-batching-check): nothing says these models are safe to batch")
    else:
        unsafe = check_cells([c for g in groups for c in g], say=notes.append, load=plan.store_of)
        if unsafe:
            raise ConfigError(unsafe)


def _plan(args: argparse.Namespace,
          notes: list[str]) -> tuple[SuiteConfig, list[list[CellSpec]], Path, tuple[int, int] | None, Plan]:
    """``(configuration, groups of cells, results folder, shard, plan)`` the command line asks for, every check done
    (the results folder writable, ``--dry-run`` too) and the folder made (not with ``--dry-run``); a
    ``ConfigError`` for anything wrong, a dataset's problems located in the suite file or on the command line."""
    config_path = args.config or default_config_path()
    phase(f"reading {config_path}")
    cfg = load_config(config_path)
    in_file = {d.name for d in cfg.datasets}
    cfg = _overridden(cfg, args)
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
        without = f"; left out for want of DGL ({DGL_EXTRA}): {', '.join(left_out)}" if left_out else ""
        raise ConfigError(f"the suite has no cell to run (no dataset, strategy or model left{without})")
    _check_batching(args, groups, plan, notes)
    if not args.dry_run:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"--out {out}: cannot create the results folder ({err.strerror})") from None
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
        print(f"{n_failed} cell(s) failed; see {out / 'records.csv'} (re-run with --rerun-failed)", file=sys.stderr)
    return 1 if n_failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with stop_on_signals() as where:
        try:
            return _main(args, where)
        except Stop as stop:
            return stopped(stop, where[0] / "records.csv" if where else None)


def _main(args: argparse.Namespace, where: list[Path]) -> int:
    """The suite's command; ``where`` receives the results folder once it is known (what a stop reports)."""
    notes: list[str] = []
    try:
        if args.list:
            _print_list()
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
        _run(cfg, groups, out, args.rerun_failed, plan)
    else:
        try:
            if not _launch(cfg, groups, out, args.rerun_failed, plan, args.launcher, wait=not args.no_wait):
                return 0
        except RuntimeError as err:  # no Slurm here (submitit finds no srun/sbatch), a refused sbatch...
            print(f"error: --launcher {args.launcher}: {err}", file=sys.stderr)
            return 2
    if not args.no_report:
        _write_report(args, cfg, out)
    return _exit_status(out)


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
