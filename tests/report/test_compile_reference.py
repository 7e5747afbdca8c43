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
    return pd.read_csv(committed(RESULTS / "records.csv",
                                 "the compile reference run")).drop_duplicates(
        "cell_id", keep="last")


def test_every_strategy_ran_eager_and_compiled_on_both_datasets(records):
    assert set(records.dataset) == {"nci5k", "qm9"}
    for dataset, g in records.groupby("dataset"):
        for execution in ("eager", "compile"):
            ran = set(g.loc[(g.execution == execution) & (g.status == "ok"), "strategy"])
            assert ran == set(
                STRATEGIES.names(baselines=False)) & set(g.strategy), (dataset, execution, ran)
        assert set(g.strategy) >= {"pad", "dynamic", "dynamic-budget", "pad-bucket", "pack-lpfhp",
                                   "pack-ffd",
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


@pytest.mark.slow
def test_the_report_has_the_compile_section(tmp_path):
    text = write_report(RESULTS, tmp_path).read_text()
    assert "## Compiled steps" in text and "time to target with compile s" in text
    assert "`pack-lpfhp+compile`" in text and "`dynamic+compile-dynamic`" in text
    assert list(tmp_path.glob("*_compile_curves.png"))


def test_the_compile_page_s_numbers_are_the_records(records):
    """The numbers of docs/compile.md's 'What compile buys and costs' section, recomputed from the
    records (the rest in tests/test_docs.py)."""
    page = (RESULTS.parents[1] / "docs" / "compile.md").read_text()
    text = " ".join(page.split("## What compile buys and costs on this CPU")[1].split())
    ok = records[records.status == "ok"]
    compiled = ok[ok.execution == "compile"]
    static = compiled[[STRATEGIES.get(s).static_shape and s != "pad-bucket"
                       for s in compiled.strategy]]
    spans = {key: f"{g.compile_s.min():.1f}-{g.compile_s.max():.1f} s"
             for key, g in static.groupby(["dataset", "model"])}
    assert (f"nci5k {spans['nci5k', 'gin']}, qm9/SchNet {spans['qm9', 'schnet']}, qm9/PaiNN "
            f"{spans['qm9', 'painn']}") in text
    def one(g, strategy, execution):
        return f"{g[(g.strategy == strategy) & (g.execution == execution)].compile_s.iloc[0]:.1f}"

    by = {key: g for key, g in ok.groupby(["dataset", "model"])}
    order = [("nci5k", "gin"), ("qm9", "schnet"), ("qm9", "painn")]
    d = [one(by[k], "dynamic", "compile") for k in order]
    assert f"{d[0]} s on nci5k, {d[1]} s (SchNet) and {d[2]} s (PaiNN) on qm9" in text
    d = [one(by[k], "dynamic", "compile-dynamic") for k in order]
    assert f"once: {d[0]} s, {d[1]} s and {d[2]} s" in text
    d = [one(by[k], "pad-bucket", "compile") for k in order]
    assert f"default: {d[0]} s, {d[1]} s and {d[2]} s" in text
    # the time to target, with the compile seconds and eager
    reached = ok[ok.reached_target.map(str).str.lower() == "true"]
    with_compile = reached[reached.execution != "eager"].time_to_target_with_compile_s
    eager = reached[reached.execution == "eager"].time_to_target_s
    assert (
        f"{with_compile.min():.0f}-{with_compile.max():.0f} s against "
        f"{eager.min():.1f}-{eager.max():.1f} s eager") in text
    # which cells reached it in other steps compiled, and which missed it
    key = ["dataset", "model", "strategy", "views"]
    pairs = reached[reached.execution == "eager"].merge(reached[reached.execution == "compile"],
                                                        on=key,
                                                          suffixes=("_eager", "_compile"))
    differ = pairs[pairs.steps_to_target_eager != pairs.steps_to_target_compile]
    assert [(r.dataset, r.strategy) for r in differ.itertuples()] == [("nci5k", "pack-lpfhp")]
    r = differ.iloc[0]
    assert (f"except `pack-lpfhp` on nci5k ({r.steps_to_target_compile:.0f} against "
            f"{r.steps_to_target_eager:.0f}") in text
    missed = ok[ok.reached_target.map(str).str.lower() == "false"]
    assert sorted(set(zip(missed.dataset, missed.strategy))) == [("nci5k", "pad")]
    assert (sorted(missed.execution) == ["compile", "eager"]
            and "nci5k `pad` missed it both eager and compiled" in text)
