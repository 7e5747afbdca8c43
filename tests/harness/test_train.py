"""Training to a target, masked losses and missing labels (in this process)."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.schema import CellSpec
from bench_lib.harness.evaluation import evaluate_mae, target_stats
from bench_lib.harness.step import masked_loss
from bench_lib.harness.to_target import train_to_target
from bench_lib.harness.train import CellRun
from bench_lib.strategies import STRATEGIES, collate
from bench_lib.strategies.loader import BatchLoader


def fake_training(maes):
    """A step counter and an evaluate() that returns the next value of ``maes`` each call."""
    state = {"steps": 0, "evals": iter(maes)}

    def step():
        state["steps"] += 1

    return state, step, lambda: next(state["evals"])


def test_train_to_target_stops_at_the_first_evaluation_under_the_target():
    state, step, evaluate = fake_training([9.0, 7.0, 4.9, 3.0])
    out = train_to_target(step, evaluate, target=5.0, max_steps=100, eval_every=10, time_limit_s=60)
    assert out["reached_target"] and out["steps_to_target"] == 20 and out["train_stop"] == "target"
    assert state["steps"] == 20 and out["train_steps"] == 20
    assert [c[0] for c in out["curve"]] == [0, 10, 20] and out["best_val_score"] == 4.9
    assert out["time_to_target_wall_s"] == out["train_wall_s"] > 0


def test_train_to_target_counts_a_miss_as_censored():
    state, step, evaluate = fake_training([9.0, 8.0, 7.0, 6.5])
    out = train_to_target(step, evaluate, target=5.0, max_steps=25, eval_every=10, time_limit_s=60)
    assert (not out["reached_target"] and out["steps_to_target"] is None
            and out["time_to_target_wall_s"] is None)
    assert out["train_stop"] == "max_steps" and [c[0] for c in out["curve"]] == [0, 10, 20, 25]
    assert out["final_val_score"] == 6.5


def test_train_to_target_time_limit_is_a_recorded_safety_stop():
    state, step, evaluate = fake_training([9.0] * 10)
    out = train_to_target(step, evaluate, target=5.0, max_steps=1000, eval_every=5,
                          time_limit_s=0.0)
    assert (out["train_stop"] == "time_limit" and out["train_steps"] == 5
            and not out["reached_target"])


def test_train_to_target_reached_before_any_step():
    state, step, evaluate = fake_training([1.0])
    out = train_to_target(step, evaluate, target=5.0, max_steps=10, eval_every=5, time_limit_s=60)
    assert out["steps_to_target"] == 0 and state["steps"] == 0


def test_masked_loss_ignores_padding_and_missing_labels():
    store = load_dataset("nci5k", n_graphs=5, seed=0)
    batch = collate(store, np.arange(3), STRATEGIES.create("pad", batch_graphs=4).prepare(
        store.n_node, store.n_edge, np.random.default_rng(0)).shape)
    pred = batch.targets[:, :1].clone() + 2.0  # every real graph off by 2
    pred[~batch.graph_mask] = 1e6  # junk on padding rows
    assert float(masked_loss(pred, batch, 0, torch.tensor([2.0]))) == pytest.approx(1.0)
    batch.targets[1, 0] = float("nan")  # a missing label: left out of the mean
    pred[1] = 1e6
    loss = masked_loss(pred.requires_grad_(), batch, 0, torch.tensor([2.0]))
    assert float(loss) == pytest.approx(1.0)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1].abs().sum() == 0


def test_target_stats_use_finite_labels_only():
    store = load_dataset("nci5k", n_graphs=6, seed=0)
    store.targets[:3, 0] = np.nan
    mean, std = target_stats(store, np.arange(6), 0, per_atom=False)
    assert mean == pytest.approx(float(np.mean(store.targets[3:, 0]))) and math.isfinite(std)
    store.targets[:, 0] = np.nan
    with pytest.raises(ValueError, match="no training graph has a finite label"):
        target_stats(store, np.arange(6), 0, per_atom=False)


def spec(**kw) -> CellSpec:
    base = dict(dataset="nci5k", n_graphs=200, strategy="pack-lpfhp",
                strategy_params={"max_nodes": 128, "packs_per_batch": 1}, model="gin",
                model_params={"hidden": 16, "layers": 2}, warmup_steps=1, window_s=0.0, windows=2,
                repeats=2,
                eval_every=5, max_steps=200, lr=3e-3)
    base.update(kw)
    return CellSpec(**base)


def test_a_cell_trains_to_a_reachable_target():
    """The time-to-accuracy loop runs for real: the target is 80% of the untrained model's MAE."""
    probe = CellRun(spec())
    val = BatchLoader(probe.store, STRATEGIES.create("dynamic", batch_graphs=256),
                      probe.splits["val"], seed=0)
    start = evaluate_mae(probe.model, val, 0, probe.device, probe.spec.backend)
    run = CellRun(spec(target_mae=0.8 * start))
    run.warmup()
    for r in range(2):
        for _ in range(2):
            run.window(r)
    run.train()
    m = run.finish()
    # training starts from the same weights
    assert m["curve"][0][2] == pytest.approx(start, rel=1e-5)
    assert m["reached_target"] and m["train_stop"] == "target"
    assert 0 < m["steps_to_target"] <= 200 and m["steps_to_target"] % 5 == 0
    assert m["time_to_target_s"] == pytest.approx(m["steps_to_target"] * m["step_s"])
    assert m["time_to_target_wall_s"] > 0
    # the rise is the training peak above the baseline (in MiB, both read the same way), never below
    # 0
    assert m["baseline_rss_mib"] > 50 and m["train_peak_rss_mib"] < m["baseline_rss_mib"] + 2048
    assert (m["train_rss_mib"]
            == pytest.approx(max(0.0, m["train_peak_rss_mib"] - m["baseline_rss_mib"])))


