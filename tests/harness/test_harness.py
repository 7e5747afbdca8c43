"""The harness: cells in their own processes, timed in turns; records and failures."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bench_lib.data import load_dataset
from bench_lib.schema import METRIC_FIELDS, RECORD_FIELDS, SCHEMA_VERSION, CellSpec
from bench_lib.harness.runner import append_record, group_cells, run_cell, run_group
from bench_lib.harness.turns import Decide, timed_turns
from bench_lib.strategies import STRATEGIES
from tests.stack import runnable_strategies


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """Build the small nci5k store once in the cache the workers will read."""
    load_dataset("nci5k")


def tiny(strategy: str, **kw) -> CellSpec:
    params = {"pad": {"batch_graphs": 8}, "dynamic": {"batch_graphs": 8},
              "pyg": {"batch_graphs": 8},
              "dgl-loader": {"batch_graphs": 8}, "pyg-dynamic": {"max_nodes": 160},
              "dynamic-budget": {"max_nodes": 160},
              "pad-bucket": {"max_nodes": 160, "buckets": 2}}.get(
                  strategy, {"max_nodes": 128, "packs_per_batch": 1})
    base = dict(dataset="nci5k", n_graphs=48, strategy=strategy, strategy_params=params,
                model="gin",
                model_params={"hidden": 16, "layers": 1}, warmup_steps=1, window_s=0.0, windows=2,
                repeats=2, eval_every=2, max_steps=4, timeout_s=120)
    base.update(kw)
    return CellSpec(**base)


@pytest.mark.slow
def test_a_group_of_every_strategy_writes_valid_records(tmp_path, warm_cache):
    out = tmp_path / "records.csv"
    specs = [tiny(name) for name in runnable_strategies()]
    seen = []
    records = run_group(specs, environment={"test": True}, on_record=seen.append)
    assert [r["cell_id"] for r in records] == [s.cell_id for s in specs]
    # each handed over as it ended
    assert sorted(r["cell_id"] for r in seen) == sorted(s.cell_id for s in specs)
    for record in records:
        assert record["status"] == "ok", record["error"]
        append_record(out, record)
    df = pd.read_csv(out)
    assert list(df.columns) == RECORD_FIELDS
    assert (df.status == "ok").all() and (df.schema_version == SCHEMA_VERSION).all()
    assert (df.graphs_per_s > 0).all() and (df.graphs_per_wall_s > 0).all()
    assert (df.windows_timed == 2 * 2).all()  # repeats x windows
    # one thread: the CPU clock
    assert (df.step_clock == "cpu").all() and (df.torch_threads == 1).all()
    # the peak is read since the reset at the baseline: not below it, and not a unit away (KiB read
    # as MiB)
    assert df.peak_reset_ok.all() and (df.throughput_peak_rss_mib >= df.baseline_rss_mib - 1).all()
    assert (df.throughput_peak_rss_mib < df.baseline_rss_mib
            + 2048).all() and (df.baseline_rss_mib > 50).all()
    assert ((df.node_efficiency > 0) & (df.node_efficiency <= 1)).all()
    assert df.reached_target.isna().all() and df.curve.isna().all()  # no target: no training run
    assert [len(json.loads(x)) for x in df.repeat_graphs_per_s] == [2] * len(df)
    for _, r in df.iterrows():
        lo, hi = r.step_s_p10, r.step_s_p90
        assert 0 < lo <= r.step_s_p50 <= hi
    assert df.loc[df.strategy == "dynamic", "padding_mib_per_step"].iloc[0] == 0
    assert df.loc[df.strategy == "pad", "padding_mib_per_step"].iloc[0] > 0
    assert json.loads(df.environment.iloc[0]) == {"test": True}
    assert (df.turn_group.nunique() == 1 and (df.decide_looks == 1).all()
            and df.decided_turns.isna().all())
    for r in records:  # the rate each window answered is the rate its record keeps
        assert r["window_graphs_per_s"] and min(r["window_graphs_per_s"]) > 0


@pytest.mark.slow
def test_a_failing_cell_does_not_stop_its_group(tmp_path, warm_cache):
    raising = tiny("pad", strategy_params={"batch_graphs": 8, "no_such_param": 1})
    # its timed windows alone wait 2 s on it (2 repeats x 10 windows of at least 0.1 s): past 0.5 s
    # however fast the machine (the limit counts the runner's waits on the cell, and a tiny cell's
    # own waits once fit in it)
    slow = tiny("dynamic", timeout_s=0.5, window_s=0.1, windows=10)
    fine = tiny("pack-lpfhp")
    records = run_group([raising, slow, fine])
    assert [r["status"] for r in records] == ["failed", "failed", "ok"]
    assert "no_such_param" in records[0]["error"]
    assert records[1]["error"].startswith("timeout: the cell ran past its limit of 0.5 s")
    assert records[2]["graphs_per_s"] > 0


def test_model_that_does_not_apply_is_skipped(warm_cache):
    record = run_cell(tiny("dynamic", model="schnet", model_params={}))
    assert record["status"] == "skipped" and "3D positions" in record["error"]


def test_loader_only_cell(warm_cache):
    record = run_cell(tiny("pack-lpfhp", model="none", model_params={}))
    assert record["status"] == "ok", record["error"]
    assert (record["graphs_per_s"] > 0
            and record["padded_nodes_per_s"] >= record["real_nodes_per_s"] > 0)
    assert 0 < record["node_efficiency"] <= 1 and record.get("curve") is None


class FakeWorker:
    """A cell whose windows run at ``rate`` with log-normal noise ``sd`` (seeded by its name)."""

    def __init__(self, name, log, repeats=2, windows=3, rate=100.0, sd=0.0):
        self.name, self.log, self.alive = name, log, True
        self.spec = CellSpec(dataset="x", strategy=name, repeats=repeats, windows=windows)
        self.rate, self.sd, self.rng = rate, sd, np.random.default_rng(ord(name))
        self.rates, self.turn_fields = [], {}

    def command(self, cmd, **args):
        self.log.append((self.name, args["repeat"]))
        return {"rate": self.rate * float(np.exp(self.rng.normal(0.0, self.sd)))}


class Quiet:
    def note(self, text):
        pass


def test_cells_take_turns_window_by_window():
    log = []
    workers = [FakeWorker(n, log) for n in "ABC"]
    timed_turns(workers, Quiet(), finish=None)
    # Six turns (2 repeats x 3 windows); in each, every cell one window; the first cell rotates.
    assert "".join(n for n, _ in log) == "ABC" "BCA" "CAB" "ABC" "BCA" "CAB"
    assert [r for n, r in log if n == "A"] == [0, 0, 0, 1, 1, 1]


class Notes:
    def __init__(self):
        self.notes = []

    def note(self, text):
        self.notes.append(text)


def test_decide_stops_at_the_first_look_when_every_verdict_is_decided():
    log = []
    workers = [FakeWorker("A", log, rate=200.0, sd=0.05), FakeWorker("B", log, rate=100.0, sd=0.05)]
    timed_turns(workers, Quiet(), finish=None, decide=Decide(looks=3))
    assert len(log) == 2 * 6  # the fixed 6 turns only: 2x apart is decided at once
    assert [w.turn_fields["decided_turns"] for w in workers] == [6, 6]


def test_decide_adds_turns_while_a_verdict_is_undecided_up_to_its_looks():
    log = []
    workers = [FakeWorker("A", log, rate=103.0, sd=0.05), FakeWorker("B", log, rate=100.0, sd=0.05)]
    notes = Notes()
    timed_turns(workers, notes, finish=None, decide=Decide(looks=3, budget_s=1e9))
    assert len(log) == 2 * 18  # 6 fixed turns, then 6 more at each of the 2 further looks
    assert ([r for n, r in log if n == "A"] == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
            + [5] * 3)
    # 3% at 5% noise: not in 18 turns
    assert all("decided_turns" not in w.turn_fields for w in workers)
    assert any("look 2 of 3" in n for n in notes.notes)


def test_decide_stops_when_more_turns_would_pass_its_budget():
    log = []
    workers = [FakeWorker("A", log, rate=103.0, sd=0.05), FakeWorker("B", log, rate=100.0, sd=0.05)]
    notes = Notes()
    timed_turns(workers, notes, finish=None, decide=Decide(looks=3, budget_s=0.0))
    assert len(log) == 2 * 6 and any("would pass the budget of 0 s" in n for n in notes.notes)


def test_groups_hold_one_dataset_model_and_seed():
    cells = [tiny("pad"), tiny("dynamic"), tiny("pad", seed=1), tiny("dynamic", model="schnet")]
    assert [[c.strategy + str(c.seed) + c.model for c in g] for g in group_cells(cells)] == [
        ["pad0gin", "dynamic0gin"], ["pad1gin"], ["dynamic0schnet"]]
    assert len(group_cells(cells, interleave=False)) == 4


def test_append_is_whole_rows(tmp_path):
    out = tmp_path / "r.csv"
    append_record(out, {"schema_version": 2, "cell_id": "a", "status": "ok",
                        "curve": [[0, 0.0, 1.5]]})
    append_record(out, {"schema_version": 2, "cell_id": "b", "status": "failed",
                        "error": "x,\n\"y\""})
    df = pd.read_csv(out)
    assert df.cell_id.tolist() == ["a", "b"] and df.error.iloc[1] == "x,\n\"y\""
    with pytest.raises(ValueError, match="not in the schema"):
        append_record(out, {"bogus": 1})


def test_cell_id_is_stable_and_spec_validated():
    assert tiny("pad").cell_id == tiny("pad").cell_id != tiny("pad", seed=1).cell_id
    # an operational limit, not the measurement
    assert tiny("pad").cell_id == tiny("pad", timeout_s=5).cell_id
    assert tiny("pad").cell_id != tiny("pad", views=("equal-real-graphs",)).cell_id
    assert CellSpec.from_json(tiny("pad").to_json()) == tiny("pad")
    with pytest.raises(ValueError, match="views must be one or more of"):
        CellSpec(dataset="x", strategy="pad", views=("cheap",))
    with pytest.raises(ValueError, match="clock must be 'auto' or 'wall'"):
        CellSpec(dataset="x", strategy="pad", clock="cpu")
    assert CellSpec(dataset="x", strategy="pad").timed_on_cpu_clock
    assert not CellSpec(dataset="x", strategy="pad", threads=2).timed_on_cpu_clock
    assert not CellSpec(dataset="x", strategy="pad", device="cuda").timed_on_cpu_clock


def test_every_metric_is_described():
    from bench_lib.schema import METRICS

    assert METRIC_FIELDS == list(METRICS) and all(METRICS.values())


def test_defaults_have_one_definition():
    """TrainSettings is the one source of the training defaults; the suite's come from CellSpec."""
    import dataclasses

    from bench_lib.config import SuiteConfig
    from bench_lib.schema import TrainSettings

    spec = CellSpec(dataset="x", strategy="pad")
    for f in dataclasses.fields(TrainSettings):
        assert getattr(spec, f.name) == f.default, f.name
    suite = {f.name: f.default for f in dataclasses.fields(SuiteConfig)}
    for name in ("repeats", "device", "threads", "clock", "timeout_s"):
        assert suite[name] == getattr(spec, name), name
    # a suite resolves its backend where it runs (auto: dgl where DGL imports); a cell names the one
    # it ran
    assert suite["backend"] == "auto" and spec.backend == "torch"


