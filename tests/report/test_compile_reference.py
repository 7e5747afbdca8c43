"""The committed compile run (``results/compile-reference``, from ``benchmarks/compile.toml``)
holds what issue 11 accepts it on, and its report regenerates from it alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.report import write_report
from bench_lib.strategies import STRATEGIES
from tests.report import committed

RESULTS = Path(__file__).resolve().parents[2] / "results" / "compile-reference"


@pytest.fixture(scope="module")
def records():
    return pd.read_csv(committed(RESULTS / "records.csv", "the compile reference run")).drop_duplicates(
        "cell_id", keep="last")


def test_every_strategy_ran_eager_and_compiled_on_both_datasets(records):
    assert set(records.dataset) == {"nci5k", "qm9"}
    for dataset, g in records.groupby("dataset"):
        for execution in ("eager", "compile"):
            ran = set(g.loc[(g.execution == execution) & (g.status == "ok"), "strategy"])
            assert ran == set(STRATEGIES.names()) & set(g.strategy), (dataset, execution, ran)
        assert set(g.strategy) >= {"pad", "dynamic", "dynamic-budget", "pad-bucket", "pack-lpfhp", "pack-ffd",
                                   "pack-cutstock"}


def test_static_shapes_compile_once_and_unpadded_batches_recompile(records):
    compiled = records[(records.execution == "compile") & (records.status == "ok")]
    for _, r in compiled.iterrows():
        if STRATEGIES.get(r.strategy).static_shape:
            assert r.recompiles == 0 and r.compiles >= 1, (r.dataset, r.strategy)
        if r.strategy == "dynamic":
            assert r.recompiles >= 1, r.dataset
        if r.strategy == "pad-bucket":
            assert 1 <= r.distinct_shapes <= json.loads(r.strategy_params).get("buckets", 4)
    eager = records[records.execution == "eager"]
    assert (eager.compiles == 0).all() and (eager.compile_s == 0).all()
    assert (compiled.compile_s > 0).all() and (compiled.compile_cache == "cold").all()


def test_the_report_has_the_compile_section(tmp_path):
    text = write_report(RESULTS, tmp_path).read_text()
    assert "## Compiled steps" in text and "time to target with compile s" in text
    assert "`pack-lpfhp+compile`" in text and "`dynamic+compile-dynamic`" in text
    assert list(tmp_path.glob("*_compile_curves.png"))
