"""The suite: configs and their errors, dry runs, resume after a kill, shards."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.config import ConfigError, Overrides, load_config, parse_config
from bench_lib.models import MODELS
from bench_lib.schema import CellSpec
from bench_lib.suite import expand_cells, main, parse_shard

ROOT = Path(__file__).resolve().parents[1]

TINY = """
[suite]
name = "tiny"
strategies = ["pad", "dynamic", "pack-lpfhp"]
fairness = ["equal-padded-budget"]
repeats = 1
timeout_s = 120

[train]
warmup_steps = 1
window_s = 0.0
windows = 2
eval_every = 2
max_steps = 4
train_time_limit_s = 0.1  # below every timeout used here (the rerun test's is 0.2 s)

[models.gin]
hidden = 16
layers = 1

[datasets.nci5k]
n_graphs = 48
models = ["gin"]
node_slots = 256
target_mae = 30.0
"""


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_shipped_configs_parse():
    for name in ("default", "reference", "smoke", "paper", "compile", "ddp"):
        cfg = load_config(ROOT / "benchmarks" / f"{name}.toml")
        assert cfg.name == name and cfg.datasets
    ddp = load_config(ROOT / "benchmarks" / "ddp.toml")
    assert ddp.ranks == (1, 2) and ddp.clock == "wall" and ddp.threads == 1
    default = load_config(ROOT / "benchmarks" / "default.toml")
    assert {d.name for d in default.datasets} == {"nci5k", "qm9"}
    # The paper's water clusters at full size, k-NN graphs built per batch; the options pass the
    # source's checks.
    from bench_lib.data import DATASETS

    water = next(d for d in load_config(ROOT / "benchmarks" / "paper.toml").datasets if d.name
                 == "hydronet-like")
    assert water.n_graphs == 4_464_740 and water.options["edges"] == "knn"
    params = DATASETS.get("hydronet-like")().resolve(water.n_graphs, 0, dict(water.options)).params
    assert params["n_graphs"] == 4_464_740 and params["subset"] == "full_4.5M"
    assert set(default.fairness) == {"equal-padded-budget", "equal-real-graphs"}


@pytest.mark.parametrize("doc,match", [
    ({"suite": {"nme": "x"}, "datasets": {"nci5k": {}}},
     r"\[suite\] has no key 'nme'; valid keys: .*name"),
    ({"sweet": {}}, r"unknown section \[sweet\]; valid sections"),
    ({"datasets": {"nci6k": {}}}, r"\[datasets\]: unknown dataset 'nci6k'; known: "
                                  r".*nci5k.*qm9.*csv:PATH"),
    ({"suite": {"strategies": ["pad", "pack-magic"]}, "datasets": {"nci5k": {}}},
     r"\[suite\] strategies: unknown name 'pack-magic'; valid: .*pack-lpfhp"),
    ({"suite": {"repeats": -2}, "datasets": {"nci5k": {}}},
     r"\[suite\] repeats must be > 0 \(got -2\)"),
    ({"suite": {"repeats": "many"}, "datasets": {"nci5k": {}}},
     r"\[suite\] repeats must be a number \(got 'many'\)"),
    ({"datasets": {"nci5k": {"models": ["gcn"]}}},
     r"\[datasets.nci5k\] models: unknown name 'gcn'; valid: gin, painn, schnet"),
    ({"datasets": {"nci5k": {"node_budget": 3}}},
     r"\[datasets.nci5k\] has no key 'node_budget'; valid keys: .*node_slots"),
    ({"datasets": {"nci5k": {"node_slots": 512.5}}},
     r"\[datasets.nci5k\] node_slots must be a whole number \(got 512.5\)"),
    ({"suite": {"interleave": "yes"}, "datasets": {"nci5k": {}}},
     r"\[suite\] interleave must be true or false"),
    ({"suite": {"clock": "cpu"}, "datasets": {"nci5k": {}}},
     r"\[suite\] clock must be 'auto' or 'wall'"),
    ({"suite": {"malloc": "fast"}, "datasets": {"nci5k": {}}},
     r"\[suite\] malloc must be 'keep' or 'default'"),
    ({"suite": {"timeout_s": 100}, "datasets": {"nci5k": {}}},
     r"\[train\] train_time_limit_s \(300\) must be below \[suite\] timeout_s \(100\), which "
     r"covers the whole cell"),
    ({"models": {"gin": {"depth": 3}}, "datasets": {"nci5k": {}}},
     r"\[models.gin\] has no key 'depth'"),
    ({"suite": {"fairness": ["fair"]}, "datasets": {"nci5k": {}}},
     r"\[suite\] fairness: unknown name 'fair'"),
    ({"suite": {"device": "tpu"}, "datasets": {"nci5k": {}}},
     r"\[suite\] device must be 'cpu' or 'cuda'"),
    ({"suite": {}}, r"no \[datasets.<name>\] section"),
    ({"suite": {"ranks": [1, 0]}, "datasets": {"nci5k": {}}},
     r"\[suite\] ranks: each must be a whole number >= 1"),
    ({"slurm": {"partiton": "gpu"}, "datasets": {"nci5k": {}}},
     r"\[slurm\] has no key 'partiton'; valid keys: .*partition"),
    ({"slurm": {"partition": 3}, "datasets": {"nci5k": {}}},
     r"\[slurm\] partition must be a string"),
])
def test_config_errors_name_field_value_and_choices(doc, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(doc)


def test_overrides(tiny_config):
    assert load_config(tiny_config, Overrides(strategies=["pad"], repeats=4)).strategies == ("pad",)
    assert load_config(tiny_config, Overrides(device="cuda")).backend == "torch"
    # a dataset the config does not have joins with default settings; an unknown name is an error
    (qm9,) = load_config(tiny_config, Overrides(datasets=["qm9"])).datasets
    assert qm9.name == "qm9" and qm9.models == () and qm9.node_slots == 512
    with pytest.raises(ConfigError, match="--datasets: unknown dataset 'qm10'.*; the config has "
                                          "nci5k"):
        load_config(tiny_config, Overrides(datasets=["qm10"]))
    with pytest.raises(ConfigError, match="--shard must be I/N"):
        parse_shard("4/4")


def test_a_flag_is_checked_by_the_files_rule_and_said_in_its_words(tiny_config):
    """One check per setting: ``--repeats 0`` fails the rule ``repeats = 0`` fails in the file,
    said as the flag; the file's own problems keep its name, each problem once."""
    with pytest.raises(ConfigError) as flag:
        load_config(tiny_config, Overrides(repeats=0, max_steps=0, models=["gcn"]))
    assert flag.value.problems == ["--repeats must be > 0 (got 0)",
                                   "--max-steps must be > 0 (got 0)",
                                   "--models: unknown name 'gcn'; valid: "
                                   + ", ".join(sorted(MODELS.names()))]
    with pytest.raises(ConfigError) as file:
        parse_config({"suite": {"repeats": 0}, "datasets": {"nci5k": {}}})
    assert file.value.problems == ["[suite] repeats must be > 0 (got 0)"]
    # a flag that sets a value the file had is what the config records
    cfg = parse_config({"suite": {"repeats": 3}, "train": {"max_steps": 9},
                        "datasets": {"nci5k": {"target": {"column": "y", "metric": "mae",
                                                          "value": 0.5}}}},
                       overrides=Overrides(repeats=2, datasets=["nci5k"], target_value=0.25))
    assert cfg.repeats == 2 and cfg.train.max_steps == 9
    (d,) = cfg.datasets
    assert (d.target, d.target_mae, d.target_value) == ("y", 0.25, None)
    # the file's views of a strategy --strategies leaves out are left out with it
    doc = {"suite": {"strategies": ["pad", "pyg"], "fairness": ["equal-padded-budget"],
                     "strategy_fairness": {"pyg": ["equal-padded-budget"]}},
           "datasets": {"nci5k": {}}}
    assert parse_config(doc, overrides=Overrides(strategies=["pad"])).strategy_fairness == {}
    # "all": bench_lib's own strategies, whose views the file gave are kept (pyg: a baseline)
    doc["suite"]["strategy_fairness"] = {"pad": ["equal-padded-budget"],
                                         "pyg": ["equal-padded-budget"]}
    assert parse_config(doc, overrides=Overrides(strategies=["all"])).strategy_fairness == {
        "pad": ["equal-padded-budget"]}
    # a problem of the file's own keys keeps the file's words, beside a flag of a like name
    with pytest.raises(ConfigError) as both:
        parse_config({"datasets": {"nci5k": {"target": {"column": "y", "metric": "auc"}}}},
                     overrides=Overrides(datasets=["nci5k"], target=["y"]))
    assert both.value.problems[0].startswith("[datasets.nci5k] target metric: unknown metric")
    # an empty list is said once
    with pytest.raises(ConfigError) as empty:
        parse_config({"datasets": {"nci5k": {}}}, overrides=Overrides(models=[]))
    assert empty.value.problems == ["--models is empty; name at least one, or leave it out for "
                                    "the config's"]