def test_worker_environment_fixes_threads_and_malloc():
    from bench_lib.harness.runner import KEEP_MALLOC, worker_env

    keep = worker_env(CellSpec(dataset="x", strategy="pad", threads=3))
    assert keep["OMP_NUM_THREADS"] == keep["MKL_NUM_THREADS"] == "3"
    assert all(keep[k] == v for k, v in KEEP_MALLOC.items())
    assert (not set(KEEP_MALLOC)
            & set(worker_env(CellSpec(dataset="x", strategy="pad", malloc="default"))))
    with pytest.raises(ValueError, match="malloc must be 'keep' or 'default'"):
        CellSpec(dataset="x", strategy="pad", malloc="jemalloc")


@pytest.mark.slow
def test_a_cell_killed_while_training_keeps_its_throughput(warm_cache):
    """The time limit covers the whole cell: past it in the training run, the cell is killed and
    recorded as failed, with the throughput it measured before."""
    endless = tiny("pack-lpfhp", target_mae=0.0, max_steps=10**9, eval_every=50, timeout_s=25)
    record = run_cell(endless)
    assert record["status"] == "failed"
    assert (record["error"].startswith("timeout: the cell ran past its limit of 25 s")
            and "(during finish)" in record["error"])
    assert (record["graphs_per_s"] > 0 and record["windows_timed"] == 4 and "steps_to_target" not
            in record)


