"""Budgets for a fair comparison, and each strategy's parameters under them.

A suite dataset's settings (:class:`bench_lib.config.DatasetSettings`) give
the budgets of the two views (see :mod:`bench_lib.strategies.budget`):

- ``equal-padded-budget``: ``node_slots`` node slots per step and
  ``edge_slots`` edge slots. Without ``edge_slots``, the edge budget is the
  node budget times the training split's edges per node (so that unpadded
  ``dynamic`` batching, matched on its mean, gets the same edges as the
  padded strategies), raised where needed so that the densest graph fits one
  pack's share, and rounded up to a multiple of the packs per step.
- ``equal-real-graphs``: ``graphs_per_step`` mean real graphs per step.

Packs hold ``pack_nodes`` nodes; without it, the smallest size at least as
large as the largest graph that divides ``node_slots`` exactly.

Each strategy turns a budget into parameters through its own
``for_budget`` (built-ins and plugins alike); one that does not implement it,
or whose parameters the suite fixes by hand, runs in the ``manual`` view.
"""

from __future__ import annotations

import numpy as np

from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.budget import Budget, GraphBudget, SlotBudget

__all__ = ["default_pack_nodes", "slot_budget", "budgets_for", "resolve"]


def default_pack_nodes(node_slots: int, max_n: int) -> int:
    """The smallest pack size >= ``max_n`` that divides ``node_slots`` exactly."""
    if node_slots < max_n:
        raise ValueError(f"node_slots={node_slots} is smaller than the largest graph ({max_n} "
                         f"nodes)")
    return min(node_slots // k for k in range(1, node_slots // max_n + 1) if node_slots % k == 0)


def slot_budget(n_node: np.ndarray, n_edge: np.ndarray, node_slots: int,
                edge_slots: int | None = None,
                pack_nodes: int | None = None) -> SlotBudget:
    """The ``equal-padded-budget`` budget for a split of these sizes (see the module docstring)."""
    n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
    max_n, max_e = int(n_node.max()), int(n_edge.max())
    if pack_nodes is None:
        pack_nodes = default_pack_nodes(node_slots, max_n)
    if pack_nodes < max_n:
        raise ValueError(f"pack_nodes={pack_nodes} is smaller than the largest graph ({max_n} "
                         f"nodes)")
    # ValueError unless packs fill node_slots
    k = SlotBudget(node_slots, 1, pack_nodes).packs_per_step
    if edge_slots is None:
        by_density = int(np.ceil(node_slots * n_edge.sum() / max(n_node.sum(), 1)))
        edge_slots = -(-max(by_density, k * max_e, 1) // k) * k
    return SlotBudget(node_slots, edge_slots, pack_nodes)


def budgets_for(settings, n_node: np.ndarray, n_edge: np.ndarray, views, seed: int = 0,
                largest: int = 0) -> dict[str, Budget]:
    """view -> budget for a suite dataset's ``settings`` on its training split's sizes; a derived
    ``pack_nodes`` also fits ``largest`` nodes (the largest graph of every split)."""
    max_n = int(np.max(n_node))
    pack_nodes = settings.pack_nodes or default_pack_nodes(settings.node_slots, max(max_n, largest))
    out: dict[str, Budget] = {}
    for view in views:
        if view == SlotBudget.view:
            out[view] = slot_budget(n_node, n_edge, settings.node_slots, settings.edge_slots,
                                    pack_nodes)
        elif view == GraphBudget.view:
            if pack_nodes < max_n:
                raise ValueError(f"pack_nodes={pack_nodes} is smaller than the largest graph "
                                 f"({max_n} nodes)")
            out[view] = GraphBudget(settings.graphs_per_step, pack_nodes, seed)
        else:
            raise ValueError(f"unknown fairness view {view!r}; known: {SlotBudget.view}, "
                             f"{GraphBudget.view}")
    return out


def resolve(name: str, budget: Budget, n_node: np.ndarray, n_edge: np.ndarray,
            overrides: dict | None = None) -> tuple[dict, str]:
    """``(parameters, view)`` of strategy ``name`` under ``budget``.

    The view is the budget's, or ``manual`` when the strategy does not
    implement ``for_budget`` (it keeps its defaults) or when ``overrides``
    (the suite's fixed parameters for it) are given: then they are its
    parameters, the same in every view.

    Raises:
      ValueError (``GraphTooLargeError`` among them): the budget cannot hold
        some graph of the split, or does not suit the strategy.
    """
    cls = STRATEGIES.get(name)
    if overrides:
        return dict(overrides), "manual"
    try:
        strategy = cls.for_budget(budget, np.asarray(n_node, np.int64),
                                  np.asarray(n_edge, np.int64))
    except NotImplementedError:
        params, view = {}, "manual"
    else:
        params, view = strategy.params(), budget.view
    return params, view