def test_ranks_sweep_crosses_eager_cells_only_and_keeps_one_rank_ids(tiny_config, capsys):
    cfg = load_config(tiny_config)
    plain = {c.cell_id for c in expand_cells(dataclasses.replace(cfg, clock="wall"))}
    swept = expand_cells(load_config(tiny_config, Overrides(ranks=[1, 2, 2],
                                                            execution=["eager", "compile"])))
    assert {c.clock for c in swept} == {"wall"}  # 1 and 2 ranks on one clock
    arms = sorted((c.strategy, c.execution, c.ranks) for c in swept)
    assert arms == sorted((s, x, r) for s in ("pad", "dynamic", "pack-lpfhp")
                          for x, r in (("eager", 1), ("eager", 2), ("compile", 1)))
    # one-rank cells keep the ids they had before ranks existed
    assert plain <= {c.cell_id for c in swept}
    assert len({c.group_key() for c in swept}) == 1  # 1 and 2 ranks timed in the same turns
    assert main(["--config", str(tiny_config), "--dry-run", "--ranks", "1,2"]) == 0
    assert sum("/2ranks/" in line for line in capsys.readouterr().out.splitlines()) == 3
    assert main(["--config", str(tiny_config), "--dry-run", "--ranks", "two"]) == 2
    assert "--ranks takes whole numbers" in capsys.readouterr().err


