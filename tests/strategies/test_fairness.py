"""Budgets of the two fairness views, and each strategy's parameters under them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from bench_lib.config import DatasetSettings
from bench_lib.data import load_dataset
from bench_lib.strategies.fairness import budgets_for, default_pack_nodes, resolve, slot_budget
from bench_lib.strategies import STRATEGIES, Strategy
from bench_lib.strategies.budget import GraphBudget, SlotBudget

BUILTINS = ("pad", "dynamic", "dynamic-budget", "pad-bucket", "pack-lpfhp", "pack-ffd",
            "pack-cutstock")


def test_edge_budget_follows_the_edges_per_node():
    n, e = np.array([2, 4, 6]), np.array([4, 12, 14])  # 30 edges on 12 nodes: 2.5 per node
    b = slot_budget(n, e, node_slots=24, pack_nodes=6)
    # 24 x 2.5: 4 packs of 15 edges, and the densest graph (14) fits one
    assert b == SlotBudget(24, 60, 6)
    # 2.5 per node again, but one graph has 24 edges
    n, e = np.array([2, 4, 6]), np.array([2, 4, 24])
    b = slot_budget(n, e, node_slots=24, pack_nodes=6)
    # raised to 4 packs x 24 edges so that the densest graph fits a pack
    assert b == SlotBudget(24, 96, 6)
    b = slot_budget(np.array([3, 3]), np.array([4, 5]), node_slots=9, pack_nodes=3)
    assert b.edge_slots == 15  # ceil(9 x 1.5) = 14, rounded up to the 3 packs per step
    # edge slots given: kept
    assert slot_budget(n, e, node_slots=24, edge_slots=100, pack_nodes=6).edge_slots == 100


def test_default_pack_size_divides_the_node_slots():
    assert default_pack_nodes(512, 122) == 128
    assert default_pack_nodes(576, 29) == 32
    assert default_pack_nodes(100, 30) == 50
    with pytest.raises(ValueError, match="smaller than the largest graph"):
        default_pack_nodes(20, 30)


def test_equal_padded_budget_gives_every_builtin_the_same_slots():
    store = load_dataset("nci5k", n_graphs=400, seed=0)
    n, e = store.n_node, store.n_edge
    budget = slot_budget(n, e, node_slots=512, pack_nodes=128)
    slots = {}
    for name in BUILTINS:
        params, view = resolve(name, budget, n, e)
        assert view == "equal-padded-budget"
        plan = STRATEGIES.create(name, **params).prepare(n, e, np.random.default_rng(0)).plan_epoch(
            np.random.default_rng(0))
        if plan.shape is not None:
            slots[name] = (plan.shape.n_node, plan.shape.n_edge)
        elif plan.buckets is not None:  # a few shapes, the largest of them the budget
            slots[name] = (plan.buckets[-1].n_node, plan.buckets[-1].n_edge)
            assert all(s.n_node <= 513 and s.n_edge <= budget.edge_slots for s in plan.buckets)
        else:
            slots[name] = (plan.batch_sums(n).mean(), plan.batch_sums(e).mean())
    static = {k: v for k, v in slots.items() if k != "dynamic"}
    assert set(static.values()) == {(513, budget.edge_slots)}
    assert (slots["dynamic"][0] == pytest.approx(512, rel=0.05) and slots["dynamic"][1]
            == pytest.approx(
        budget.edge_slots, rel=0.05))


@dataclass(frozen=True)
class Plain(Strategy):
    """A plugin without for_budget."""

    name = "plain"
    static_shape = False
    batch_graphs: int = 3

    def prepare(self, n_node, n_edge, rng):
        return STRATEGIES.create(
            "dynamic", batch_graphs=self.batch_graphs).prepare(n_node, n_edge, rng)


def test_a_strategy_without_budgets_or_with_fixed_parameters_runs_manual():
    STRATEGIES.register(Plain)
    try:
        n, e = np.array([3, 4, 5]), np.array([2, 3, 4])
        assert resolve("plain", GraphBudget(8, 8), n, e) == ({}, "manual")
        params, view = resolve("pad", GraphBudget(8, 8), n, e, overrides={"batch_graphs": 2})
        assert params == {"batch_graphs": 2} and view == "manual"  # exactly the fixed parameters
    finally:
        STRATEGIES.unregister("plain")


def test_budgets_for_a_suite_dataset():
    d = DatasetSettings(name="x", node_slots=24, graphs_per_step=5)
    n, e = np.array([2, 4, 6]), np.array([4, 12, 14])
    budgets = budgets_for(d, n, e, ["equal-padded-budget", "equal-real-graphs"])
    # default pack: 6 nodes, 4 per step
    assert budgets["equal-padded-budget"] == SlotBudget(24, 60, 6)
    assert budgets["equal-real-graphs"] == GraphBudget(5, 6, 0)
    with pytest.raises(ValueError, match="node_slots=24 is not a multiple of pack_nodes=7"):
        budgets_for(DatasetSettings(name="x", node_slots=24, pack_nodes=7), n, e,
                    ["equal-padded-budget"])
