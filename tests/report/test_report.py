"""Reports regenerate from a results directory alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.config import parse_config
from bench_lib.harness.cell import CellSpec
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.runner import append_record

ROOT = Path(__file__).resolve().parents[2]


def fixture_results(tmp_path: Path) -> Path:
    """A small results directory: hand-written records in the real schema."""
    res = tmp_path / "results" / "fixture"
    res.mkdir(parents=True)
    cfg = parse_config({"suite": {"name": "fixture", "strategies": ["pad", "pack-lpfhp", "dynamic"],
                                  "fairness": ["equal-padded-budget", "equal-real-graphs"]},
                        "datasets": {"nci5k": {"n_graphs": 60, "models": ["gin"], "node_budget": 256,
                                               "target_mae": 20.0}}})
    (res / "config.json").write_text(json.dumps(cfg.to_json()))
    (res / "environment.json").write_text(json.dumps({"cpu": "test cpu", "cpu_count": 2, "packages": {"torch": "x"}}))
    (res / "planning.json").write_text(json.dumps(planning_summary(cfg)))
    for k, (strategy, view, status) in enumerate([("pad", "equal-padded-budget", "ok"),
                                                  ("pack-lpfhp", "equal-padded-budget", "ok"),
                                                  ("dynamic", "equal-padded-budget", "ok"),
                                                  ("pad", "equal-real-graphs", "ok"),
                                                  ("pack-lpfhp", "equal-real-graphs", "failed")]):
        spec = CellSpec(dataset="nci5k", strategy=strategy, model="gin", fairness=view, node_budget=256,
                        target_mae=20.0)
        rec = {"schema_version": 1, "cell_id": spec.cell_id, "status": status, **json.loads(spec.to_json())}
        if status == "ok":
            rec.update(graphs_per_s=1000.0 * (k + 1), graphs_per_s_min=900.0 * (k + 1), graphs_per_s_max=1100.0 * (k + 1),
                       peak_rss_mib=600 + k, train_rss_mib=50 + k, padding_mib_per_step=0.1 * k,
                       node_efficiency=0.3 + 0.1 * k, edge_efficiency=0.3, graphs_per_step_mean=8.0,
                       batch_build_share=0.03, reached_target=k != 2, time_to_target_s=None if k == 2 else 5.0 + k,
                       steps_to_target=None if k == 2 else 100, best_val_mae=15.0 + k, train_steps=200,
                       curve=[[0, 0.0, 50.0], [100, 2.0, 25.0], [200, 4.0, 15.0 + k]])
        else:
            rec["error"] = "timeout: the cell ran past its limit of 1 s and was killed"
        append_record(res / "records.csv", rec)
    return res


def test_report_has_every_table_and_figure(tmp_path):
    res = fixture_results(tmp_path)
    out = tmp_path / "reports" / "fixture"
    proc = subprocess.run([sys.executable, "-m", "bench_lib.report", str(res), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text()
    assert "## Datasets" in text and "| nci5k |" in text
    assert "### `gin`, equal-padded-budget" in text and "### `gin`, equal-real-graphs" in text
    assert "same node slots per step (256)" in text
    assert "**3,000 (2,700-3,300)**" in text  # best graphs/s marked, with its spread
    assert "test cpu" in text
    assert "**failed**: nci5k / `pack-lpfhp`" in text and "timeout" in text
    assert "never reached MAE 20.0: nci5k / `dynamic`" in text
    for stem in ("throughput_memory", "efficiency", "curves", "sizes_fill", "capacity"):
        for ext in ("png", "svg"):
            path = out / f"nci5k_{stem}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, path
            assert f"nci5k_{stem}.png" in text


def test_report_needs_a_results_dir(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench_lib.report", str(tmp_path / "nothing")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "records.csv not found" in proc.stderr