def processes_with(marker: str) -> list[int]:
    """Pids of this user's processes whose environment holds ``marker``."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "environ").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


@pytest.mark.slow
def test_killed_suite_resumes_without_duplicate_or_missing_rows(tiny_config, tmp_path):
    out = tmp_path / "res"
    records = out / "records.csv"
    marker = f"BENCH_LIB_TEST_MARK={uuid.uuid4().hex}"
    temp_before = set(Path(tempfile.gettempdir()).glob("bench_lib_*"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker.split("=")[0]: marker.split("=")[1]}
    proc = subprocess.Popen([sys.executable, "-m", "bench_lib.suite", "--config", str(tiny_config),
                             "--out", str(out),
                             "--no-report"], start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 2:  # header + first record
            break
        time.sleep(0.2)
    assert len(processes_with(marker)) > 1  # the suite and its workers, mid-cell
    os.kill(proc.pid, signal.SIGKILL)  # as `kill -9 PID` does: the suite alone, not its workers
    proc.wait()
    # Workers run in sessions of their own; they notice their parent is gone and exit.
    deadline = time.time() + 15
    while processes_with(marker) and time.time() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []
    # no temp folder left either
    assert set(Path(tempfile.gettempdir()).glob("bench_lib_*")) == temp_before
    before = pd.read_csv(records)
    assert 1 <= len(before) < 3
    assert main(["--config", str(tiny_config), "--out", str(out), "--no-report"]) == 0
    after = pd.read_csv(records)
    assert len(after) == 3 and after.cell_id.is_unique and (after.status == "ok").all()
    # done cells were not re-run
    assert after.cell_id.iloc[:len(before)].tolist() == before.cell_id.tolist()
    # A third run has nothing left to do.
    assert main(["--config", str(tiny_config), "--out", str(out), "--no-report"]) == 0
    assert len(pd.read_csv(records)) == 3


@pytest.mark.slow
def test_rerun_failed_replaces_the_failed_row(tiny_config, tmp_path):
    out = tmp_path / "res"
    one = tiny_config.read_text().replace('["pad", "dynamic", "pack-lpfhp"]', '["pad"]')
    slow, fine = tmp_path / "slow.toml", tmp_path / "fine.toml"
    slow.write_text(one.replace("timeout_s = 120", "timeout_s = 0.2"))
    fine.write_text(one)  # the same cell (a time limit is not part of it), with room to finish
    assert main(["--config", str(slow), "--out", str(out), "--no-report"]) == 1
    first = pd.read_csv(out / "records.csv")
    assert first.status.tolist() == ["failed"] and "timeout" in first.error.iloc[0]
    # Without --rerun-failed a failed cell is left alone.
    assert main(["--config", str(fine), "--out", str(out), "--no-report"]) == 1
    assert pd.read_csv(out / "records.csv").status.tolist() == ["failed"]
    # With it, the cell runs again and its row is replaced, not duplicated.
    assert main(["--config", str(fine), "--out", str(out), "--no-report", "--rerun-failed"]) == 0
    again = pd.read_csv(out / "records.csv")
    assert again.status.tolist() == ["ok"] and again.cell_id.tolist() == first.cell_id.tolist()


def test_a_cell_shared_by_two_views_runs_once(tmp_path):
    """Fixed parameters make both views' cells identical: one cell serves both."""
    doc = {"suite": {"strategies": ["pad", "pack-lpfhp"],
                     "fairness": ["equal-padded-budget", "equal-real-graphs"]},
           "strategies": {"pack-lpfhp": {"max_nodes": 128, "packs_per_batch": 4}},
           "datasets": {"nci5k": {"n_graphs": 60, "models": ["gin"], "node_slots": 512,
                                  "pack_nodes": 128}}}
    cells = expand_cells(parse_config(doc))
    lp = [c for c in cells if c.strategy == "pack-lpfhp"]
    assert len(lp) == 1 and lp[0].views == ("manual",)
    pads = [c for c in cells if c.strategy == "pad"]
    assert [c.views for c in pads] == [("equal-padded-budget",), ("equal-real-graphs",)]
    assert pads[0].node_slots_budget == 512 and pads[1].graphs_per_step_budget == 32
    assert len({c.cell_id for c in cells}) == len(cells) == 3


