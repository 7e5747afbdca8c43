"""Tasks, losses and metrics: classification, missing labels, OGB's evaluators, targets with a
direction."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.data.nci5k import nci5k_files, read_nci5k
from bench_lib.data.ogb_layout import standin_molpcba, write_ogb_layout
from bench_lib.schema import CellSpec
from bench_lib.harness.evaluation import evaluate_score, predict
from bench_lib.harness.to_target import train_to_target
from bench_lib.harness.train import CellRun
from bench_lib.strategies import STRATEGIES, collate
from bench_lib.strategies.loader import BatchLoader
from bench_lib.suite import main
from bench_lib.tasks import METRICS, resolve_task, score, task_loss

os.environ.setdefault("OUTDATED_IGNORE", "1")


def nci(n: int):
    """The first ``n`` NCI molecules that ship with RDKit and their TPSA (a property a GNN learns
    fast)."""
    from pathlib import Path

    smi, tpsa = nci5k_files()
    smiles, _, values = read_nci5k(Path(smi), Path(tpsa))
    return smiles[:n], np.asarray(values[:n], dtype=np.float64)


# ---- metrics ------------------------------------------------------------------------------------
def test_rocauc_and_ap_agree_with_ogb_evaluators():
    from ogb.graphproppred import Evaluator

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 1)).astype(float)
    pred = y + rng.normal(0, 1.0, y.shape)
    ogb_hiv = Evaluator("ogbg-molhiv").eval({"y_true": y, "y_pred": pred})["rocauc"]
    assert score("rocauc", y, pred) == pytest.approx(ogb_hiv, abs=1e-12)
    y = rng.integers(0, 2, (300, 128)).astype(float)
    y[rng.random(y.shape) < 0.7] = np.nan  # most labels missing, as in PCBA
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 0.0)  # a task with one class: left out by both
    pred = np.nan_to_num(y) + rng.normal(0, 1.0, y.shape)
    ogb_pcba = Evaluator("ogbg-molpcba").eval({"y_true": y, "y_pred": pred})["ap"]
    assert score("ap", y, pred) == pytest.approx(ogb_pcba, abs=1e-12)


def test_pcqm4mv2_mae_agrees_with_its_evaluator():
    from ogb.lsc import PCQM4Mv2Evaluator

    rng = np.random.default_rng(1)
    y, pred = rng.normal(5, 1, 50), rng.normal(5, 1, 50)
    want = PCQM4Mv2Evaluator().eval({"y_true": y, "y_pred": pred})["mae"]
    assert score("mae", y[:, None], pred[:, None]) == pytest.approx(want, abs=1e-9)


def test_accuracy_from_one_logit_and_from_several():
    assert (score("accuracy", np.array([[1.0], [0.0], [1.0]]), np.array([[2.0], [-1.0], [-0.5]]))
            == pytest.approx(2 / 3))
    logits = np.array([[0.1, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 5.0, 0.0]])
    # the missing label left out
    assert score("accuracy", np.array([[1.0], [0.0], [2.0], [np.nan]]), logits) == 1.0


@pytest.mark.parametrize("metric,value,message", [
    ("rocauc", 1.5, "a ROC-AUC target must be in (0, 1] (got 1.5)"),
    ("ap", 0.0, "a average precision target must be in (0, 1]"),
    ("mae", math.inf, "a MAE target must be a finite number (got inf)"),
    ("mae", -1.0, "a MAE target must be > 0 (got -1.0)"),
    ("accuracy", math.nan, "must be a finite number"),
])
def test_target_values_outside_the_metric_are_refused(metric, value, message):
    assert message in METRICS[metric].check_value(value)


def test_direction_decides_when_a_target_is_reached():
    assert METRICS["rocauc"].reached(0.8, 0.75) and not METRICS["rocauc"].reached(0.7, 0.75)
    assert METRICS["mae"].reached(0.7, 0.75) and not METRICS["mae"].reached(0.8, 0.75)
    scores = iter([0.5, 0.6, 0.76, 0.9])
    out = train_to_target(lambda: None, lambda: next(scores), target=0.75, max_steps=100,
                          eval_every=10,
                          time_limit_s=60, higher_is_better=True)
    assert out["reached_target"] and out["steps_to_target"] == 20 and out["best_val_score"] == 0.76


# ---- tasks --------------------------------------------------------------------------------------
def with_targets(store, values: np.ndarray, names=("y",), **meta):
    values = np.asarray(values, np.float32).reshape(store.n_graph, -1)
    return dataclasses.replace(store, targets=values,
                               meta=dataclasses.replace(store.meta, target_names=tuple(names),
                                                        **meta))


@pytest.fixture(scope="module")
def small():
    return load_dataset("nci5k", n_graphs=30, seed=0)


def test_a_column_of_two_values_is_binary_and_says_so(small):
    store = with_targets(small, np.where(np.arange(30) % 3, 5.0, -1.0))
    task = resolve_task(store, "y")
    assert task.kind == "binary" and task.metric == "rocauc" and task.classes == (-1.0, 5.0)
    assert ("'y' holds only two values (-1, 5): binary classification, 5 the positive class"
            in task.note)
    assert task.labels(store.targets)[:3, 0].tolist() == [0.0, 1.0, 1.0]
    assert resolve_task(store, "y", kind="regression").kind == "regression"  # --task regression


def test_known_sets_take_their_task_from_ogb(small):
    task = resolve_task(with_targets(small, np.arange(30) % 2, ("hiv_active",)), None,
                        dataset="ogbg-molhiv")
    assert (task.kind, task.metric) == ("binary", "rocauc")
    labels = np.where(np.arange(30 * 4).reshape(30, 4) % 5 == 0, np.nan,
                      np.arange(30 * 4).reshape(30, 4) % 2)
    task = resolve_task(with_targets(small, labels, ("a", "b", "c", "d")), None, kind="multilabel")
    assert task.kind == "multilabel" and task.n_outputs == 4 and task.metric == "ap"


def test_text_classes_keep_their_names(small):
    store = with_targets(small, np.arange(30) % 3, ("colour",),
                         target_classes={"colour": ["blue", "green", "red"]},
                         task="multiclass")
    task = resolve_task(store, "colour")
    assert (task.kind == "multiclass" and task.n_outputs == 3 and task.class_names
            == ("blue", "green", "red"))


@pytest.mark.parametrize("kind,outputs", [("binary", 1), ("multiclass", 3), ("multilabel", 3),
                                          ("regression", 1)])
def test_the_loss_never_sees_padding_or_missing_labels(small, kind, outputs):
    rng = np.random.default_rng(0)
    width = 3 if kind == "multilabel" else 1
    labels = rng.integers(0, 3 if kind == "multiclass" else 2, (30, width)).astype(np.float32)
    labels[4, 0] = np.nan
    store = with_targets(small, labels, tuple(f"t{k}" for k in range(width)))
    shape = STRATEGIES.create("pad", batch_graphs=8).prepare(store.n_node, store.n_edge, rng).shape
    batch = collate(store, np.arange(6), shape)  # 6 real graphs, the rest padding
    slots = batch.graph_mask.shape[0]
    assert slots > 6
    pred = torch.randn(slots, outputs, generator=torch.Generator().manual_seed(0)).requires_grad_()
    std = torch.ones(1)
    loss = task_loss(pred, batch.targets, batch.graph_mask, kind, std)
    junk = pred.detach().clone()
    junk[6:] = 1e6  # junk on the padding rows
    junk[4, 0] = -1e6  # and on the missing label
    assert torch.allclose(task_loss(junk, batch.targets, batch.graph_mask, kind, std),
                          loss.detach())
    loss.backward()
    assert pred.grad[6:].abs().sum() == 0 and torch.isfinite(pred.grad).all()
    assert pred.grad[4, 0] == 0


# ---- OGB sets, end to end
# -------------------------------------------------------------------------
def spec(**kw) -> CellSpec:
    base = dict(strategy="dynamic", strategy_params={"batch_graphs": 32}, model="gin",
                model_params={"hidden": 16, "layers": 2}, warmup_steps=1, window_s=0.0, windows=1,
                repeats=1,
                eval_every=5, max_steps=10, lr=3e-3)
    base.update(kw)
    return CellSpec(**base)


def test_molhiv_sample_is_scored_by_ogbs_evaluator(tmp_path):
    """The suite's metric and OGB's evaluator fed the same predictions give the same value."""
    from ogb.graphproppred import Evaluator

    smiles, tpsa = nci(240)
    rng = np.random.default_rng(0)
    write_ogb_layout(tmp_path, "ogbg-molhiv", smiles,
                     (tpsa > np.median(tpsa))[:, None].astype(float),
                     rng.choice(3, size=len(smiles), p=(0.6, 0.2, 0.2)))
    cell = spec(dataset="ogbg-molhiv", dataset_options={"data_dir": str(tmp_path)}, task="binary",
                metric="rocauc",
                target_value=0.99)
    run = CellRun(cell)
    val = BatchLoader(run.store, STRATEGIES.create("dynamic", batch_graphs=64), run.splits["val"],
                      seed=0)
    value, source = evaluate_score(run.model, val, run.task, run.device, cell.backend,
                                   "ogbg-molhiv")
    y, pred = predict(run.model, val, run.device, cell.backend)
    assert source == "ogb evaluator (ogbg-molhiv)" and y.shape == (len(run.splits["val"]), 1)
    assert value == Evaluator("ogbg-molhiv").eval({"y_true": y, "y_pred": pred})["rocauc"]
    assert value == pytest.approx(score("rocauc", y, pred), abs=1e-12)
    run.warmup()
    run.window(0)
    run.train()
    m = run.finish()
    assert m["metric_source"] == "ogb evaluator (ogbg-molhiv)" and 0 <= m["best_val_score"] <= 1
    assert m["best_val_score"] == max(c[2] for c in m["curve"])  # higher is better
    assert 0 < m["class_balance"] < 1 and m["positive_class"] == "1"


@pytest.mark.slow
def test_molpcba_sample_reports_a_finite_average_precision_with_per_label_masks(tmp_path):
    standin_molpcba(tmp_path, n_molecules=300)
    cell = spec(dataset="ogbg-molpcba", dataset_options={"data_dir": str(tmp_path)},
                task="multilabel",
                metric="ap", target_value=0.99)
    run = CellRun(cell)
    assert run.task.n_outputs == 128 and np.isnan(run.store.targets).mean() > 0.5
    run.warmup()
    run.window(0)
    run.train()
    m = run.finish()
    assert m["metric_source"] == "ogb evaluator (ogbg-molpcba)"
    assert all(0 < c[2] <= 1 for c in m["curve"]) and not m["reached_target"]
    assert 0 < m["class_balance"] < 1


# ---- the suite, from the command line
# -----------------------------------------------------------------
TINY = """
[suite]
name = "bbb"
strategies = ["pad", "dynamic", "pack-lpfhp"]
fairness = ["equal-padded-budget"]
repeats = 1
timeout_s = 300

