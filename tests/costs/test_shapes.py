"""Compiles predicted from a plan's shapes (bench_lib.costs.shapes) against the compiled cells of
each committed compile reference run, as the torch that run records compiles (so the test passes on
either stack), and the rule's edges for torch 2.2 and for newer torch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.costs.shapes import (CACHE_SIZE_LIMIT, CASCADE_SUM_CHUNK, guard_splits,
                                    predict_compiles, torch_release)

RESULTS = Path(__file__).resolve().parents[2] / "results"
#: The committed compile runs: the reference (torch 2.2.1), the probe of today's torch and the
#: routes' reference (today's torch: compile-static, compile, compile-marked).
REFERENCES = sorted(p.parent for p in [*RESULTS.glob("compile-reference*/records.csv"),
                                       *RESULTS.glob("compile-probe*/records.csv"),
                                       *RESULTS.glob("compile-routes*/records.csv")])


def _span(row, kind: str):
    lo, hi = getattr(row, f"{kind}_slots_per_step_min",
                     None), getattr(row, f"{kind}_slots_per_step_max", None)
    return None if lo is None or pd.isna(lo) else (lo, hi)


@pytest.mark.parametrize("reference", REFERENCES, ids=[p.name for p in REFERENCES])
def test_predictions_equal_every_compiled_reference_cell(reference):
    records = pd.read_csv(reference / "records.csv")
    torch_version = json.loads((reference / "environment.json").read_text())["packages"]["torch"]
    compiled = records[(records.status == "ok") & (records.execution != "eager")]
    assert set(compiled.strategy) >= {"dynamic", "pad-bucket", "pack-lpfhp"}
    assert len(compiled) >= (20 if "reference" in reference.name else 9)
    if "routes" in reference.name:  # every route of the pad-or-mark question
        assert set(compiled.execution) == {"compile-static", "compile", "compile-marked"}
        assert set(records.dataset) == {"nci5k", "qm9", "hydronet-like"}
    # a graph break would add frames the rule does not count
    assert (compiled.graph_breaks == 0).all()
    for row in compiled.itertuples():
        changes = getattr(row, "shape_changes", None)
        want = predict_compiles(int(row.distinct_shapes), row.execution,
                                torch_version=torch_version,
                                device=row.device, node_slots=_span(row, "node"),
                                edge_slots=_span(row, "edge"),
                                shape_changes=None if changes is None or pd.isna(changes)
                                else int(changes))
        assert (want["compiles"], want["recompiles"]) == (row.compiles, row.recompiles), row.cell_id


def test_both_torches_have_a_committed_compile_run():
    versions = {torch_release(json.loads((r / "environment.json").read_text())["packages"]["torch"])
                for r in REFERENCES}
    assert (2, 2) in versions and any(v >= (2, 9) for v in versions), versions


def test_newer_torch_compiles_once_more_across_the_cascade_sum_chunk():
    """From torch 2.9, inductor's CPU code guards on whether a reduction exceeds 4096 elements: a
    plan whose edge (or node) slots lie on both sides compiles once more; on one side, or under
    torch 2.2, or on CUDA, it does not."""
    across, below = (2_500, 5_000), (300, CASCADE_SUM_CHUNK)
    assert (predict_compiles(300, "compile", torch_version="2.2.1", edge_slots=across)["compiles"]
            == 2)
    assert predict_compiles(300, "compile", torch_version="2.14.1+cu130",
                            edge_slots=across)["compiles"] == 3
    assert predict_compiles(300, "compile-dynamic", torch_version="2.14.1",
                            edge_slots=across)["compiles"] == 2
    assert (predict_compiles(300, "compile", torch_version="2.14.1", edge_slots=below)["compiles"]
            == 2)
    assert predict_compiles(300, "compile", torch_version="2.14.1", edge_slots=across,
                            device="cuda")["compiles"] == 2
    assert predict_compiles(1, "compile", torch_version="2.14.1",
                            edge_slots=(5_000, 5_000))["compiles"] == 1
    # range not known
    assert predict_compiles(300, "compile", torch_version="2.14.1")["compiles"] == 2
    assert torch_release("2.14.1+cu130") == (2, 14) and torch_release("2.2.1") == (2, 2)
    with pytest.raises(ValueError, match="not a torch version"):
        torch_release("nightly")


def test_the_rule_at_its_edges():
    assert predict_compiles(1, "eager")["compiles"] == 0
    assert predict_compiles(1, "compile")["compiles"] == 1
    assert (predict_compiles(2, "compile")["compiles"] == 2
            and predict_compiles(500, "compile")["compiles"] == 2)
    assert predict_compiles(500, "compile-dynamic")["compiles"] == 1
    past = predict_compiles(CACHE_SIZE_LIMIT + 1, "compile")
    assert past["static_compiles"] == CACHE_SIZE_LIMIT and past["static_eager_fallback"]
    assert not predict_compiles(CACHE_SIZE_LIMIT, "compile")["static_eager_fallback"]
    assert predict_compiles(4, "cudagraphs")["cuda_graph_recordings"] == 4


def test_each_route_compiles_as_torch_treats_its_shapes():
    """compile-static: a graph per shape up to the recompile limit, then eager; compile-marked and
    compile-dynamic: one symbolic graph, one more per part of a range cut at the CPU's guard."""
    few, many = predict_compiles(3, "compile-static"), predict_compiles(40, "compile-static")
    assert (few["compiles"], few["recompiles"], few["eager_fallback"]) == (3, 2, False)
    assert (many["compiles"], many["eager_fallback"]) == (CACHE_SIZE_LIMIT, True)
    across = (3_600, 6_400)
    for route in ("compile-marked", "compile-dynamic"):
        assert predict_compiles(40, route, torch_version="2.14.1")["compiles"] == 1
        assert predict_compiles(40, route, torch_version="2.14.1",
                                edge_slots=across)["compiles"] == 2
        assert predict_compiles(40, route, torch_version="2.2.1",
                                edge_slots=across)["compiles"] == 1
    assert predict_compiles(40, "compile-static", torch_version="2.14.1",
                            edge_slots=across)["compiles"] == CACHE_SIZE_LIMIT
    # automatic dynamic: one recompile per first change of a dimension (an epoch's short last batch)
    assert predict_compiles(62, "compile", shape_changes=2)["compiles"] == 3
    assert predict_compiles(62, "compile-marked", shape_changes=2)["compiles"] == 1
    assert guard_splits("cpu", "2.14.1") == (CASCADE_SUM_CHUNK,)
    assert guard_splits("cuda", "2.14.1") == () and guard_splits("cpu", "2.2.1") == ()
    with pytest.raises(ValueError, match="at least one shape"):
        predict_compiles(0, "compile")
    with pytest.raises(ValueError, match="unknown execution 'xla'"):
        predict_compiles(1, "xla")
