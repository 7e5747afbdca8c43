"""Every registered strategy against the same contract."""

from __future__ import annotations

import pytest

from bench_lib.strategies import STRATEGIES
from tests.conftest import make_random_store
from tests.strategies.conformance import check_conformance, check_oversized_error

# Small budgets so that the random store makes many batches; a strategy not
# listed (a plugin) runs with its defaults.
PARAMS = {
    "pad": [{"batch_graphs": 7}],
    "dynamic": [{"batch_graphs": 5}],
    "dynamic-budget": [{"max_nodes": 20}, {"max_nodes": 25, "max_edges": 90, "max_graphs": 4}],
    "pad-bucket": [{"max_nodes": 20, "buckets": 3},
                   {"max_nodes": 25, "max_edges": 90, "max_graphs": 4,
                                                      "buckets": 4, "spacing": "geometric"},
                   {"buckets": 1}],
    "pack-lpfhp": [{"max_nodes": 16}, {"max_nodes": 16, "max_edges": 90, "max_graphs": 3,
                                       "packs_per_batch": 2}],
    "pack-ffd": [{"max_nodes": 16}, {"max_nodes": 16, "max_edges": 90, "max_graphs": 3,
                                     "packs_per_batch": 2}],
    "pack-cutstock": [{"max_nodes": 16}, {"max_nodes": 16, "max_edges": 90, "max_graphs": 3,
                                          "packs_per_batch": 3}],
    "pyg": [{"batch_graphs": 5}],
    "dgl-loader": [{"batch_graphs": 6}],
    "pyg-dynamic": [{"max_nodes": 20}],
}


def cases():
    for name in STRATEGIES.names():
        marks = [pytest.mark.dgl] if STRATEGIES.get(name).needs_dgl else []
        for params in PARAMS.get(name, [{}]):
            yield pytest.param(
                name, params, id=f"{name}-{'-'.join(f'{k}={v}' for k, v in params.items())}",
                               marks=marks)


def builtin_names() -> set[str]:
    """Strategies registered by bench_lib itself (not by a plugin or a test)."""
    return {n for n in STRATEGIES.names()
            if STRATEGIES.get(n).__module__.startswith("bench_lib.strategies.")}


def test_every_builtin_is_covered():
    # A new built-in without test parameters here fails, instead of running with its defaults.
    assert builtin_names() == set(PARAMS)


@pytest.mark.parametrize("name,params", list(cases()))
def test_conformance(name, params):
    store = make_random_store(n_graphs=80, seed=11, max_nodes=12)
    check_conformance(STRATEGIES.create(name, **params), store)


@pytest.mark.parametrize("name,params", list(cases()))
def test_oversized_graph_is_an_error(name, params):
    check_oversized_error(STRATEGIES.create(name, **params), make_random_store(n_graphs=4))


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_docstring_says_what_it_wastes_and_shapes(name):
    cls = STRATEGIES.get(name)
    assert cls.__doc__ and cls.wastes
    module_doc = __import__(cls.__module__, fromlist=["_"]).__doc__
    assert "Wastes" in module_doc
    assert "Static shapes" in module_doc


def test_pad_bucket_pads_to_at_most_k_shapes_and_wastes_less_than_the_full_budget():
    from bench_lib.data import load_dataset
    import numpy as np

    store = load_dataset("nci5k", n_graphs=1000, seed=0)
    n, e = store.n_node, store.n_edge
    full = STRATEGIES.create("dynamic-budget",
                             max_nodes=256).prepare(n, e, np.random.default_rng(0))
    for k in (1, 2, 4, 8):
        for spacing in ("quantile", "geometric"):
            bucketed = STRATEGIES.create("pad-bucket", max_nodes=256, buckets=k,
                                         spacing=spacing).prepare(
                n, e, np.random.default_rng(0))
            plan = bucketed.plan_epoch(np.random.default_rng(1))
            ref = full.plan_epoch(np.random.default_rng(1))
            # The same greedy fill; only the padding differs.
            assert (np.array_equal(plan.graph_index, ref.graph_index)
                    and np.array_equal(plan.batch_ptr, ref.batch_ptr))
            assert 1 <= plan.distinct_shapes(n, e) <= len(plan.buckets) <= k
            assert plan.buckets[-1] == ref.shape
            node_eff, edge_eff = plan.efficiency(n, e)
            ref_node, ref_edge = ref.efficiency(n, e)
            assert node_eff >= ref_node and edge_eff >= ref_edge
            if k == 1:
                assert (node_eff, edge_eff) == (ref_node, ref_edge)
            elif spacing == "quantile":
                assert node_eff > ref_node  # the smaller buckets save slots