[train]
warmup_steps = 1
window_s = 0.0
windows = 2
eval_every = 10
max_steps = 150
lr = 3e-3
train_time_limit_s = 120

[models.gin]
hidden = 32
layers = 2

[datasets.nci5k]
n_graphs = 48
models = ["gin"]
"""


@pytest.mark.slow
def test_a_blood_brain_barrier_table_runs_with_only_its_target_named(tmp_path, capsys, monkeypatch):
    """Acceptance: a tab-separated table with a text label column and a few unparsable SMILES trains
    to a ROC-AUC target from the command line; the records and the report say rocauc, binary and the
    balance."""
    smiles, tpsa = nci(200)
    rows = ["NO.\tcompound_name\tSMILES\tCID\tlogBB\tBBB+/BBB-\tgroup"]
    for k, (s, t) in enumerate(zip(smiles, tpsa)):
        bad = k in (7, 50, 120)
        cid = "" if k % 6 == 0 else 9000 + k
        log_bb = "" if k % 4 else "-0.3"
        label = "BBB+" if t < 60 else "BBB-"
        rows.append(f"{k + 1}\tname {k}\t{'C1CC(' if bad else s}\t{cid}\t{log_bb}\t{label}\tA")
    table = tmp_path / "B3DB_classification.tsv"
    table.write_text("\n".join(rows) + "\n")
    config = tmp_path / "bbb.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    rc = main(["--config", str(config), "--datasets", f"csv:{table}", "--target", "BBB+/BBB-",
               "--target-value",
               "0.7", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert ("3 input record(s) skipped" in err
            and "binary target 'BBB+/BBB-' to validation ROC-AUC 0.7" in err)
    records = pd.read_csv(out / "records.csv")
    assert (records.status == "ok").all() and len(records) == 3
    assert set(records.task) == {"binary"} and set(records.metric) == {"rocauc"}
    assert (set(records.positive_class) == {"BBB+"}
            and records.class_balance.between(0.3, 0.95).all())
    assert records.reached_target.any()  # a learnable label: TPSA decides it
    report = (out / "report" / "report.md").read_text()
    assert "(binary), scored by validation ROC-AUC (`rocauc`, higher is better)" in report
    assert "positive class `BBB+`:" in report and "Fewest steps to validation ROC-AUC 0.7" in report
    assert "best val ROC-AUC (higher is better)" in report


def test_one_graph_per_step_is_said(tmp_path):
    """A budget that holds a single graph of the largest size: the report says so."""
    from bench_lib.report.answer import one_graph_sentence
    from bench_lib.report.tables import summarise

    rows = pd.DataFrame({"strategy": ["pad", "dynamic"], "status": ["ok", "ok"], "seed": [0, 0],
                         "graphs_per_step_mean": [1.0, 9.5], "node_efficiency": [0.05, 0.97],
                         "repeat_graphs_per_s": ["[1.0]", "[9.0]"], "graphs_per_s": [1.0, 9.0]})
    text = one_graph_sentence(summarise(rows))
    assert (text.startswith("Reduced to one graph per step: `pad` (node efficiency 0.05)")
            and "dynamic" not in text)


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_the_algoperf_suites_say_what_they_run():
    from bench_lib.config import load_config

    full = load_config(ROOT / "benchmarks" / "algoperf-ogbg.toml")
    d = full.datasets[0]
    assert ((d.name, d.node_slots, d.edge_slots, d.graphs_per_step)
            == ("ogbg-molpcba", 512 * 26, 512 * 56, 512))
    assert ((d.metric, d.target_value, full.model_params["gin"]["hidden"],
             full.model_params["gin"]["layers"]) == ("ap", 0.28098, 256, 5))
    reduced = load_config(ROOT / "benchmarks" / "algoperf-ogbg-reduced.toml").datasets[0]
    assert ((reduced.node_slots, reduced.edge_slots) == (64 * 26, 64 * 56)
            and reduced.target_value < 0.28098)
    assert load_config(ROOT / "benchmarks" / "moleculenet.toml").datasets == ()


@pytest.mark.slow
def test_the_reduced_algoperf_suite_reports_steps_to_its_map_target(tmp_path, capsys, monkeypatch):
    """The reduced AlgoPerf suite as shipped, on the offline stand-in (1,000 molecules, three
    strategies)."""
    standin_molpcba(tmp_path / "ogb", n_molecules=1000)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    rc = main(["--config", str(ROOT / "benchmarks" / "algoperf-ogbg-reduced.toml"), "--data-dir",
               str(tmp_path / "ogb"), "--datasets", "ogbg-molpcba", "--target-value", "0.45",
               "--strategies",
               "pad,dynamic,pack-lpfhp", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "a STAND-IN for ogbg-molpcba, not OGB's data" in err
    records = pd.read_csv(out / "records.csv")
    assert (set(records.metric) == {"ap"} and set(records.metric_source)
            == {"ogb evaluator (ogbg-molpcba)"})
    assert records.reached_target.all() and (records.steps_to_target > 0).all()
    report = (out / "report" / "report.md").read_text()
    assert "Fewest steps to validation average precision 0.45" in report
    assert ("every label column (the first `pcba_task_0`) (multilabel), scored by validation "
            "average precision (`ap`, higher is better, computed by the ogb evaluator "
            "(ogbg-molpcba))") in report


def test_l1_regression_loss_is_the_mean_absolute_standardised_error(small):
    store = with_targets(small, np.arange(30, dtype=float) * 1.5)
    batch = collate(store, np.arange(5))
    off = torch.tensor([2.0, -2.0, 2.0, -2.0,
                        2.0] + [99.0] * (batch.graph_mask.shape[0] - 5))[:, None]
    pred = batch.targets[:, :1].nan_to_num() + off  # 2 off on every real graph, junk on padding
    std = torch.tensor([4.0])
    assert (float(task_loss(pred, batch.targets, batch.graph_mask, "regression", std, loss="l1"))
            == 0.5)
    assert float(task_loss(pred, batch.targets, batch.graph_mask, "regression", std)) == 0.25
    cell = CellSpec(dataset="nci5k", strategy="pad", loss="l1")
    assert cell.cell_id != CellSpec(dataset="nci5k", strategy="pad").cell_id
    with pytest.raises(ValueError, match="CellSpec.loss must be 'mse' or 'l1'"):
        CellSpec(dataset="nci5k", strategy="pad", loss="huber")


def test_moleculenet_suite_takes_a_classification_and_a_regression_table(tmp_path, capsys):
    """benchmarks/moleculenet.toml has no dataset of its own: each table comes with its target on
    the command line (a 0/1 column is binary and said so; a numeric one regresses)."""
    smiles, tpsa = nci(60)
    bbbp = tmp_path / "BBBP.csv"
    bbbp.write_text("name,p_np,smiles\n" + "".join(f"m{k},{int(t < 60)},{s}\n" for k, (s, t) in
                                                   enumerate(zip(smiles, tpsa))))
    esol = tmp_path / "ESOL.csv"
    esol.write_text("Compound ID,measured log solubility,smiles\n" + "".join(
        f"c{k},{-t / 40:.3f},{s}\n" for k, (s, t) in enumerate(zip(smiles, tpsa))))
    config = str(ROOT / "benchmarks" / "moleculenet.toml")
    assert main(["--config", config, "--datasets", f"csv:{bbbp}", "--target", "p_np",
                 "--target-value", "0.85",
                 "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "'p_np' holds only two values (0, 1): binary classification" in err
    assert "binary target 'p_np' to validation ROC-AUC 0.85 (higher is better)" in err
    assert main(["--config", config, "--datasets", f"csv:{esol}", "--target",
                 "measured log solubility",
                 "--target-mae", "0.8", "--dry-run"]) == 0
    assert ("regression target 'measured log solubility' to validation MAE 0.8"
            in capsys.readouterr().err)


def test_an_infinite_padding_prediction_leaves_the_gradients_finite(small):
    store = with_targets(small, np.arange(30, dtype=float) % 3)
    batch = collate(store, np.arange(4))
    assert not batch.graph_mask.all()
    for kind, outputs in (("regression", 1), ("multiclass", 3), ("binary", 1)):
        pred = torch.zeros(batch.graph_mask.shape[0], outputs)
        pred[~batch.graph_mask] = math.inf
        pred.requires_grad_()
        task_loss(pred, batch.targets, batch.graph_mask, kind, torch.ones(1)).backward()
        assert torch.isfinite(pred.grad).all(), kind


def test_a_diverged_model_scores_nan_and_is_not_reached():
    scores = iter([math.nan, 0.6, math.nan])
    out = train_to_target(lambda: None, lambda: next(scores), target=0.9, max_steps=20,
                          eval_every=10,
                          time_limit_s=60, higher_is_better=True)
    assert (not out["reached_target"] and out["best_val_score"] == 0.6
            and math.isnan(out["final_val_score"]))


def test_each_seeds_split_is_checked(tmp_path):
    """A class missing from a later seed's validation split (seeds that vary the data, data_seed =
    "seed") is an error naming that seed, not a seed dropped in silence; with one split for every
    seed, none."""
    from bench_lib.config import ConfigError, parse_config
    from bench_lib.data import split_indices
    from bench_lib.suite import expand_cells

    smiles, _ = nci(40)
    val0, val1 = (set(split_indices(40, seed=s)["val"].tolist()) for s in (0, 1))
    positives = sorted(val0 - val1)[:1] + [k for k in range(40) if k not in val0 | val1][:1]
    table = tmp_path / "t.csv"
    table.write_text("smiles,label\n" + "".join(f"{s},{int(k in positives)}\n"
                                                for k, s in enumerate(smiles)))
    cfg = parse_config({"suite": {"strategies": ["dynamic"], "fairness": ["equal-padded-budget"],
                                  "seeds": [0, 1]},
                        "datasets": {f"csv:{table}": {"target": {"column": "label", "value": 0.7},
                                                      "data_seed": "seed", "node_slots": 256}}})
    with pytest.raises(ConfigError, match=r"the val split holds one class only \('label': 0\).* "
                                          r"\(seed 1\)"):
        expand_cells(cfg)
    fixed = dataclasses.replace(cfg, datasets=tuple(dataclasses.replace(d, data_seed=0)
                                                    for d in cfg.datasets))
    # seed 0's split, both classes, for both seeds
    assert {c.seed for c in expand_cells(fixed)} == {0, 1}


def test_loader_only_cells_keep_their_target_fields():
    """A loader-only suite trains nothing: its cells carry the column and target_mae as before
    tasks, so that their ids (and resume) do not change."""
    from bench_lib.config import parse_config
    from bench_lib.suite import expand_cells

    cfg = parse_config({"suite": {"strategies": ["dynamic"], "fairness": ["equal-padded-budget"],
                                  "mode": "loader"},
                        "datasets": {"nci5k": {"n_graphs": 48, "target_mae": 12.0}}})
    (cell,) = expand_cells(cfg)
    assert ((cell.model, cell.target, cell.target_mae, cell.task, cell.metric)
            == ("none", "tpsa_A2", 12.0, "regression", "mae"))