def test_records_of_another_schema_are_not_appended_to(tmp_path):
    out = tmp_path / "records.csv"
    # a column today's schema lacks
    out.write_text("schema_version,cell_id,status,colour\n1,a,ok,red\n")
    with pytest.raises(ValueError, match="holds records with other columns"):
        append_record(out, {"schema_version": 2, "cell_id": "b", "status": "ok"})
    assert out.read_text() == "schema_version,cell_id,status,colour\n1,a,ok,red\n"


def test_records_of_an_earlier_schema_are_upgraded_then_appended_to(tmp_path):
    """An earlier schema's columns are a subset of today's: its rows are kept under today's header
    (the new columns empty, their schema_version as it was), so that a suite resumes after an
    upgrade."""
    out = tmp_path / "records.csv"
    out.write_text("schema_version,cell_id,status\n1,a,ok\n")
    append_record(out, {"schema_version": 5, "cell_id": "b", "status": "ok"})
    df = pd.read_csv(out)
    assert list(df.columns) == RECORD_FIELDS and df.cell_id.tolist() == ["a", "b"]
    assert df.schema_version.tolist() == [1, 5] and df.task.isna().all()


def test_not_implemented_is_a_skip_at_setup_only():
    """A cell that does not apply says so at setup (skipped); the same error while it trains is a
    failure, counted as a miss, not a cell quietly left out of the tables."""
    from bench_lib.harness.worker import _failure

    assert _failure(NotImplementedError("no GPU kernels"), "setup")["status"] == "skipped"
    late = _failure(NotImplementedError("an op without a backward"), "finish")
    assert late["status"] == "failed" and "during finish" in late["error"]


