"""The built-in models compile without a graph break under every compiled route: a graph break
splits the step into several graphs, adds frames the compile predictions do not count, and is
what users hit first (an ``.item()``-style host sync). ``torch._dynamo.explain`` traces the step
(forward and loss) on a tiny batch of each dataset kind: GIN on 2D molecules, SchNet and PaiNN on
3D coordinates, the batch unpadded with its dimensions marked dynamic as ``compile-marked`` marks
them, and padded to a static shape. ``explain`` runs dynamo only (where graph breaks arise);
inductor's compiles of the same steps are checked through the runner
(``tests/harness/test_execution.py``) and in the compile references' records (graph_breaks 0)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.harness.step import (bounded_marks, compile_args, make_loss, mark_batch,
                                    mark_bounds)
from bench_lib.models import MODELS, create_model
from bench_lib.schema import CellSpec
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.loader import BatchLoader

DATA = {"gin": "nci5k", "schnet": "qm9", "painn": "qm9"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {name: load_dataset(name, n_graphs=24, seed=1, cache_dir=cache)
            for name in set(DATA.values())}


@pytest.mark.slow
@pytest.mark.parametrize("strategy,params", [("dynamic", {"batch_graphs": 5}),
                                             ("pad", {"batch_graphs": 5})])
@pytest.mark.parametrize("model", sorted(DATA))
def test_the_step_has_no_graph_break(stores, model, strategy, params):
    assert model in MODELS.names()
    store = stores[DATA[model]]
    torch.manual_seed(0)
    net = create_model(model, store, **({"hidden": 8, "layers": 2} if model == "gin" else
                                        {"hidden": 8, "interactions": 1}))
    loader = BatchLoader(store, STRATEGIES.create(strategy, **params), np.arange(20), seed=0)
    batches = list(loader.epoch(0))[:2]
    bounds = mark_bounds([loader.plan(0)], loader.n_node, loader.n_edge)
    spec = CellSpec(dataset=DATA[model], strategy=strategy, model=model, backend="torch")
    loss = make_loss(net, 0, dataclasses.replace(spec, execution="eager"))
    for batch in batches:
        if strategy == "dynamic" and bounded_marks():  # (torch 2.2: no bounded marks)
            assert bounds and mark_batch(batch, bounds)
        torch._dynamo.reset()
        explained = torch._dynamo.explain(loss)(batch)
        assert explained.graph_break_count == 0, explained.break_reasons
        assert explained.graph_count == 1


def test_marked_ranges_come_from_the_plans_and_are_cut_where_the_compiler_guards(stores):
    store = stores["qm9"]
    loader = BatchLoader(store, STRATEGIES.create("dynamic", batch_graphs=5), np.arange(20),
                         seed=0)
    plans = [loader.plan(e) for e in range(3)]
    nodes = np.concatenate([p.slots(loader.n_node, loader.n_edge)[0] for p in plans])
    bounds = mark_bounds(plans, loader.n_node, loader.n_edge)
    assert bounds["node"] == [[int(nodes.min()), int(nodes.max())]]
    assert "graph" not in bounds  # 5 graphs and the padding graph in every step: nothing to mark
    cut = int(nodes.min()) + 1
    split = mark_bounds(plans, loader.n_node, loader.n_edge, splits=(cut,))
    assert split["node"] == [[int(nodes.min()), cut], [cut + 1, int(nodes.max())]]
    if not bounded_marks():
        pytest.skip(f"torch {torch.__version__}'s mark_dynamic takes no min/max")
    # a batch outside every range is left unmarked (automatic dynamic shapes take it)
    batch = next(iter(loader.epoch(0)))
    assert not mark_batch(batch, {"node": [[1_000, 2_000]]})
    assert not hasattr(batch.node_mask, "_dynamo_dynamic_indices")
    assert mark_batch(batch, {"node": [[2, 1_000]]})
    assert 0 in batch.node_mask._dynamo_dynamic_indices


def test_a_cell_records_the_arguments_its_step_passed():
    spec = CellSpec(dataset="qm9", strategy="dynamic", model="schnet", backend="torch")
    assert compile_args(spec) == {}
    marked = dataclasses.replace(spec, execution="compile-marked")
    assert compile_args(marked, {"edge": [[10, 4096], [4097, 5000]]}) == {
        "torch.compile": {"dynamic": None},
        "mark_dynamic": {"edge": [{"min": 10, "max": 4096}, {"min": 4097, "max": 5000}]}}
    static = dataclasses.replace(spec, execution="compile-static")
    assert compile_args(static) == {"torch.compile": {"dynamic": False}}
    graphs = dataclasses.replace(spec, execution="cudagraphs", device="cuda")
    assert compile_args(graphs) == {"torch.compile": {"mode": "reduce-overhead"}}
