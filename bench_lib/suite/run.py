"""Running a planned suite: here, group by group (:func:`run_here`), or as a job array
(:func:`launch`); both write the run's config, environment and planning first (:func:`pending`)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from bench_lib.cells import Plan, timed_windows
from bench_lib.config import SuiteConfig
from bench_lib.harness.environment import environment, pip_freeze
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.progress import Heartbeat, Progress, kinds_first, phase
from bench_lib.harness.runner import (ENVIRONMENT_SKIP, append_record, read_records, record_done,
                                      rewrite_without, run_group, sweep_stale_temp)
from bench_lib.harness.turns import Decide
from bench_lib.schema import CellSpec

__all__ = ["pending", "run_here", "launch"]


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
    return set(df.loc[(df.status == "skipped") & errors.str.startswith(ENVIRONMENT_SKIP),
                      "cell_id"])


def pending(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool,
          plan: Plan) -> tuple[list[list[CellSpec]], dict, set[str]]:
    """Write the run's config, environment and planning; the groups' cells not recorded yet, the
    environment, and the cells recorded as not done (failed or skipped for the machine)."""
    records = out / "records.csv"
    phase("recording the environment (environment.json, pip-freeze.txt)")
    env = environment()
    # the config as it runs: its windows raised to min_timed_s (timed_windows)
    ran = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, windows=timed_windows(cfg)))
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
    print(f"{cfg.name}: {n_cells} cells in {len(groups)} group(s), {n_cells - n_todo} already "
          f"recorded, {n_todo} to run -> {records}", file=sys.stderr)
    return todo, env, failed


def _train_parallel(cfg: SuiteConfig, group: list[CellSpec]) -> int:
    """Cells of ``group`` that may train side by side: the suite's ``train_parallel``, at most as
    many as the machine has cores for (each cell uses threads x ranks of them)."""
    need = max(c.threads * c.ranks for c in group)
    return max(1, min(cfg.train_parallel, (os.cpu_count() or 1) // need))


def _decide(cfg: SuiteConfig) -> Decide | None:
    """The suite's ``decide`` settings for the runner (None: the fixed turns only)."""
    return Decide(cfg.decide_looks, cfg.decide_budget_s, cfg.margin) if cfg.decide else None


def run_here(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool,
             plan: Plan) -> None:
    """Run the groups' cells that are not recorded yet, appending records as they end."""
    records = out / "records.csv"
    with Heartbeat():
        todo, env, failed = pending(cfg, groups, out, rerun_failed, plan)
    todo = kinds_first(todo)
    n_todo = sum(len(g) for g in todo)
    stale = sweep_stale_temp()
    if stale:
        print(f"removed {len(stale)} temporary folder(s) of cells a killed run left behind",
              file=sys.stderr)

    def on_record(record: dict) -> None:
        if record["cell_id"] in failed:
            rewrite_without(records, {record["cell_id"]})
        append_record(records, record)

    progress = Progress(n_todo, groups=todo)
    for k, group in enumerate(todo):
        progress.begin_group(k + 1, len(todo), group)
        run_group(group, environment=env, log_dir=out / "logs", on_record=on_record,
                  progress=progress,
                  decide=_decide(cfg), train_parallel=_train_parallel(cfg, group))
    progress.close()


def launch(cfg: SuiteConfig, groups: list[list[CellSpec]], out: Path, rerun_failed: bool,
           plan: Plan, launcher: str, wait: bool) -> bool:
    """Submit the groups not recorded yet as a job array (one task per group), then (``wait``) merge
    each task's records as it ends. False when the jobs were left running (``--no-wait``)."""
    from bench_lib.harness.launch import job_records, merge_job_records, submit_groups

    if job_records(out):
        counts = merge_job_records(out)
        print(f"merged earlier jobs' records: {counts['added']} added, {counts['replaced']} "
              f"replaced a failure, {counts['already']} already recorded", file=sys.stderr)
    todo, _, _ = pending(cfg, groups, out, rerun_failed, plan)
    if not todo:
        return True
    cluster = "slurm" if launcher == "slurm" else "local"
    jobs = submit_groups(todo, out, cfg.slurm, cluster=cluster, job_name=f"bench_lib-{cfg.name}",
                         decide=dataclasses.asdict(_decide(cfg)) if cfg.decide else None,
                         train_parallel=cfg.train_parallel)
    first = jobs[0].job_id.split("_")[0] if jobs else "?"
    print(f"submitted {len(jobs)} task(s) ({cluster}), job {first}; records come back in "
          f"{out / 'jobs'}",
          file=sys.stderr)
    if not wait:
        print(
            f"not waiting: once the jobs end, `python -m bench_lib.report {out}` merges their "
            "records and writes the report; re-running this command submits only what is "
            "still missing", file=sys.stderr)
        return False
    import submitit

    for k, job in enumerate(submitit.helpers.as_completed(jobs,
                                                          poll_frequency=0.5 if cluster == "local"
                                                          else 30)):
        try:
            summary = job.result()
            how = ", ".join(f"{v} {s}" for s, v in summary.items() if s not in ("job", "records"))
        # the task died (time limit, node failure): its cells are not recorded
        except Exception as err:
            how = f"task failed: {str(err).splitlines()[-1] if str(err) else type(err).__name__}"
        counts = merge_job_records(out)
        print(
            f"[{k + 1}/{len(jobs)}] job {job.job_id}: {how}; merged "
            f"{counts['added'] + counts['replaced']} record(s)", file=sys.stderr)
    return True

