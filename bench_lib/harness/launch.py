"""Suites on a cluster: groups of cells as a Slurm job array (``submitit``), records merged back.

``python -m bench_lib.suite --launcher slurm`` sends each group of cells that
is not recorded yet (the cells timed together, see
:func:`bench_lib.harness.runner.group_cells`) to one task of a job array.
A task runs its group exactly as the local launcher does (one worker
process per cell, interleaved windows) and appends each record, as its cell
ends, to a records file of its own: ``<results>/jobs/records-<job id>.csv``.
:func:`merge_job_records` folds these files into ``<results>/records.csv``
with the rules of a resumed run: a cell already recorded as done is not
added again, a failure is replaced by a later success, and merging twice
changes nothing. The suite merges while it waits for the jobs; with
``--no-wait`` it exits once they are submitted and ``python -m
bench_lib.report <results>`` merges whatever has come back.

``--launcher submitit-local`` sends the same job array to submitit's local
executor (processes on this machine): the whole path without a cluster.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from bench_lib.config import SlurmSettings

__all__ = ["LAUNCHERS", "run_job", "merge_job_records", "submit_groups", "job_records"]

#: ``local``: this process runs the groups (the default); ``slurm``: a Slurm job array;
#: ``submitit-local``: the same job array on this machine (submitit's local executor).
LAUNCHERS = ("local", "slurm", "submitit-local")


def jobs_dir(out: Path) -> Path:
    return Path(out) / "jobs"


def job_records(out: Path) -> list[Path]:
    """The job records files under ``out`` (oldest first)."""
    return sorted(jobs_dir(out).glob("records-*.csv"), key=lambda p: (p.stat().st_mtime, p.name))


def run_job(groups: list[list[str]], out: str, decide: dict | None = None,
            train_parallel: int = 1) -> dict:
    """One array task: run ``groups`` (lists of cell specs as JSON) and append their records to
    ``<out>/jobs/records-<job id>.csv``; ``decide``: the fields of a
    :class:`~bench_lib.harness.runner.Decide`. Returns the cells' statuses."""
    import os

    from bench_lib.schema import CellSpec
    from bench_lib.harness.environment import environment
    from bench_lib.harness.runner import append_record, run_group
    from bench_lib.harness.turns import Decide

    os.environ.setdefault("OUTDATED_IGNORE", "1")
    try:
        import submitit

        job_id = submitit.JobEnvironment().job_id
    except (ImportError, RuntimeError):
        job_id = f"pid{os.getpid()}"
    path = jobs_dir(Path(out)) / f"records-{job_id}.csv"
    env = environment()
    statuses: dict[str, int] = {}

    def on_record(record: dict) -> None:
        append_record(path, record)
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1

    for group in groups:
        specs = [CellSpec.from_json(s) for s in group]
        print(f"group of {len(specs)} cell(s): "
              f"{specs[0].dataset}/{specs[0].model}/seed{specs[0].seed}",
              file=sys.stderr, flush=True)
        run_group(specs, environment=env, log_dir=Path(out) / "logs", on_record=on_record,
                  decide=Decide(**decide) if decide else None, train_parallel=train_parallel)
    return {"job": job_id, "records": str(path), **statuses}


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def merge_job_records(out: Path) -> dict[str, int]:
    """Fold every job records file into ``<out>/records.csv``, as a resumed run would record them.

    A row is added unless its cell is already done (ok, or skipped for a
    reason other than the machine) or already recorded as failed; a done
    row replaces a failed one. Idempotent: a second merge adds nothing.
    Returns ``{"added": n, "replaced": n, "already": n}``."""
    out = Path(out)
    records = out / "records.csv"
    records.parent.mkdir(parents=True, exist_ok=True)
    with open(out / ".merge.lock", "w") as lock:
        try:
            import fcntl

            # the suite's wait loop and a report run may merge at once
            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        return _merge(out, records)


def _merge(out: Path, records: Path) -> dict[str, int]:
    from bench_lib.schema import RECORD_FIELDS
    from bench_lib.harness.runner import append_record, record_done, rewrite_without

    done: set[str] = set()
    failed: set[str] = set()

    def final(row: dict) -> bool:
        return record_done(row["status"], row.get("error"))

    if records.exists() and records.stat().st_size:
        for row in _read_rows(records):
            (done if final(row) else failed).add(row["cell_id"])
    failed -= done
    counts = {"added": 0, "replaced": 0, "already": 0}
    for path in job_records(out):
        for row in _read_rows(path):
            # a row a running task is still writing: next merge
            if None in row or None in row.values():
                continue
            cid = row["cell_id"]
            if cid in done or (cid in failed and not final(row)):
                counts["already"] += 1
                continue
            if cid in failed:
                rewrite_without(records, {cid})
                failed.discard(cid)
                counts["replaced"] += 1
            else:
                counts["added"] += 1
            # the row's values as read (strings, not converted)
            append_record(records, {k: v for k, v in row.items() if k in RECORD_FIELDS})
            (done if final(row) else failed).add(cid)
    return counts


def submit_groups(groups: list[list], out: Path, settings: SlurmSettings, cluster: str = "slurm",
                  job_name: str = "bench_lib", decide: dict | None = None, train_parallel: int = 1):
    """Submit one array task per group; returns submitit's jobs.

    ``cluster``: ``slurm``, or ``local`` (submitit's local executor)."""
    try:
        import submitit
    except ImportError as err:  # pragma: no cover - a dependency of bench_lib
        raise RuntimeError("the slurm launcher needs submitit (pip install submitit)") from err
    out = Path(out).resolve()
    folder = Path(settings.folder) if settings.folder else jobs_dir(out) / "slurm"
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
    cpus = settings.cpus_per_job or max(c.threads * c.ranks for g in groups for c in g)
    params: dict[str, Any] = {"timeout_min": settings.time_min, "cpus_per_task": cpus,
                              "name": job_name,
                              "gpus_per_node": settings.gpus_per_job or None,
                              "mem_gb": settings.mem_gb,
                              "slurm_array_parallelism": settings.array_parallelism,
                              "slurm_partition": settings.partition,
                              "slurm_account": settings.account,
                              "slurm_qos": settings.qos,
                              "slurm_additional_parameters": dict(settings.additional) or None}
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    payload = [[[c.to_json() for c in g]] for g in groups]
    return executor.map_array(run_job, payload, [str(out)] * len(groups), [decide] * len(groups),
                              [train_parallel] * len(groups))