def write_tiny_molpcba(root, n_graphs: int = 40, seed: int = 0) -> None:
    """An ogbg-molpcba layout: chains of 3-6 atoms, 128 tasks with most labels missing."""
    rng = np.random.default_rng(seed)
    raw = root / "ogbg_molpcba" / "raw"
    split = root / "ogbg_molpcba" / "split" / "scaffold"
    raw.mkdir(parents=True)
    split.mkdir(parents=True)
    sizes = rng.integers(3, 7, size=n_graphs)
    edges, n_edge = [], []
    for n in sizes:
        pairs = [(i, i + 1) for i in range(n - 1)]
        edges += [p for a, b in pairs for p in ((a, b), (b, a))]
        n_edge.append(2 * (n - 1))
    labels = np.where(rng.random((n_graphs, 128)) < 0.6, np.nan,
                      rng.integers(0, 2, (n_graphs, 128)))
    # task 0 fully labelled, so the split has labels to learn
    labels[:, 0] = rng.integers(0, 2, n_graphs)

    def put(path, rows):
        path.write_bytes(gzip.compress(("\n".join(",".join(map(str, r)) for r in rows)
                                        + "\n").encode()))

    put(raw / "num-node-list.csv.gz", [[n] for n in sizes])
    put(raw / "num-edge-list.csv.gz", [[e] for e in n_edge])
    put(raw / "edge.csv.gz", edges)
    put(raw / "node-feat.csv.gz", [[5, 0, 1, 5, 0, 0, 1, 0, 0]] * int(sizes.sum()))
    put(raw / "edge-feat.csv.gz", [[0, 0, 0]] * len(edges))
    put(raw / "graph-label.csv.gz", [["nan" if v != v else int(v) for v in row] for row in labels])
    order = rng.permutation(n_graphs)
    put(split / "train.csv.gz", [[i] for i in order[:28]])
    put(split / "valid.csv.gz", [[i] for i in order[28:34]])
    put(split / "test.csv.gz", [[i] for i in order[34:]])


def test_molpcba_with_missing_labels_trains_to_a_finite_loss(tmp_path):
    write_tiny_molpcba(tmp_path)
    cell = spec(dataset="ogbg-molpcba", n_graphs=None, dataset_options={"data_dir": str(tmp_path)},
                strategy="dynamic", strategy_params={"batch_graphs": 8}, target="pcba_task_5",
                target_mae=1e-9,
                max_steps=20)
    run = CellRun(cell)
    assert np.isnan(run.store.targets[:, 0]).any()  # the chosen task really has missing labels
    batch, ops, _ = run._build()
    loss = masked_loss(run.model(batch, ops=ops), batch, 0, run.model.target_std)
    assert torch.isfinite(loss)
    run.warmup()
    run.window(0)
    run.train()
    m = run.finish()
    maes = [c[2] for c in m["curve"]]
    assert len(maes) == 5 and all(math.isfinite(x) for x in maes)  # 20 steps, evaluated every 5
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


@pytest.mark.dgl
def test_the_dgl_graph_is_built_with_the_batch_not_in_the_forward(monkeypatch):
    """The build window covers everything a step needs before compute, the DGLGraph included."""
    from bench_lib.strategies.batch import GraphBatch

    run = CellRun(spec(strategy="dynamic", strategy_params={"batch_graphs": 8}, backend="dgl"))
    calls = []
    real = GraphBatch.to_dgl
    monkeypatch.setattr(GraphBatch, "to_dgl", lambda self: calls.append(1) or real(self))
    batch, ops, _ = run._build()
    assert calls == [1] and ops.graph.num_nodes() == len(batch.node_mask)
    run._compute(batch, ops)
    assert calls == [1]  # the forward pass reused the graph built in the build window
