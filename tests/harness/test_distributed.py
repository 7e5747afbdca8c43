"""Data-parallel cells: dealing, loss scaling, gradient equivalence, straggler readings, dead and
orphaned ranks.

The torchrun tests start real rank processes (gloo on this CPU), about 15 s each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.schema import CellSpec
from bench_lib.harness.distributed import global_denominators, rank_batches, straggler_metrics
from bench_lib.harness.runner import run_cell
from bench_lib.harness.train import CellRun
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.loader import BatchLoader
from tests.models.test_equivalence import ATOL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nci(tmp_path_factory):
    return load_dataset("nci5k", n_graphs=120, seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def _graphs(batch) -> list[int]:
    return batch.graph_index[batch.graph_mask].tolist()


@pytest.mark.parametrize("strategy,params", [("pack-lpfhp", {"max_nodes": 96, "max_graphs": 12}),
                                             ("dynamic", {"batch_graphs": 7})])
def test_ranks_deal_the_one_plan_round_robin(nci, strategy, params):
    loader = BatchLoader(nci, STRATEGIES.create(strategy, **params), seed=3)
    n = loader.plan(0).n_batch + 5  # past the first epoch's end
    single = [_graphs(b) for _, b in zip(range(n), (b for e in range(3) for b in loader.epoch(e)))]
    dealt = [[_graphs(b) for _, b in zip(range((n + 1) // 2),
                                         rank_batches(loader, r, 2))] for r in range(2)]
    interleaved = [g for pair in zip(*dealt) for g in pair][:n]
    assert interleaved == single
    valid = np.isfinite(nci.targets[:, 0])
    valid[::5] = False  # some graphs without a label
    denominators = [d for _, d in zip(range(n // 2), global_denominators(loader, valid, 2))]
    assert (denominators
            == [int(valid[single[2 * k]].sum() + valid[single[2 * k + 1]].sum())
                for k in range(n // 2)])


def test_straggler_metrics_split_the_wait_into_straggler_and_allreduce():
    # Two steps; rank 1 is slow in step 0 (rank 0 waits 0.03 for it), rank 0 is slow in step 1.
    ranks = [dict(build_s=[0.01, 0.01], compute_s=[0.05, 0.08], wait_s=[0.04, 0.01],
                  nodes=[100, 140],
                  edges=[200, 300], graphs=[4, 5], peak_rss_mib=10.0),
             dict(build_s=[0.01, 0.01], compute_s=[0.08, 0.05], wait_s=[0.01, 0.04],
                  nodes=[140, 100],
                  edges=[300, 200], graphs=[5, 4], peak_rss_mib=12.0)]
    m = straggler_metrics(ranks)
    # Each step: straggler wait 0.03 of 0.2 rank-seconds; the all-reduce's own 0.01 x 2 ranks of
    # 0.2.
    assert m["straggler_share_mean"] == pytest.approx(0.15)
    assert m["allreduce_share_mean"] == pytest.approx(0.1)
    assert m["rank_wait_s"] == [0.025, 0.025]
    assert m["node_imbalance"] == pytest.approx(140 / 120)
    assert m["graphs_per_global_step"] == 9 and m["global_steps_timed"] == 2
    assert m["rank_peak_rss_mib"] == [10.0, 12.0]


@pytest.mark.slow
def test_ranks_outside_torchrun_is_a_clear_error():
    spec = CellSpec(dataset="nci5k", n_graphs=50, strategy="dynamic", model="gin", ranks=2)
    with pytest.raises(RuntimeError, match="world of 1 process"):
        CellRun(spec)


def _torchrun(log_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           f"--log-dir={log_dir}", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_two_rank_gradient_equals_single_process_gradient(tmp_path):
    """One global step of 2 ranks (a packer on DGL, unpadded dynamic on plain torch) against one
    process's gradient over the same graphs, from the same initial weights."""
    out = tmp_path / "grads.pt"
    done = _torchrun(tmp_path / "torchrun", str(ROOT / "tests" / "harness" / "ddp_probe.py"),
                     str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    results = torch.load(out)
    assert set(results) == {"pack-lpfhp", "dynamic"} and results["pack-lpfhp"]["padded"]
    for strategy, r in results.items():
        (g0, graphs0), (g1, graphs1) = r["ranks"]
        assert graphs0 and graphs1 and not set(graphs0) & set(graphs1), strategy
        for k, ref in r["single"].items():
            assert torch.equal(g0[k], g1[k]), f"{strategy}: ranks disagree on {k}"
            torch.testing.assert_close(g0[k], ref, atol=ATOL, rtol=1e-4,
                                       msg=f"{strategy}: grad {k}")
    # The loss is divided by the global step's graphs, not each rank's: with unequal packs
    # (the probe's differ) a mean of per-rank means would not match.
    (_, a), (_, b) = results["pack-lpfhp"]["ranks"]
    assert len(a) != len(b)


def _processes_with(marker: str) -> list[tuple[int, dict]]:
    """Processes (pid, environment) whose environment holds ``BENCH_LIB_TEST_MARKER=marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        env = dict(kv.split("=", 1) for kv in raw.decode(errors="replace").split("\0") if "=" in kv)
        if env.get("BENCH_LIB_TEST_MARKER") == marker and state != "Z":
            found.append((int(pid), env))
    return found


def _wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def _long_spec(timeout_s: float = 120) -> CellSpec:
    return CellSpec(dataset="nci5k", n_graphs=120, strategy="dynamic",
                    strategy_params={"batch_graphs": 8},
                    model="gin", model_params={"hidden": 16, "layers": 2}, backend="torch", ranks=2,
                    repeats=1000, windows=50, timeout_s=timeout_s)


needs_proc = pytest.mark.skipif(not Path("/proc/self/environ").exists(),
                                reason="finds processes through /proc")


@pytest.mark.slow
@needs_proc
def test_a_rank_that_dies_fails_the_cell_and_stops_the_others(monkeypatch, tmp_path):
    """A rank killed in each attempt: the cell runs once more (a lost rank may be a busy machine's
    doing), then fails, saying it lost a rank, with nothing left behind."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv("BENCH_LIB_TEST_MARKER", marker)
    temp = tmp_path / "temp"  # the temp folder of the runner, torchrun and the ranks
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    done = threading.Event()
    killed: set[int] = set()

    def kill_rank_1():  # every rank 1 that appears, in the first attempt and in the second
        while not done.is_set():
            ranks = [p for p, env in _processes_with(marker) if env.get("RANK") == "1"
                     and p not in killed]
            if ranks:
                time.sleep(1.0)  # into the timed windows
                for pid in ranks:
                    os.kill(pid, signal.SIGKILL)
                killed.update(ranks)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_rank_1)
    killer.start()
    try:
        record = run_cell(_long_spec(), log_dir=tmp_path / "logs")
    finally:
        done.set()
        killer.join()
    assert record["status"] == "failed" and len(killed) == 2
    # Rank 0 fails on the closed connection (or the launcher reports the death first, on a busy
    # machine).
    for error in (record["retried"], record["error"]):
        assert any(why in error for why in ("lost a rank", "exited with code",
                                            "killed by signal")), error
    assert (sorted(p.name for p in (tmp_path / "logs").iterdir())
            == [f"{record['cell_id']}.attempt1.log", f"{record['cell_id']}.log"])
    assert _wait_for(lambda: not _processes_with(marker), 15), (
        f"left behind: {_processes_with(marker)}")
    # torchrun's agent folder (torchelastic_* by default) went with the cell
    assert not list(temp.iterdir())


