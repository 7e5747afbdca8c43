"""The committed data-parallel run (``results/ddp-reference``, from ``benchmarks/ddp.toml``)
holds what issue 12 accepts it on, and its report states each strategy's straggler share and
scaling efficiency at 2 ranks from the records."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.report import write_report
from bench_lib.strategies import STRATEGIES
from tests.report import committed

RESULTS = Path(__file__).resolve().parents[2] / "results" / "ddp-reference"


@pytest.fixture(scope="module")
def records():
    return pd.read_csv(committed(RESULTS / "records.csv",
                                 "the data-parallel reference run")).drop_duplicates(
        "cell_id", keep="last")


def test_every_strategy_ran_at_one_and_two_ranks_on_both_datasets(records):
    assert set(records.dataset) == {"nci5k", "qm9"}
    for dataset, g in records.groupby("dataset"):
        for ranks in (1, 2):
            ran = set(g.loc[(g.ranks == ranks) & (g.status == "ok"), "strategy"])
            assert ran == set(STRATEGIES.names(baselines=False)), (dataset, ranks, ran)
    two = records[records.ranks == 2]
    assert (two.step_clock == "wall").all() and (records[records.ranks == 1].step_clock
                                                 == "wall").all()
    for _, r in two.iterrows():
        assert (len(json.loads(r.rank_wait_s)) == 2
                and 0 <= r.straggler_share_mean <= r.straggler_share_p90 + 1e-9)
        # a global step carries both ranks' batches
        assert r.graphs_per_global_step > r.graphs_per_step_mean


@pytest.mark.slow
def test_the_report_states_straggler_share_and_efficiency_per_strategy_from_records(records,
        tmp_path):
    text = write_report(RESULTS, tmp_path).read_text()
    section = text[text.index("## Data-parallel steps"):]
    assert "not interconnect speed" in section
    nci = section[section.index("### nci5k, `gin`, equal-padded-budget"):]
    sentence = next(line for line in nci.splitlines() if line.startswith("At 2 ranks"))
    g = records[(records.dataset == "nci5k") & (records.status == "ok")]
    for strategy in STRATEGIES.names(baselines=False):
        one = g[(g.strategy == strategy) & (g.ranks == 1)].iloc[0]
        two = g[(g.strategy == strategy) & (g.ranks == 2)].iloc[0]
        eff = statistics.median(json.loads(two.repeat_graphs_per_s)) / (
            2 * statistics.median(json.loads(one.repeat_graphs_per_s)))
        assert (f"`{strategy}` straggler share {two.straggler_share_mean:.3f}, efficiency {eff:.2f}"
                in sentence), strategy
    assert list(tmp_path.glob("*_ranks.png"))


def test_the_clusters_page_quotes_the_reference_efficiency_ranges(records):
    readme = (RESULTS.parents[1] / "docs" / "clusters.md").read_text()
    ok = records[records.status == "ok"]
    for dataset in ("nci5k", "qm9"):
        g = ok[ok.dataset == dataset]
        effs = []
        for strategy in STRATEGIES.names(baselines=False):
            def rate(n):
                return statistics.median(json.loads(
                g[(g.strategy == strategy) & (g.ranks == n)].iloc[0].repeat_graphs_per_s))
            effs.append(rate(2) / (2 * rate(1)))
        assert f"{min(effs):.2f}-{max(effs):.2f} on {dataset}" in " ".join(readme.split())
