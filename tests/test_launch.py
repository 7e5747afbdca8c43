"""Suites on a cluster: the job-array path (submit, per-task records, merge, resubmit) through
submitit's local executor, and the merge rules on their own."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import pandas as pd

from bench_lib.config import load_config
from bench_lib.harness.launch import job_records, merge_job_records
from bench_lib.harness.runner import append_record
from bench_lib.suite import expand_cells, main
from tests.test_suite import TINY

TWO_GROUPS = (TINY.replace('strategies = ["pad", "dynamic", "pack-lpfhp"]',
                           'strategies = ["pad", "dynamic"]\nseeds = [0, 1]\nbackend = "torch"')
              .replace("n_graphs = 48", "n_graphs = 40"))


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_two_task_job_array_merges_to_the_single_run_cell_set_and_resubmits_what_is_missing(
        tmp_path):
    config = tmp_path / "two.toml"
    config.write_text(TWO_GROUPS)
    expected = {c.cell_id: c.seed for c in expand_cells(load_config(config))}
    assert len(expected) == 4 and set(expected.values()) == {0, 1}
    out = tmp_path / "res"
    launch = ["--config", str(config), "--out", str(out), "--launcher", "submitit-local",
              "--no-report"]

    assert main(launch) == 0
    tasks = job_records(out)
    assert len(tasks) == 2  # one task per group (seed)
    per_task = [{r["cell_id"] for r in _rows(p)} for p in tasks]
    assert sorted(sorted({expected[c] for c in ids}) for ids in per_task) == [[0], [1]]
    merged = pd.read_csv(out / "records.csv")
    assert (set(merged.cell_id) == set(expected) and merged.cell_id.is_unique
            and (merged.status == "ok").all())

    # Submitting again: everything is recorded, nothing is submitted, nothing is duplicated.
    assert main(launch) == 0
    assert job_records(out) == tasks
    assert pd.read_csv(out / "records.csv").cell_id.tolist() == merged.cell_id.tolist()

    # A task whose records never came back (its file gone, its rows not merged): only its group runs
    # again.
    lost = next(p for p, ids in zip(tasks, per_task) if {expected[c] for c in ids} == {1})
    lost.unlink()
    kept = merged[merged.cell_id.map(expected) == 0]
    (out / "records.csv").unlink()
    for row in _rows(tasks[0] if lost != tasks[0] else tasks[1]):
        append_record(out / "records.csv", row)
    assert main(launch) == 0
    again = pd.read_csv(out / "records.csv")
    assert set(again.cell_id) == set(expected) and again.cell_id.is_unique
    assert set(kept.cell_id) <= set(again.cell_id) and len(job_records(out)) == 2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("srun") is not None, reason="this machine has Slurm")
def test_the_slurm_launcher_without_slurm_is_one_clear_error(tmp_path, capsys):
    config = tmp_path / "two.toml"
    config.write_text(TWO_GROUPS)
    assert (main(["--config", str(config), "--out", str(tmp_path / "res"), "--launcher", "slurm"])
            == 2)
    err = capsys.readouterr().err
    assert "error: --launcher slurm:" in err and "srun" in err and "Traceback" not in err


def _record(cid: str, status: str, error: str = "") -> dict:
    return {"schema_version": 4, "cell_id": cid, "status": status, "error": error}


def test_merge_follows_the_resume_rules_and_is_idempotent(tmp_path):
    out = tmp_path
    append_record(out / "records.csv", _record("a", "ok"))
    append_record(out / "records.csv", _record("b", "failed", "timeout"))
    jobs = out / "jobs"
    append_record(jobs / "records-1.csv", _record("a", "ok"))  # already done: not added again
    append_record(jobs / "records-1.csv", _record("b", "ok"))  # a success replaces the failure
    append_record(jobs / "records-2.csv", _record("c", "failed", "boom"))  # new: added
    append_record(jobs / "records-2.csv", _record("d", "skipped", "EnvironmentSkip: no GPU"))
    # a second failure: kept once
    append_record(jobs / "records-2.csv", _record("c", "failed", "boom again"))
    with open(jobs / "records-2.csv", "a") as f:  # a row a running task is still writing
        f.write("4,e,ok")
    assert merge_job_records(out) == {"added": 2, "replaced": 1, "already": 2}
    df = pd.read_csv(out / "records.csv")
    assert (sorted(zip(df.cell_id, df.status))
            == [("a", "ok"), ("b", "ok"), ("c", "failed"), ("d", "skipped")])
    assert merge_job_records(out) == {"added": 0, "replaced": 0, "already": 5}
    assert len(pd.read_csv(out / "records.csv")) == 4
