"""The committed pad-or-mark run (``results/compile-routes-reference``, from
``benchmarks/compile-routes.toml`` on today's torch) holds what issue 39 accepts it on, and
docs/compile.md's table of it is what the records give."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.report import write_report
from bench_lib.report.routes import BEGIN, END, routes_block
from bench_lib.costs.shapes import torch_release
from tests.report import committed

RESULTS = Path(__file__).resolve().parents[2] / "results" / "compile-routes-reference"
PAGE = RESULTS.parents[1] / "docs" / "compile.md"
COMMAND = ("python -m bench_lib.report results/compile-routes-reference --routes "
           "docs/compile.md")


@pytest.fixture(scope="module")
def records():
    return pd.read_csv(committed(RESULTS / "records.csv",
                                 "the compile routes reference run")).drop_duplicates(
        "cell_id", keep="last")


def test_every_route_ran_on_every_dataset_in_both_views(records):
    assert (records.status == "ok").all(), records.loc[records.status != "ok", "error"].tolist()
    assert set(records.dataset) == {"nci5k", "qm9", "hydronet-like"}
    arms = {(r.strategy, r.execution) for r in records.itertuples()}
    assert arms == {("dynamic", "eager"), ("dynamic", "compile"), ("dynamic", "compile-marked"),
                    ("pad-bucket", "eager"), ("pad-bucket", "compile-static"),
                    ("pack-lpfhp", "eager"), ("pack-lpfhp", "compile-static")}
    assert {v for text in records.views for v in json.loads(text)} == {"equal-padded-budget",
                                                                    "equal-real-graphs"}
    env = json.loads((RESULTS / "environment.json").read_text())
    assert torch_release(env["packages"]["torch"]) >= (2, 9)  # today's torch, not DGL's 2.2.1
    torch = env["packages"]["torch"].split("+")[0]
    for page in (PAGE, PAGE.parent / "benchmarks.md"):  # the stack the pages name
        assert f"torch {torch}" in " ".join(page.read_text().split()), page
    assert (RESULTS / "constraints.txt").exists() and (RESULTS / "pip-freeze.txt").exists()


def test_each_compiled_cell_says_what_it_passed_and_what_it_cost(records):
    compiled = records[records.execution != "eager"]
    for r in compiled.itertuples():
        args = json.loads(r.compile_args)
        assert args["torch.compile"]["dynamic"] == {"compile-static": False, "compile": None,
                                                    "compile-marked": None}[r.execution]
        # marked: the plan's bounds on the dimensions that change, and one compile per range
        assert ("mark_dynamic" in args) == (r.execution == "compile-marked")
        assert r.graph_breaks == 0 and json.loads(r.graph_break_reasons) == {}
        assert r.compile_cache == "cold" and r.compile_s > 0
        # a second run, from the cache the first filled, compiles as often and pays less
        assert r.compile_warm_compiles == r.compiles and 0 < r.compile_warm_s < r.compile_s
    marked = compiled[compiled.execution == "compile-marked"]
    for r in marked.itertuples():
        ranges = json.loads(r.compile_args)["mark_dynamic"]
        assert r.compiles == sum(len(v) for v in ranges.values()) - len(ranges) + 1, r.cell_id
    eager = records[records.execution == "eager"]
    assert (eager.compiles == 0).all() and (eager.compile_args == "{}").all()


def test_the_pages_table_is_the_records():
    page = PAGE.read_text()
    block = page[page.index(BEGIN):page.index(END) + len(END)]
    assert block == routes_block(RESULTS, COMMAND)


@pytest.mark.slow
def test_the_report_shows_every_route(tmp_path):
    text = write_report(RESULTS, tmp_path).read_text()
    assert "### Pad or mark dynamic: every route" in text
    assert "`dynamic+compile-marked`" in text and "`pack-lpfhp+compile-static`" in text
    assert "break-even steps (warm)" in text


def test_every_number_the_page_says_of_it_is_in_its_table():
    """The sentences under the table quote it: each number in them is one of the table's (the
    torch release and the CPU's guard aside)."""
    import re

    page = PAGE.read_text()
    section = page.split("## Pad or mark dynamic on today's torch")[1]
    block = section[section.index(BEGIN):section.index(END)]
    prose = section[section.index(END):]
    cells = set(re.findall(r"\d[\d,]*(?:\.\d+)?x?", block))
    quoted = set(re.findall(r"\d[\d,]*(?:\.\d+)?x?", prose)) - {"4,096"}
    assert quoted and quoted <= cells | {"6%", "14%"}, sorted(quoted - cells)
    for verdict in ("6% slower", "14% slower"):
        assert verdict in block


COMPARED = RESULTS.parents[1] / "reports" / "compile-routes-reference" / "compare-torch-2.2.1.md"


def test_the_comparison_with_the_torch_2_2_reference_is_the_records(monkeypatch):
    """``python -m bench_lib.report compare results/compile-reference
    results/compile-routes-reference --relative-to dynamic --out <COMPARED>``: committed, and what
    the two runs' records give."""
    from bench_lib.report.compare import compare_runs, comparison_markdown

    text = committed(COMPARED, "the comparison of the two compile references").read_text()
    monkeypatch.chdir(RESULTS.parents[1])  # the paths as the command names them
    again = comparison_markdown(compare_runs("results/compile-reference",
                                             "results/compile-routes-reference",
                                             relative_to="dynamic"))
    assert text == again
    assert "torch 2.2.1" in text and "torch 2.14.1" in text