def test_rss_rises_are_unknown_where_memory_cannot_be_read():
    from bench_lib.harness.measure import maxrss_mib
    from bench_lib.harness.memory import rss_rise

    assert math.isnan(rss_rise(500.0, float("nan"))) and math.isnan(rss_rise(float("nan"), 100.0))
    assert rss_rise(500.0, 100.0) == 400.0 and rss_rise(90.0, 100.0) == 0.0
    # KiB on Linux, bytes on macOS
    assert maxrss_mib(2048, "linux") == 2.0 and maxrss_mib(2 * 2**20, "darwin") == 2.0


@pytest.mark.slow
def test_folders_a_killed_runner_left_are_swept_and_a_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from bench_lib.harness.runner import sweep_stale_temp

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f"bench_lib_torchrun_{dead.pid}_abc",
             tmp_path / f"bench_lib_inductor_{dead.pid}_def"]
    live = tmp_path / f"bench_lib_torchrun_{os.getpid()}_ghi"
    other = tmp_path / "bench_lib_something_else"
    for path in stale + [live, other]:
        (path / "inner").mkdir(parents=True)
    assert sorted(sweep_stale_temp(str(tmp_path))) == sorted(map(str, stale))
    assert live.exists() and other.exists() and not any(p.exists() for p in stale)


def test_a_worker_whose_runner_is_gone_removes_its_cache_folder(tmp_path):
    """A runner killed with SIGKILL leaves its worker answering into a closed pipe: the worker ends
    and its inductor folder goes with it (it used to end in BrokenPipeError and leave the folder
    behind)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    cache = tmp_path / "bench_lib_inductor_0_test"
    (cache / "triton").mkdir(parents=True)
    (cache / "triton" / "kernel.bin").write_bytes(b"x")
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache),
           "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "bench_lib.harness.worker"],
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    proc.stdout.close()  # the runner is gone: nobody reads the answers
    spec = CellSpec(dataset="nci5k", strategy="pad", backend="torch")
    proc.stdin.write((json.dumps({"spec": json.loads(spec.to_json())}) + "\n").encode())
    proc.stdin.close()
    assert proc.wait(timeout=120) == 3
    assert not cache.exists()
