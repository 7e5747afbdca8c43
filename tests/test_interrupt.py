"""Ctrl-C and SIGTERM alike: the first stops the suite where it stands (no new cell, running workers
ended, records kept, how to resume said), the same command then resumes; nothing is left running or
on disk.

The suite runs as a user's shell would start it in the background (SIGINT ignored by inheritance,
which a suite must override), about a minute per signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench_lib.harness.runner import read_records
from tests.harness.test_distributed import _processes_with, _wait_for, needs_proc

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
[suite]
name = "stop"
strategies = ["pad", "dynamic"]
seeds = [0, 1, 2, 3]
timed_seeds = 4
repeats = 1
min_timed_s = 0

[train]
windows = 4

[datasets.nci5k]
n_graphs = 300
models = ["gin"]
node_slots = 256
"""


#: Train-only seeds, two cells training side by side in threads when the signal comes.
TRAINING = SUITE.replace("timed_seeds = 4", "timed_seeds = 1\ntrain_parallel = 2").replace(
    "[train]\nwindows = 4", "[train]\nwindows = 4\nmax_steps = 400\neval_every = 50").replace(
    'node_slots = 256', 'node_slots = 256\ntarget_mae = 0.001')


def _records(path: Path) -> int:
    return len(read_records(path)) if path.exists() and path.stat().st_size else 0


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("sig,suite", [(signal.SIGINT, SUITE), (signal.SIGTERM, SUITE),
                                       (signal.SIGINT, TRAINING)],
                         ids=["SIGINT", "SIGTERM", "SIGINT-training-side-by-side"])
def test_a_stop_keeps_the_records_ends_the_workers_and_the_same_command_resumes(tmp_path, sig,
        suite):
    marker = uuid.uuid4().hex
    (tmp_path / "suite.toml").write_text(suite)
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "results"
    env = {**os.environ, "BENCH_LIB_TEST_MARKER": marker, "TMPDIR": str(temp),
           "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bench_lib.suite", "--config", str(tmp_path / "suite.toml"),
           "--out", str(out),
           "--no-report", "--no-batching-check"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        # a group recorded and the next one's workers running
        alive = 3 if suite is TRAINING else 2  # the suite and its worker(s) of the next group
        assert _wait_for(lambda: _records(out / "records.csv") >= 2
                         and len(_processes_with(marker)) >= alive, 240), \
            proc.stderr.read() if proc.poll() is not None else "no record in 240 s"
        kept = _records(out / "records.csv")
        sent = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert rc == 128 + sig and took < 15, (rc, took, err[-2000:])
    records = read_records(out / "records.csv")
    assert len(records) >= kept and records.cell_id.is_unique and (records.status == "ok").all()
    name = signal.Signals(sig).name
    assert (f"stopped by {name}: {len(records)} cell record(s) kept in {out / 'records.csv'}; "
            "the same command resumes") in err, err[-2000:]
    assert "Traceback" not in err
    assert _wait_for(lambda: not _processes_with(marker),
                     15), f"left running: {_processes_with(marker)}"
    assert not list(temp.iterdir())
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"8 cells in 4 group(s), {len(records)} already recorded" in again.stderr
    assert len(read_records(out / "records.csv")) == 8
