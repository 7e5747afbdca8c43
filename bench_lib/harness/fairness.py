"""Strategy parameters for a fair comparison.

Two views, and every record says which it used:

``equal-padded-budget``: every strategy gets the same slots per step,
``node_budget`` nodes (and ``edge_budget`` edges when given). Padding then
costs real graphs: a wasteful strategy fits fewer real graphs in the same
memory. ``dynamic`` has no slots; it takes as many graphs as fill the budget
on average.

``equal-real-graphs``: every strategy carries the same mean number of real
graphs per step, ``graphs_per_step``; padding then costs memory and compute.
Budgets of ``dynamic-budget`` and the number of packs per step are found from
the plan alone (no model run).

A strategy this module does not know (a plugin) runs with its defaults and
the view ``manual``.
"""

from __future__ import annotations

import numpy as np

from bench_lib.strategies import STRATEGIES

__all__ = ["resolve_params", "resolve_for_dataset"]


def _mean_graphs_per_step(name: str, params: dict, n_node, n_edge, seed: int) -> float:
    planner = STRATEGIES.create(name, **params).prepare(n_node, n_edge, np.random.default_rng(seed))
    plan = planner.plan_epoch(np.random.default_rng(seed))
    return len(plan.graph_index) / max(plan.n_batch, 1)


def resolve_params(name: str, view: str, n_node: np.ndarray, n_edge: np.ndarray, *, node_budget: int | None = None,
                   edge_budget: int | None = None, graphs_per_step: int | None = None,
                   pack_nodes: int | None = None, seed: int = 0) -> tuple[dict, str]:
    """``(params, view used)`` for strategy ``name`` on a split of these sizes.

    Args:
      view: ``equal-padded-budget`` (needs ``node_budget``) or
        ``equal-real-graphs`` (needs ``graphs_per_step``).
      pack_nodes: node capacity of one pack (packers); default: the largest
        graph rounded up to a multiple of 4.
    """
    n_node, n_edge = np.asarray(n_node, np.int64), np.asarray(n_edge, np.int64)
    max_n, max_e = int(n_node.max()), int(n_edge.max())
    mean_n = float(n_node.mean())
    if pack_nodes is None:
        pack_nodes = -(-max_n // 4) * 4
    if pack_nodes < max_n:
        raise ValueError(f"pack_nodes={pack_nodes} is smaller than the largest graph ({max_n} nodes)")
    builtin = {"pad", "dynamic", "dynamic-budget", "pack-lpfhp", "pack-ffd", "pack-cutstock"}
    if name not in builtin:
        return {}, "manual"
    if view == "equal-padded-budget":
        if not node_budget or node_budget < max_n:
            raise ValueError(f"node_budget must be >= the largest graph ({max_n} nodes) (got {node_budget})")
        if name == "pad":
            b = node_budget // max_n
            if edge_budget:
                b = min(b, edge_budget // max(max_e, 1))
            return {"batch_graphs": max(1, b)}, view
        if name == "dynamic":
            return {"batch_graphs": max(1, int(round(node_budget / mean_n)))}, view
        if name == "dynamic-budget":
            return {"max_nodes": node_budget, "max_edges": edge_budget}, view
        k = max(1, node_budget // pack_nodes)
        return {"max_nodes": pack_nodes, "packs_per_batch": k,
                "max_edges": edge_budget // k if edge_budget else None}, view
    if view == "equal-real-graphs":
        if not graphs_per_step or graphs_per_step < 1:
            raise ValueError(f"graphs_per_step must be >= 1 (got {graphs_per_step})")
        if name in ("pad", "dynamic"):
            return {"batch_graphs": graphs_per_step}, view
        if name == "dynamic-budget":
            lo, hi = max_n, max(max_n, int(graphs_per_step * max_n))
            while lo < hi:  # smallest budget whose greedy fill carries graphs_per_step graphs
                mid = (lo + hi) // 2
                if _mean_graphs_per_step(name, {"max_nodes": mid}, n_node, n_edge, seed) >= graphs_per_step:
                    hi = mid
                else:
                    lo = mid + 1
            return {"max_nodes": lo}, view
        per_pack = _mean_graphs_per_step(name, {"max_nodes": pack_nodes}, n_node, n_edge, seed)
        return {"max_nodes": pack_nodes, "packs_per_batch": max(1, int(round(graphs_per_step / per_pack)))}, view
    raise ValueError(f"unknown fairness view {view!r}; known: equal-padded-budget, equal-real-graphs")


def resolve_for_dataset(name: str, view: str, n_node: np.ndarray, n_edge: np.ndarray, settings,
                        overrides: dict | None = None, seed: int = 0) -> tuple[dict, str]:
    """:func:`resolve_params` with a suite dataset's budgets (a
    ``DatasetSettings``), then the suite's fixed parameters for this strategy
    (``overrides``), which make the view ``manual``."""
    params, used = resolve_params(name, view, n_node, n_edge, node_budget=settings.node_budget,
                                  edge_budget=settings.edge_budget, graphs_per_step=settings.graphs_per_step,
                                  pack_nodes=settings.pack_nodes, seed=seed)
    if overrides is not None:
        return {**params, **overrides}, "manual"
    return params, used