def test_merged_cell_carries_both_budgets():
    from bench_lib.cells import _merge

    a = CellSpec(dataset="x", strategy="s", views=("equal-padded-budget",), node_slots_budget=8,
                 edge_slots_budget=9)
    b = CellSpec(dataset="x", strategy="s", views=("equal-real-graphs",), graphs_per_step_budget=4)
    m = _merge(a, b)
    assert m.views == ("equal-padded-budget", "equal-real-graphs")
    assert (m.node_slots_budget, m.edge_slots_budget, m.graphs_per_step_budget) == (8, 9, 4)


def test_a_budget_a_graph_cannot_fit_fails_before_any_cell(tmp_path, capsys):
    cfg = tmp_path / "small.toml"
    # nci5k's largest molecule is bigger
    cfg.write_text(TINY.replace("node_slots = 256", "node_slots = 12"))
    assert main(["--config", str(cfg), "--out", str(tmp_path / "res")]) == 2
    assert (f"error: {cfg}: [datasets.nci5k] (seed 0): node_slots=12 is smaller than the largest "
            f"graph") in \
        capsys.readouterr().err
    assert not (tmp_path / "res").exists()
    cfg.write_text(TINY.replace("node_slots = 256", "node_slots = 256\npack_nodes = 100"))
    assert main(["--config", str(cfg), "--dry-run"]) == 2
    assert "node_slots=256 is not a multiple of pack_nodes=100" in capsys.readouterr().err
    # Parameters fixed by hand are checked against the graphs too.
    cfg.write_text(TINY + '\n[strategies.pack-lpfhp]\nmax_nodes = 10\n')
    assert main(["--config", str(cfg), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert (err.startswith(f"error: {cfg}: [datasets.nci5k] pack-lpfhp")
            and "more than the pack-lpfhp pack capacity of 10" in err)


def test_data_dir_override_reaches_downloaded_sets(tmp_path):
    out = parse_config({"datasets": {"nci5k": {}, "ogbg-molhiv": {"node_slots": 1024}}},
                       overrides=Overrides(data_dir=str(tmp_path)))
    assert out.datasets[0].options == {} and out.datasets[1].options == {"data_dir": str(tmp_path)}


def test_local_file_dataset_in_a_suite(tmp_path, capsys):
    mols = tmp_path / "mols.csv"
    mols.write_text("smiles,y\n" + "CCO,1.0\nCCN,2.0\nCCC,3.0\nc1ccccc1,4.0\nCC(=O)O,5.0\n" * 8)
    cfg = tmp_path / "local.toml"
    # no `models`: chosen by what the data has (GIN for molecules from SMILES)
    cfg.write_text(f'[suite]\nstrategies = ["pad", "pack-ffd"]\n\n[datasets."csv:{mols}"]\n'
                   'node_slots = 64\npack_nodes = 8\n')
    assert main(["--config", str(cfg), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(f"csv:{mols}/" in line and "/gin/" in line for line in lines)


@pytest.mark.slow
def test_a_local_csv_given_only_on_the_command_line_runs_and_reports(tiny_config, tmp_path, capsys,
        monkeypatch):
    """Acceptance (issue 10): ``--datasets csv:PATH --target COL``, a nested absolute path, no TOML
    for the file."""
    where = tmp_path / "my data" / "2026" / "solubility"
    where.mkdir(parents=True)
    csv_path = where / "ESOL.tsv.gz"
    import gzip

    mols = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCBr", "OCC(O)CO", "CCCCCC",
            "c1ccncc1"]
    with gzip.open(csv_path, "wt") as f:
        f.write("Compound ID\tmeasured log solubility\tpredicted\tsmiles\n")
        # fills 512 slots
        f.writelines(f"m{k}\t{k % 7 - 3.5}\t0\t{s}\n" for k, s in enumerate(mols * 16))
    out = tmp_path / "runs" / "esol"
    monkeypatch.chdir(tmp_path)
    rc = main(["--config", str(tiny_config), "--datasets", f"csv:{csv_path}", "--target",
               "measured log solubility",
               "--target-mae", "50", "--strategies", "pad,pack-ffd", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "160 graphs" in err and ("time to accuracy: regression target 'measured log solubility' "
                                    "to validation MAE 50 ") in err
    records = pd.read_csv(out / "records.csv")
    assert (records.status == "ok").all() and len(records) == 2
    # chosen by the data
    assert set(records.target) == {"measured log solubility"} and set(records.model) == {"gin"}
    report = (out / "report" / "report.md").read_text()
    assert "## csv:ESOL.tsv.gz" in report and "target `measured log solubility`" in report
    assert str(tmp_path) not in report  # no machine-specific absolute path
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert links and all(re.fullmatch(r"[A-Za-z0-9._-]+\.png", link) for link in links)
    assert all((out / "report" / link).exists() for link in links)


@pytest.mark.slow
def test_a_skip_caused_by_the_machine_is_retried_and_a_skip_for_good_is_not(tiny_config, tmp_path):
    out = tmp_path / "res"
    one = tmp_path / "one.toml"
    one.write_text(tiny_config.read_text().replace('["pad", "dynamic", "pack-lpfhp"]',
                                                   '["pad", "dynamic"]'))
    assert main(["--config", str(one), "--out", str(out), "--no-report"]) == 0
    records = pd.read_csv(out / "records.csv")
    records["status"] = "skipped"
    records["error"] = records["error"].astype(object)
    records.loc[0, "error"] = "EnvironmentSkip: device 'cuda' requested but torch sees no GPU"
    records.loc[1, "error"] = "NotImplementedError: schnet needs 3D positions"
    records.to_csv(out / "records.csv", index=False)
    env_cell, for_good = records.cell_id.tolist()
    assert main(["--config", str(one), "--out", str(out), "--no-report"]) == 0
    again = pd.read_csv(out / "records.csv")
    assert len(again) == 2 and again.cell_id.is_unique
    assert again.set_index("cell_id").status.to_dict() == {env_cell: "ok", for_good: "skipped"}


@pytest.mark.slow
def test_list_shows_the_local_file_forms(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "csv:PATH, sdf:PATH, xyz:PATH" in out and "nci5k" in out and "pack-lpfhp" in out


@pytest.mark.slow
def test_a_file_without_a_target_runs_throughput_and_memory_and_says_why_not_accuracy(
        tiny_config, tmp_path, capsys):
    smi = tmp_path / "library.csv"
    smi.write_text("smiles\n" + "\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O",
                                           "CCCl"] * 40) + "\n")
    out = tmp_path / "res"
    rc = main(["--config", str(tiny_config), "--datasets", f"csv:{smi}", "--strategies", "pad",
               "--target-mae", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert ("no numeric or class-label column: no target" in err
            and "time to accuracy skipped: the dataset has no target" in err)
    (record,) = pd.read_csv(out / "records.csv").to_dict("records")
    assert (record["status"] == "ok" and record["graphs_per_s"] > 0
            and record["throughput_peak_rss_mib"] > 0)
    assert (pd.isna(record["target"]) and pd.isna(record["target_mae"])
            and pd.isna(record["train_steps"]))
    assert "no target: throughput and memory only" in (out / "report" / "report.md").read_text()


def test_an_edited_local_file_makes_new_cells_not_a_resume(tiny_config, tmp_path, capsys):
    data = tmp_path / "m.csv"
    rows = (f"{s},{k}.5" for k, s in enumerate(["CCO", "CCN", "CCC", "CCCl"] * 70))
    data.write_text("smiles,y\n" + "\n".join(rows))
    args = ["--config", str(tiny_config), "--datasets", f"csv:{data}", "--strategies", "pad",
            "--dry-run"]
    assert main(args) == 0
    before = capsys.readouterr().out.split()[0]
    # unchanged file: same cell
    assert main(args) == 0 and capsys.readouterr().out.split()[0] == before
    data.write_text(data.read_text().replace(".5", "0.5"))  # targets x10
    os.utime(data, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert main(args) == 0
    assert capsys.readouterr().out.split()[0] != before


def test_cells_share_the_pool_side_by_side():
    import threading

    from bench_lib.harness.runner import _pool

    # each job waits for the other: only side by side do both pass
    barrier = threading.Barrier(2, timeout=10)
    done = []
    _pool([1, 2], lambda k: (barrier.wait(), done.append(k)), parallel=2)
    assert sorted(done) == [1, 2]
    with pytest.raises(threading.BrokenBarrierError):
        _pool([1, 2], lambda k: threading.Barrier(2, timeout=0.5).wait(), parallel=1)


@pytest.mark.slow
def test_seeds_beyond_the_timed_ones_train_side_by_side_and_get_the_timed_step_time(tiny_config,
        tmp_path, capsys):
    out = tmp_path / "res"
    cfg = tiny_config.read_text().replace("repeats = 1",
                                          "repeats = 1\nseeds = [0, 1, 2]\ntimed_seeds = 1\n"
                                          "train_parallel = 2").replace("train_time_limit_s = 0.1",
                                                                       "train_time_limit_s = 30")
    path = tmp_path / "seeds.toml"
    # target_mae = 1000.0: reached at the first validation
    path.write_text(cfg.replace('["pad", "dynamic", "pack-lpfhp"]', '["pad", "dynamic"]')
                    .replace("target_mae = 30.0", "target_mae = 1000.0"))
    assert main(["--config", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # the train-only seeds' cells, one slot each
    assert err.count("training: ") == 6 and err.count("setup: ") == 4
    df = pd.read_csv(out / "records.csv")
    assert len(df) == 6 and (df.status == "ok").all()
    timed, untimed = df[df.seed == 0], df[df.seed > 0]
    assert (timed.repeats == 1).all() and (timed.windows_timed
                                           == 2).all() and timed.graphs_per_s.notna().all()
    assert (untimed.repeats == 0).all() and (untimed.windows_timed
                                             == 0).all() and untimed.graphs_per_s.isna().all()
    # the report fills it in
    assert untimed.train_steps.notna().all() and untimed.time_to_target_s.isna().all()
    from bench_lib.report.tables import fill_untimed

    filled = fill_untimed(df)
    assert filled.steps_to_target.notna().all()
    for _, r in filled[filled.seed > 0].iterrows():
        step = timed[timed.strategy == r.strategy].step_s.iloc[0]
        assert r.time_to_target_s == pytest.approx(r.steps_to_target * step)
    text = (out / "report" / "report.md").read_text()
    assert "(the median of 3 seeds)" in text  # steps to target over all three seeds, timed or not


def test_seeds_vary_the_training_not_the_data_unless_asked(tiny_config):
    cfg = load_config(tiny_config)
    cfg = dataclasses.replace(cfg, seeds=(0, 1))
    cells = expand_cells(cfg)
    assert {(c.seed, c.data_seed, c.dataset_seed) for c in cells} == {(0, 0, 0), (1, 0, 0)}
    own = dataclasses.replace(cfg, datasets=tuple(dataclasses.replace(d, data_seed="seed")
                                                  for d in cfg.datasets))
    assert ({(c.seed, c.data_seed, c.dataset_seed) for c in expand_cells(own)}
            == {(0, None, 0), (1, None, 1)})
    with pytest.raises(ConfigError, match='data_seed must be a whole number >= 0 .* or "seed"'):
        parse_config({"datasets": {"nci5k": {"data_seed": "each"}}})


def test_the_default_suite_is_the_reference_with_fewer_seeds():
    """Issue 41: ``make bench`` runs the reference suite's arms, views, models, datasets and timing
    with two seeds, the first timed; ``make reference`` the same with five, two timed."""
    default = load_config(ROOT / "benchmarks" / "default.toml")
    reference = load_config(ROOT / "benchmarks" / "reference.toml")
    assert (default.seeds, default.timed_seeds) == ((0, 1), 1)
    assert (reference.seeds, reference.timed_seeds) == ((0, 1, 2, 3, 4), 2)
    assert dataclasses.replace(default, name="reference", seeds=reference.seeds,
                               timed_seeds=reference.timed_seeds) == reference
    # the timed seed's cells are the reference's own; the second trains the same cells untimed
    cells, full = expand_cells(default), expand_cells(reference)
    assert [c.cell_id for c in cells if c.seed == 0] == [c.cell_id for c in full if c.seed == 0]
    def arms(cs, seed):
        return [(c.dataset, c.strategy, c.model, c.views) for c in cs if c.seed == seed]
    assert arms(cells, 1) == arms(full, 1) == arms(full, 0)
    assert {c.repeats for c in cells if c.seed == 1} == {0}


def test_windows_are_raised_to_the_timed_duration_that_held_under_load(tiny_config):
    from bench_lib.cells import timed_windows

    # 2 repeats x 40 windows x 0.05 s: 4 s, nothing to raise
    smoke = load_config(ROOT / "benchmarks/smoke.toml")
    assert timed_windows(smoke) == 40
    # 0.4 s a cell
    smoke = dataclasses.replace(smoke, train=dataclasses.replace(smoke.train, windows=4))
    notes = []
    assert timed_windows(smoke, notes) == 40 and "windows raised from 4 to 40" in notes[0]
    assert {c.windows for c in expand_cells(smoke)} == {40}
    default = load_config(ROOT / "benchmarks/default.toml")  # 5 x 16 x 0.05 s: 4 s already
    assert timed_windows(default) == default.train.windows
    kept = dataclasses.replace(smoke, min_timed_s=0.0)
    assert timed_windows(kept) == 4
    # window_s 0: one step a window, nothing to raise
    assert timed_windows(load_config(tiny_config)) == 2


def test_the_suite_loads_each_dataset_once(tiny_config, tmp_path, monkeypatch):
    """One planning pass: the cells, the batching check and planning.json come from graphs loaded
    once per dataset (the workers load their own)."""
    import bench_lib.data as data

    loads = []
    real = data.cached_build

    def counted(cache_name, *args, **kwargs):
        loads.append(cache_name)
        return real(cache_name, *args, **kwargs)

    monkeypatch.setattr(data, "cached_build", counted)
    from bench_lib.cells import plan_suite
    from bench_lib.suite import _check_batching
    from bench_lib.suite.run import pending

    two = dataclasses.replace(load_config(tiny_config), seeds=(0, 1))
    plan = plan_suite(two)
    assert len(loads) == 1  # two seeds of one dataset with a fixed data_seed
    _check_batching(argparse.Namespace(no_batching_check=False), [plan.cells], plan, [])
    (tmp_path / "res").mkdir()
    pending(two, [plan.cells], tmp_path / "res", False, plan)  # writes planning.json
    assert len(loads) == 1 and (tmp_path / "res" / "planning.json").exists()


def test_planning_json_shows_the_budgets_the_cells_ran_with(tmp_path):
    """The largest graph outside the training split raises the pack size the cells run with
    (``largest=``): planning.json shows the same pack size, not one planned again without it."""
    from bench_lib.cells import plan_suite
    from bench_lib.data import load_dataset, store_splits
    from bench_lib.harness.planning import planning_summary

    store = load_dataset("nci5k", n_graphs=100, seed=0)
    train = store_splits(store, seed=0)["train"]
    # the largest graph is not in training
    assert (store.n_node.max(), store.n_node[train].max()) == (51, 43)
    cfg = parse_config({"suite": {"strategies": ["pack-lpfhp", "pad"],
                                  "fairness": ["equal-padded-budget"]},
                        "datasets": {"nci5k": {"n_graphs": 100, "models": ["gin"],
                                               "node_slots": 96}}})
    plan = plan_suite(cfg)
    (lp,) = [c for c in plan.cells if c.strategy == "pack-lpfhp"]
    # packs of 48, planned on the training split, could not hold it
    assert lp.strategy_params["max_nodes"] == 96
    planned = plan.datasets["nci5k"].params["equal-padded-budget"]["pack-lpfhp"]
    assert planned == lp.strategy_params
    summary = planning_summary(plan.datasets)["nci5k"]
    assert set(summary["fill"]["equal-padded-budget"]) == {"pack-lpfhp", "pad"}