def test_a_lost_rank_is_a_timing_failure_and_a_hang_or_a_bug_is_not():
    from bench_lib.harness.distributed import LOST_RANK
    from bench_lib.harness.runner import timing_failure

    two, one = CellSpec(dataset="nci5k", strategy="pad",
                        ranks=2), CellSpec(dataset="nci5k", strategy="pad")
    lost = {"status": "failed", "error": f"{LOST_RANK}: RuntimeError (during window): ... "
                                         f"Connection reset by peer"}
    assert timing_failure(two, lost) and not timing_failure(one, lost)
    assert timing_failure(two, {"status": "failed",
                                "error": "worker exited with code 1 without a result\n..."})
    assert timing_failure(two, {"status": "failed",
                                "error": "DistNetworkError: ... Connection refused"})
    assert not timing_failure(two, {"status": "failed",
                                    "error": "timeout: the cell ran past its limit of 9 s"})
    assert not timing_failure(two, {"status": "failed",
                                    "error": "ValueError (during setup): bad budget"})
    assert not timing_failure(two, {"status": "ok", "error": ""})


@pytest.mark.slow
@needs_proc
def test_a_rank_that_hangs_times_the_cell_out_and_is_killed(monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv("BENCH_LIB_TEST_MARKER", marker)
    stopped = []

    def stop_rank_1():  # a stopped process neither answers nor handles SIGTERM: a hang
        stopped.extend(_wait_for(lambda: [p for p, env in _processes_with(marker)
                                          if env.get("RANK") == "1"], 60))
        time.sleep(1.0)
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)

    stopper = threading.Thread(target=stop_rank_1)
    stopper.start()
    record = run_cell(_long_spec(timeout_s=20))
    stopper.join()
    assert stopped and record["status"] == "failed", record["error"]
    assert record["error"].startswith("timeout"), record["error"]
    assert _wait_for(lambda: not _processes_with(marker),
                     15), f"left behind: {_processes_with(marker)}"


@pytest.mark.slow
@needs_proc
def test_killing_the_suite_leaves_no_rank_running(tmp_path):
    marker = uuid.uuid4().hex
    script = textwrap.dedent(f"""
        from bench_lib.schema import CellSpec
        from bench_lib.harness.runner import run_cell
        run_cell(CellSpec.from_json({_long_spec().to_json()!r}))
    """)
    # A suite killed with SIGKILL cannot remove the cell's torchrun folder: it goes with tmp_path.
    env = {**os.environ, "BENCH_LIB_TEST_MARKER": marker, "PYTHONPATH": str(ROOT),
           "TMPDIR": str(tmp_path)}
    suite = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path)
    try:
        def both_ranks():  # torchrun starts its ranks one after the other: wait for the second too
            found = [(p, e["RANK"]) for p, e in _processes_with(marker) if "RANK" in e]
            return found if {rank for _, rank in found} == {"0", "1"} else None

        ranks = _wait_for(both_ranks, 90)
        assert ranks, f"the two ranks never started: {_processes_with(marker)}"
        time.sleep(1.0)
    finally:
        suite.kill()
        suite.wait()
    left = _wait_for(lambda: not _processes_with(marker), 15)
    assert left, f"still running after the suite was killed: {_processes_with(marker)}"
