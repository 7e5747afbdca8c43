"""The harness: cells in their own processes, records, failures, fairness."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.harness.cell import RECORD_FIELDS, SCHEMA_VERSION, CellSpec
from bench_lib.harness.fairness import resolve_params
from bench_lib.harness.runner import append_record, run_cell
from bench_lib.harness.train import masked_loss
from bench_lib.strategies import STRATEGIES, collate


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """Build the small nci5k store once in the cache the workers will read."""
    load_dataset("nci5k")


def tiny(strategy: str, **kw) -> CellSpec:
    params = {"pad": {"batch_graphs": 8}, "dynamic": {"batch_graphs": 8},
              "dynamic-budget": {"max_nodes": 160}}.get(strategy, {"max_nodes": 128, "packs_per_batch": 1})
    base = dict(dataset="nci5k", n_graphs=48, strategy=strategy, strategy_params=params, model="gin",
                model_params={"hidden": 16, "layers": 1}, target_mae=1e9, warmup_steps=1, timed_steps=2,
                repeats=2, eval_every=2, max_steps=4, timeout_s=120)
    base.update(kw)
    return CellSpec(**base)


def test_tiny_cell_every_strategy_writes_valid_record(tmp_path, warm_cache):
    out = tmp_path / "records.csv"
    for name in STRATEGIES.names():
        record = run_cell(tiny(name), environment={"test": True})
        assert record["status"] == "ok", record["error"]
        append_record(out, record)
    df = pd.read_csv(out)
    assert list(df.columns) == RECORD_FIELDS
    assert len(df) == len(STRATEGIES.names()) and (df.status == "ok").all()
    assert (df.schema_version == SCHEMA_VERSION).all()
    assert (df.graphs_per_s > 0).all() and (df.peak_rss_mib > 0).all()
    assert ((df.node_efficiency > 0) & (df.node_efficiency <= 1)).all()
    assert (df.reached_target).all() and (df.steps_to_target == 0).all()  # target 1e9: reached at once
    curve = json.loads(df.curve.iloc[0])
    assert curve[0][0] == 0 and len(curve[0]) == 3
    assert df.loc[df.strategy == "dynamic", "padding_mib_per_step"].iloc[0] == 0
    assert df.loc[df.strategy == "pad", "padding_mib_per_step"].iloc[0] > 0
    assert json.loads(df.environment.iloc[0]) == {"test": True}


def test_failing_and_timed_out_cells_are_recorded_and_the_next_runs(tmp_path, warm_cache):
    out = tmp_path / "records.csv"
    raising = tiny("pad", strategy_params={"batch_graphs": 8, "no_such_param": 1})
    slow = tiny("dynamic", timeout_s=0.5)
    fine = tiny("dynamic")
    for spec in (raising, slow, fine):
        append_record(out, run_cell(spec))
    df = pd.read_csv(out)
    assert df.status.tolist() == ["failed", "failed", "ok"]
    assert "no_such_param" in df.error.iloc[0]
    assert df.error.iloc[1].startswith("timeout: the cell ran past its limit of 0.5 s")
    assert df.cell_id.tolist() == [raising.cell_id, slow.cell_id, fine.cell_id]


def test_model_that_does_not_apply_is_skipped(warm_cache):
    record = run_cell(tiny("dynamic", model="schnet", model_params={}))
    assert record["status"] == "skipped" and "3D positions" in record["error"]


def test_append_is_whole_rows(tmp_path):
    out = tmp_path / "r.csv"
    append_record(out, {"schema_version": 1, "cell_id": "a", "status": "ok", "curve": [[0, 0.0, 1.5]]})
    append_record(out, {"schema_version": 1, "cell_id": "b", "status": "failed", "error": "x,\n\"y\""})
    df = pd.read_csv(out)
    assert df.cell_id.tolist() == ["a", "b"] and df.error.iloc[1] == "x,\n\"y\""
    with pytest.raises(ValueError, match="not in the schema"):
        append_record(out, {"bogus": 1})


def test_cell_id_is_stable_and_spec_validated():
    assert tiny("pad").cell_id == tiny("pad").cell_id != tiny("pad", seed=1).cell_id
    assert CellSpec.from_json(tiny("pad").to_json()) == tiny("pad")
    with pytest.raises(ValueError, match="fairness must be one of"):
        CellSpec(dataset="x", strategy="pad", fairness="cheap")


def test_masked_loss_ignores_padding():
    store = load_dataset("nci5k", n_graphs=5, seed=0)
    batch = collate(store, np.arange(3), STRATEGIES.create("pad", batch_graphs=4).prepare(
        store.n_node, store.n_edge, np.random.default_rng(0)).shape)
    pred = batch.targets[:, :1].clone() + 2.0  # every real graph off by 2
    pred[~batch.graph_mask] = 1e6  # junk on padding rows
    assert float(masked_loss(pred, batch, 0, torch.tensor([2.0]))) == pytest.approx(1.0)


def test_fairness_equal_padded_budget_gives_equal_slots():
    store = load_dataset("nci5k", n_graphs=400, seed=0)
    n, e = store.n_node, store.n_edge
    shapes = {}
    for name in ("dynamic-budget", "pack-lpfhp", "pack-ffd", "pack-cutstock"):
        params, view = resolve_params(name, "equal-padded-budget", n, e, node_budget=512, edge_budget=1100,
                                      pack_nodes=128)
        assert view == "equal-padded-budget"
        shapes[name] = STRATEGIES.create(name, **params).prepare(n, e, np.random.default_rng(0)).shape
    assert {(s.n_node, s.n_edge) for s in shapes.values()} == {(513, 1100)}
    params, _ = resolve_params("pad", "equal-padded-budget", n, e, node_budget=512, pack_nodes=128)
    assert params == {"batch_graphs": 512 // int(n.max())}
    assert resolve_params("toy", "equal-padded-budget", n, e, node_budget=512) == ({}, "manual")


def test_fairness_equal_real_graphs():
    store = load_dataset("nci5k", n_graphs=600, seed=0)
    n, e = store.n_node, store.n_edge
    for name in ("dynamic-budget", "pack-lpfhp"):
        params, _ = resolve_params(name, "equal-real-graphs", n, e, graphs_per_step=32, pack_nodes=128)
        plan = STRATEGIES.create(name, **params).prepare(n, e, np.random.default_rng(0)).plan_epoch(
            np.random.default_rng(0))
        assert abs(len(n) / plan.n_batch - 32) < 4, (name, params)
    with pytest.raises(ValueError, match="graphs_per_step must be >= 1"):
        resolve_params("pad", "equal-real-graphs", n, e, graphs_per_step=0)


def test_loader_only_cell(warm_cache):
    record = run_cell(tiny("pack-lpfhp", model="none", model_params={}, target_mae=None))
    assert record["status"] == "ok", record["error"]
    assert record["graphs_per_s"] > 0 and record["padded_nodes_per_s"] >= record["real_nodes_per_s"] > 0
    assert 0 < record["node_efficiency"] <= 1 and record.get("curve") is None
