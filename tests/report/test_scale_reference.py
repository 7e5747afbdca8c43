"""The committed full-size run (``results/scale``, from ``benchmarks/scale.py``) holds what
issue 13 accepts it on, its Markdown is what ``report`` makes of its JSON, and the numbers of
docs/scale.md are the JSON's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.report import benchmark_script, committed

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "scale"


@pytest.fixture(scope="module")
def res():
    return json.loads(committed(RESULTS / "results.json", "the full-size run").read_text())


def test_the_full_set_was_built_opened_and_read_within_the_acceptance_limits(res):
    b, o = res["build"], res["open"]
    assert res["n_graphs"] == b["graphs"] == 4_464_740 and res["options"]["edges"] == "knn"
    assert b["build_s"] < 600 and b["disk_bytes"] < 6e9 and o["open_s"] < 2
    assert max(b["peak_rss_mib"], b["worker_peak_rss_mib"]) < 4096
    epochs = {e["strategy"]: e for e in res["epochs"]}
    assert {"pack-lpfhp", "pack-cutstock"} <= set(epochs)
    for e in epochs.values():
        assert e["graphs"] == 4_464_740 and e["peak_rss_mib"] < 4096 and e["graphs_per_s"] > 0
    assert res["pack_nodes"] == 154 and epochs["pack-cutstock"]["batch_shape"][0] == 16 * 154 + 1
    knn = [r for r in res["compare"]["rows"] if r["path"].startswith("collate, k-NN")]
    assert len(knn) == 2 and all(r["vs_dgl_batch_range"][0] >= 1 for r in knn)  # in every round


def test_the_markdown_is_the_report_of_the_json(res):
    assert (RESULTS / "results.md").read_text() == benchmark_script("scale").report(res)


def test_the_scale_page_quotes_the_run(res):
    text = (ROOT / "docs" / "scale.md").read_text()
    b, o = res["build"], res["open"]
    assert (f"**Build:** {b['build_s']:.0f} s" in text and f"takes {b['disk_bytes'] / 1e9:.2f} GB"
            in text)
    assert f"{b['peak_rss_mib']:,.0f} MiB for the builder" in text
    assert (f"most {b['worker_peak_rss_mib']:,.0f} MiB for each" in text
            and f"**Open:** {o['open_s']:.3f} s" in text)
    for e in res["epochs"]:
        row = re.search(rf"\| `{e['strategy']}` \| ([\d,]+) \| ([\d,]+) MiB \| ([\d.]+) s \|", text)
        assert row, e["strategy"]
        assert (row.group(1) == f"{e['graphs_per_s']:,.0f}" and row.group(2)
                == f"{e['peak_rss_mib']:,.0f}")
        assert row.group(3) == (f"{e['plan_s']:.0f}" if e["plan_s"] >= 10 else f"{e['plan_s']:.1f}")
    medians = {(r["packs_per_batch"], r["path"].split(",")[1].strip()): r["vs_dgl_batch_median"]
               for r in res["compare"]["rows"] if r["path"].startswith("collate")}
    assert (f"median {medians[16, 'k-NN built per batch']:.2f}x at 16-pack batches" in text
            and f"{medians[1, 'k-NN built per batch']:.2f}x at\n  one-pack" in text)
    assert (f"collater was {medians[16, 'stored edges']:.2f}x and\n  "
            f"{medians[1, 'stored edges']:.2f}x") in text
