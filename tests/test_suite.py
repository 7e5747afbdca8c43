"""The suite: configs and their errors, dry runs, resume after a kill, shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.config import ConfigError, apply_overrides, load_config, parse_config
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
timed_steps = 2
eval_every = 2
max_steps = 4

[models.gin]
hidden = 16
layers = 1

[datasets.nci5k]
n_graphs = 48
models = ["gin"]
node_budget = 256
target_mae = 1e9
"""


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_shipped_configs_parse():
    for name in ("default", "smoke", "paper"):
        cfg = load_config(ROOT / "benchmarks" / f"{name}.toml")
        assert cfg.name == name and cfg.datasets
    default = load_config(ROOT / "benchmarks" / "default.toml")
    assert {d.name for d in default.datasets} == {"nci5k", "qm9"}
    assert set(default.fairness) == {"equal-padded-budget", "equal-real-graphs"}


@pytest.mark.parametrize("doc,match", [
    ({"suite": {"nme": "x"}, "datasets": {"nci5k": {}}}, r"\[suite\] has no key 'nme'; valid keys: .*name"),
    ({"sweet": {}}, r"unknown section \[sweet\]; valid sections"),
    ({"datasets": {"nci6k": {}}}, r"\[datasets\]: unknown dataset 'nci6k'; known: .*nci5k.*qm9.*csv:PATH"),
    ({"suite": {"strategies": ["pad", "pack-magic"]}, "datasets": {"nci5k": {}}},
     r"\[suite\] strategies: unknown name 'pack-magic'; valid: .*pack-lpfhp"),
    ({"suite": {"repeats": -2}, "datasets": {"nci5k": {}}}, r"\[suite\] repeats must be > 0 \(got -2\)"),
    ({"suite": {"repeats": "many"}, "datasets": {"nci5k": {}}}, r"\[suite\] repeats must be a number \(got 'many'\)"),
    ({"datasets": {"nci5k": {"models": ["gcn"]}}}, r"\[datasets.nci5k\] models: unknown name 'gcn'; valid: gin, schnet"),
    ({"datasets": {"nci5k": {"node_budgets": 3}}}, r"\[datasets.nci5k\] has no key 'node_budgets'"),
    ({"models": {"gin": {"depth": 3}}, "datasets": {"nci5k": {}}}, r"\[models.gin\] has no key 'depth'"),
    ({"suite": {"fairness": ["fair"]}, "datasets": {"nci5k": {}}}, r"\[suite\] fairness: unknown name 'fair'"),
    ({"suite": {"device": "tpu"}, "datasets": {"nci5k": {}}}, r"\[suite\] device must be 'cpu' or 'cuda'"),
    ({"suite": {}}, r"no \[datasets.<name>\] section"),
])
def test_config_errors_name_field_value_and_choices(doc, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(doc)


def test_overrides(tiny_config):
    cfg = load_config(tiny_config)
    assert apply_overrides(cfg, strategies=["pad"], repeats=4).strategies == ("pad",)
    assert apply_overrides(cfg, device="cuda").backend == "torch"
    with pytest.raises(ConfigError, match="--datasets: unknown name 'qm9'; valid: nci5k"):
        apply_overrides(cfg, datasets=["qm9"])
    with pytest.raises(ConfigError, match="--repeats must be >= 1"):
        apply_overrides(cfg, repeats=0)
    with pytest.raises(ConfigError, match="--shard must be I/N"):
        parse_shard("4/4")
    assert parse_shard("1/3") == (1, 3)


def test_bad_config_fails_before_any_cell(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace('"pad"', '"padd"'))
    assert main(["--config", str(bad), "--out", str(tmp_path / "res")]) == 2
    assert "unknown name 'padd'" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()


def test_dry_run_lists_cells(tiny_config, capsys):
    assert main(["--config", str(tiny_config), "--dry-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3
    assert [line.split()[1].split("/")[1] for line in out] == ["pad", "dynamic", "pack-lpfhp"]
    cells = expand_cells(load_config(tiny_config))
    assert [c.cell_id for c in cells] == [line.split()[0] for line in out]
    assert all(c.fairness == "equal-padded-budget" and c.node_budget == 256 for c in cells)
    assert main(["--config", str(tiny_config), "--dry-run", "--shard", "1/2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_killed_suite_resumes_without_duplicate_or_missing_rows(tiny_config, tmp_path):
    out = tmp_path / "res"
    records = out / "records.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bench_lib.suite", "--config", str(tiny_config), "--out", str(out),
                             "--no-report"], start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 2:  # header + first record
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = pd.read_csv(records)
    assert 1 <= len(before) < 3
    assert main(["--config", str(tiny_config), "--out", str(out), "--no-report"]) == 0
    after = pd.read_csv(records)
    assert len(after) == 3 and after.cell_id.is_unique and (after.status == "ok").all()
    assert after.cell_id.iloc[:len(before)].tolist() == before.cell_id.tolist()  # done cells were not re-run
    # A third run has nothing left to do.
    assert main(["--config", str(tiny_config), "--out", str(out), "--no-report"]) == 0
    assert len(pd.read_csv(records)) == 3


def test_rerun_failed_replaces_the_failed_row(tiny_config, tmp_path):
    out = tmp_path / "res"
    slow = tiny_config.read_text().replace("timeout_s = 120", "timeout_s = 0.2").replace(
        '["pad", "dynamic", "pack-lpfhp"]', '["pad"]')
    cfg = tmp_path / "slow.toml"
    cfg.write_text(slow)
    assert main(["--config", str(cfg), "--out", str(out), "--no-report"]) == 1
    assert pd.read_csv(out / "records.csv").status.tolist() == ["failed"]
    # Without --rerun-failed a failed cell is left alone.
    assert main(["--config", str(cfg), "--out", str(out), "--no-report"]) == 1
    assert len(pd.read_csv(out / "records.csv")) == 1


def test_data_dir_override_reaches_downloaded_sets(tmp_path):
    cfg = parse_config({"datasets": {"nci5k": {}, "ogbg-molhiv": {"node_budget": 1024}}})
    out = apply_overrides(cfg, data_dir=str(tmp_path))
    assert out.datasets[0].options == {} and out.datasets[1].options == {"data_dir": str(tmp_path)}


def test_local_file_dataset_in_a_suite(tmp_path, capsys):
    mols = tmp_path / "mols.csv"
    mols.write_text("smiles,y\n" + "CCO,1.0\nCCN,2.0\nCCC,3.0\nc1ccccc1,4.0\nCC(=O)O,5.0\n" * 4)
    cfg = tmp_path / "local.toml"
    cfg.write_text(f'[suite]\nstrategies = ["pad", "pack-ffd"]\n\n[datasets."csv:{mols}"]\nmodels = ["gin"]\n'
                   'node_budget = 64\npack_nodes = 8\n')
    assert main(["--config", str(cfg), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(f"csv:{mols}/" in line for line in lines)
