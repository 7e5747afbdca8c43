"""Every built-in turns a budget into its parameters (``Strategy.for_budget``)."""

from __future__ import annotations

import numpy as np
import pytest

from bench_lib.strategies import STRATEGIES, GraphTooLargeError, Strategy
from bench_lib.strategies.budget import GraphBudget, SlotBudget
from tests.conftest import make_random_store
from tests.strategies.test_conformance import PARAMS

BUILTINS = sorted(PARAMS)


@pytest.fixture(scope="module")
def sizes():
    store = make_random_store(n_graphs=300, seed=4, max_nodes=12, edge_prob=0.4)
    return store.n_node, store.n_edge


def plan_of(strategy, n, e):
    return strategy.prepare(n, e, np.random.default_rng(0)).plan_epoch(np.random.default_rng(0))


@pytest.mark.parametrize("name", BUILTINS)
def test_slot_budget_gives_the_same_slots(name, sizes):
    n, e = sizes
    budget = SlotBudget(node_slots=48, edge_slots=4 * 80, pack_nodes=12)
    strategy = STRATEGIES.get(name).for_budget(budget, n, e)
    assert type(strategy) is STRATEGIES.get(name)
    plan = plan_of(strategy, n, e)
    if strategy.static_shape:
        # Padded to exactly the budget; the padding graph's node slot on top.
        assert (plan.shape.n_node, plan.shape.n_edge) == (48 + 1, 320)
    elif plan.buckets is not None:
        # Padded to a few shapes, the largest exactly the budget.
        assert (plan.buckets[-1].n_node, plan.buckets[-1].n_edge) == (48 + 1, 320)
        assert all(b.n_node <= 49 and b.n_edge <= 320 for b in plan.buckets)
    elif name == "pyg-dynamic":
        # PyG's DynamicBatchSampler at max_num = the node slots: no step over them, edges not
        # budgeted.
        assert plan.batch_sums(n).max() <= 48 and plan.batch_sums(n)[:-1].mean() / 48 > 0.8
    else:
        # Unpadded: matched on the mean (the last, short batch aside): the binding
        # dimension within 10% of its budget, the other not over it by more than that.
        fill = [plan.batch_sums(n)[:-1].mean() / 48, plan.batch_sums(e)[:-1].mean() / 320]
        assert max(fill) == pytest.approx(1.0, abs=0.1) and min(fill) <= 1.1, fill
        assert np.diff(plan.batch_ptr)[0] == budget.unpadded_batch_graphs(n, e)


@pytest.mark.parametrize("name", BUILTINS)
def test_graph_budget_gives_the_same_real_graphs(name, sizes):
    n, e = sizes
    strategy = STRATEGIES.get(name).for_budget(GraphBudget(graphs_per_step=10, pack_nodes=12), n, e)
    plan = plan_of(strategy, n, e)
    assert abs(len(n) / plan.n_batch - 10) <= 1.5, (name, strategy)


def test_pad_under_a_slot_budget_pads_to_it():
    n, e = np.array([5, 3, 4]), np.array([8, 2, 6])
    pad = STRATEGIES.get("pad").for_budget(SlotBudget(node_slots=17, edge_slots=30, pack_nodes=17),
                                           n, e)
    # min(17 // 5, 30 // 8)
    assert pad.batch_graphs == 3 and (pad.node_slots, pad.edge_slots) == (17, 30)
    pad = STRATEGIES.get("pad").for_budget(SlotBudget(node_slots=17, edge_slots=20, pack_nodes=17),
                                           n, e)
    assert pad.batch_graphs == 2  # the edges bind: 20 // 8
    with pytest.raises(
        ValueError, match="node_slots=9 cannot hold batch_graphs=2 graphs of 5 nodes"):
        STRATEGIES.create("pad", batch_graphs=2,
                          node_slots=9).prepare(n, e, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["pad", "dynamic-budget", "pad-bucket", "pack-lpfhp", "pack-ffd",
                                  "pack-cutstock"])
def test_a_budget_too_small_for_a_graph_is_an_error_naming_it(name):
    n, e = np.array([2, 9, 3]), np.array([2, 40, 4])
    budget = SlotBudget(node_slots=16, edge_slots=32, pack_nodes=16)  # graph 1 has 40 edges
    with pytest.raises(GraphTooLargeError, match="graph 1"):
        STRATEGIES.get(name).for_budget(budget, n, e)


def test_budget_arithmetic_errors():
    with pytest.raises(ValueError, match="node_slots=100 is not a multiple of pack_nodes=32"):
        _ = SlotBudget(node_slots=100, edge_slots=10, pack_nodes=32).packs_per_step
    with pytest.raises(ValueError, match="edge_slots=10 is not a multiple of the 4 packs per step"):
        SlotBudget(node_slots=128, edge_slots=10, pack_nodes=32).edges_per_pack()
    with pytest.raises(ValueError, match=r"SlotBudget.node_slots must be an integer >= 1 \(got "
                                         r"1.5\)"):
        SlotBudget(node_slots=1.5, edge_slots=10, pack_nodes=32)
    with pytest.raises(ValueError, match="GraphBudget.graphs_per_step"):
        GraphBudget(graphs_per_step=0, pack_nodes=8)


def test_a_strategy_without_for_budget_says_so():
    class Plain(Strategy):
        name = "plain"
        static_shape = False

        def prepare(self, n_node, n_edge, rng):
            raise AssertionError("not called")

    with pytest.raises(NotImplementedError, match="Plain does not implement for_budget"):
        Plain.for_budget(GraphBudget(4, 8), np.array([1]), np.array([0]))
