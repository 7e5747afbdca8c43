"""Compiles predicted from a plan's shapes (bench_lib.costs.shapes) against the compiled cells of the
committed compile reference run, and the rule's edges."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench_lib.costs.shapes import CACHE_SIZE_LIMIT, predict_compiles

RECORDS = Path(__file__).resolve().parents[2] / "results" / "compile-reference" / "records.csv"


def test_predictions_equal_every_compiled_reference_cell():
    records = pd.read_csv(RECORDS)
    compiled = records[(records.status == "ok") & (records.execution != "eager")]
    assert len(compiled) >= 20 and set(compiled.strategy) >= {"pad", "dynamic", "pad-bucket", "pack-lpfhp"}
    assert (compiled.graph_breaks == 0).all()  # a graph break would add frames the rule does not count
    for row in compiled.itertuples():
        want = predict_compiles(int(row.distinct_shapes), row.execution)
        assert (want["compiles"], want["recompiles"]) == (row.compiles, row.recompiles), row.cell_id


def test_the_rule_at_its_edges():
    assert predict_compiles(1, "eager")["compiles"] == 0
    assert predict_compiles(1, "compile")["compiles"] == 1
    assert predict_compiles(2, "compile")["compiles"] == 2 and predict_compiles(500, "compile")["compiles"] == 2
    assert predict_compiles(500, "compile-dynamic")["compiles"] == 1
    past = predict_compiles(CACHE_SIZE_LIMIT + 1, "compile")
    assert past["static_compiles"] == CACHE_SIZE_LIMIT and past["static_eager_fallback"]
    assert not predict_compiles(CACHE_SIZE_LIMIT, "compile")["static_eager_fallback"]
    assert predict_compiles(4, "cudagraphs")["cuda_graph_recordings"] == 4
    with pytest.raises(ValueError, match="at least one shape"):
        predict_compiles(0, "compile")
    with pytest.raises(ValueError, match="unknown execution 'xla'"):
        predict_compiles(1, "xla")
