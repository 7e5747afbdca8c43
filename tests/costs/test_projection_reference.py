"""The committed CPU validation of the projection (results/projection/cpu.json, made by
``python benchmarks/projection.py --out DIR``): every cell of the default suite, each
projection recomputed from its record's counted costs and the profile measured before it, the
summary and the pages that quote it what the records give."""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
from pathlib import Path

import pytest

from bench_lib.costs.project import project_step_s
from bench_lib.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "projection"


@pytest.fixture(scope="module")
def projection():
    spec = importlib.util.spec_from_file_location("projection_benchmark",
                                                  ROOT / "benchmarks" / "projection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads((RESULTS / "cpu.json").read_text())


def test_every_default_cell_was_projected(projection, data):
    # every cell: no --only
    assert data["command"].startswith("python benchmarks/projection.py --out ")
    assert "--only" not in data["command"] and "--flush-denormal" not in data["command"]
    cells = projection._cells(argparse.Namespace(repeats=3, windows=8))
    # a run on today's stack (no DGL) leaves out DGL's loader, as the suite does
    with_dgl = bool(data["environment"]["packages"].get("dgl"))
    assert [r["cell"] for r in data["records"]] == [
        s.label() for s in cells if with_dgl or not STRATEGIES.get(s.strategy).needs_dgl]
    # the stack it ran on, beside the records
    assert json.loads((RESULTS / "environment.json").read_text()) == data["environment"]
    assert "torch==" in (RESULTS / "pip-freeze.txt").read_text()


def test_each_projection_is_its_counted_costs_priced_by_its_profile(projection, data):
    for r in data["records"]:
        profile = {**r["profile"], "rates": {k: [tuple(p) for p in v]
                                             for k, v in r["profile"]["rates"].items()}}
        device = projection._device(profile, r["model"])
        assert (project_step_s(r["costs_by_kind"], r["ops_per_step"], device, "cpu")
                == pytest.approx(r["projected_s"]))
        assert r["error"] == pytest.approx(r["projected_s"] / r["measured_compute_s"] - 1)


def test_the_summary_and_the_pages_quote_the_records(data):
    errors = [r["error"] for r in data["records"]]
    summary = data["summary"]
    assert summary["cells"] == len(errors)
    assert summary["median_abs_error"] == pytest.approx(statistics.median(abs(e) for e in errors))
    assert summary["median_error"] == pytest.approx(statistics.median(errors))
    quoted = f"median absolute error {summary['median_abs_error']:.1%}"
    assert quoted in (RESULTS / "cpu.md").read_text()
    assert quoted in " ".join((ROOT / "docs" / "methodology.md").read_text().split())


def test_the_methodology_page_quotes_the_run(data):
    text = " ".join((ROOT / "docs" / "methodology.md").read_text().split())
    summary, records = data["summary"], data["records"]
    overhead = [next(iter(r["profile"]["op_overhead_s"].values())) * 1e6 for r in records]
    assert f"{summary['cells']} first-seed cells" in text
    assert (f"per-operator overhead measured from {min(overhead):.2f} to {max(overhead):.2f} us"
            in text)
    assert (f"median absolute error {summary['median_abs_error']:.1%}, median error "
            f"{summary['median_error']:+.1%}, largest {summary['largest_abs_error']:.1%}; without "
            f"the denormal penalty, median absolute error "
            f"{summary['without_denormals']['median_abs_error']:.1%}") in text
