"""Speckhard et al.'s three batching rules as benchmarks/projection.py rebuilds them: every graph
once per epoch, every batch within its shape, the shapes of each rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "projection.py"


@pytest.fixture(scope="module")
def projection():
    spec = importlib.util.spec_from_file_location("projection_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("rule", ["budget", "pad_next_power_of_two", "pad_multiple_of_64"])
def test_rules_batch_every_graph_within_its_shape(projection, rule):
    rng = np.random.default_rng(0)
    n_node = rng.integers(3, 30, 1000)
    n_edge = n_node * (n_node - 1)  # fully connected, as theirs
    batches = projection.speckhard_batches(n_node, n_edge, 16, rule)
    seen = np.concatenate([p for p, _ in batches])
    # 15 a batch; the tail dropped
    whole = len(n_node) - len(n_node) % 15 if rule != "budget" else len(n_node)
    assert len(seen) == len(set(seen.tolist())) == whole
    for pos, shape in batches:
        assert n_node[pos].sum() + 1 <= shape.n_node and n_edge[pos].sum() <= shape.n_edge
        assert len(pos) <= 15 and shape.n_graph == 16
        if rule == "pad_next_power_of_two":
            assert shape.n_node & (shape.n_node - 1) == 0 and shape.n_edge & (shape.n_edge - 1) == 0
        if rule == "pad_multiple_of_64":
            assert (shape.n_node % 64 == 0 and shape.n_edge % 64 == 0
                    and shape.n_node - 64 < n_node[pos].sum() + 1)
    if rule == "budget":
        assert len({(s.n_node, s.n_edge) for _, s in batches}) == 1
        assert batches[0][1].n_node == 64 * (1 + int(n_node.mean() * 16 // 64))


def test_committed_side_by_side_holds_the_painn_check():
    import json

    data = json.loads((SCRIPT.parents[1] / "results" / "projection" / "speckhard.json").read_text())
    assert data["command"].startswith("python benchmarks/projection.py --part speckhard")
    by = {(r["model"], r["rule"]): r for r in data["records"]}
    assert len(by) == 6
    painn = by[("painn", "pad_next_power_of_two")]
    assert abs(painn["projected_ratio"] / painn["their_step_ratio"] - 1) <= 0.3
    text = (SCRIPT.parents[1] / "results" / "projection" / "speckhard.md").read_text()
    assert (f"projected {painn['projected_ratio']:.2f}x, theirs {painn['their_step_ratio']:.2f}x"
            in text)
