"""The default reference run's counted costs (issue 25): every timed cell counted, the padding's
share where the plan puts padding, the libraries' loaders counted as the batches they give, and the
report's sections: counted costs with the padding figure first, projections apart and labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.costs.count import KINDS
from bench_lib.report import write_report

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "default-reference"


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    r = pd.read_csv(RESULTS / "records.csv")
    return r[(r.status == "ok") & (r.repeats > 0)]


def test_every_timed_cell_was_counted(records):
    assert len(records) >= 80
    assert (records.counted_steps == 2).all()
    for value in records.costs_by_kind:
        assert set(json.loads(value)) == set(KINDS)
    assert (records.ops_optimizer_foreach < records.ops_optimizer / 5).all()


def test_padding_shares_follow_the_plans(records):
    for (dataset, model, views), g in records.groupby(["dataset", "model", "views"]):
        by = g.groupby("strategy").padding_flops_share.median()
        if "pad" in by and "pack-lpfhp" in by:
            assert by["pad"] > by["pack-lpfhp"], (dataset, model, views)
        for unpadded in ("dynamic", "pyg", "pyg-dynamic", "dgl-loader"):
            if unpadded in by:
                assert by[unpadded] == 0.0, (dataset, model, views, unpadded)


def test_the_libraries_loaders_count_as_the_batches_they_give(records):
    """pyg and dgl-loader plan as dynamic: the same batches, so the same counts, seed by seed."""
    cols = ["flops_per_step", "bytes_per_step", "ops_per_step", "peak_tensor_mib"]
    real = records[records.views.str.contains("equal-real-graphs")]
    for (model, seed), g in real.groupby(["model", "seed"]):
        by = g.set_index("strategy")
        for arm in ("pyg", "dgl-loader"):
            if arm in by.index and "dynamic" in by.index:
                assert by.loc[arm, cols].tolist() == by.loc["dynamic",
                                                            cols].tolist(), (model, seed, arm)


@pytest.mark.slow
def test_the_report_shows_counted_costs_then_projections_apart(tmp_path):
    text = write_report(RESULTS, tmp_path).read_text()
    counted = text.split("## Counted costs (no clock)\n", 1)[1].split("\n## ", 1)[0]
    for dataset in ("nci5k", "qm9"):
        part = counted.split(f"### {dataset}\n", 1)[1]
        first = next(line for line in part.splitlines() if line.strip())
        assert first.startswith("![") and f"{dataset}_padding_costs.png" in first
    projected = text.split("## Projected on accelerators (projected, not measured)\n",
                           1)[1].split("\n## ", 1)[0]
    headers = [line for line in projected.splitlines() if line.startswith("| strategy |")]
    assert headers and all(all("projected" in cell for cell in h.split("|")[2:-1]) for h in headers)
    assert "graphs/s [95% CI]" not in projected  # no measured column in it
    assert text.index("## Counted costs") < text.index("## Projected on accelerators")
