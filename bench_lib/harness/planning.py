"""Planning-only measurements a suite stores beside its records.

For each dataset (first seed, training split): the node and edge size
histograms and summary statistics, the per-batch fill of each strategy's
plan in each fairness view, and node/edge efficiency against pack capacity
(a sweep over capacities that needs no model, so that users can pick a pack
size). The report draws its histograms and capacity figure from these alone.
"""

from __future__ import annotations

import numpy as np

from bench_lib.data.stats import size_stats
from bench_lib.strategies import STRATEGIES

__all__ = ["planning_summary", "size_stats", "capacity_sweep", "plan_metrics"]

SWEEP_STRATEGIES = ("pack-lpfhp", "pack-cutstock", "pack-ffd", "dynamic-budget")
FFD_SWEEP_LIMIT = 50_000  # FFD plans graph by graph in Python


def capacity_sweep(n_node: np.ndarray, n_edge: np.ndarray, seed: int = 0) -> list[dict]:
    """Efficiency of each packer (and greedy fill) at pack capacities from the
    largest graph to 8 times it. Edge efficiency counts the fullest pack's
    edges as the (static) edge slots, since no edge capacity is set."""
    max_n = int(n_node.max())
    caps = sorted({max_n, int(1.25 * max_n), int(1.5 * max_n), 2 * max_n, 3 * max_n, 4 * max_n,
                   8 * max_n})
    rows = [{"capacity": c, "strategy": "pad", "node_efficiency": float(n_node.mean() / max_n),
             "edge_efficiency": float(n_edge.mean() / max(n_edge.max(), 1))} for c in caps]
    rng = np.random.default_rng(seed)
    for name in SWEEP_STRATEGIES:
        if name == "pack-ffd" and len(n_node) > FFD_SWEEP_LIMIT:
            continue
        for c in caps:
            if name == "dynamic-budget":
                strategy = STRATEGIES.create(name, max_nodes=c, max_edges=int(n_edge.sum()),
                                             max_graphs=c)
                plan = strategy.prepare(n_node, n_edge, rng).plan_epoch(rng)
                sums_n, sums_e = plan.batch_sums(n_node), plan.batch_sums(n_edge)
                units, slots_n = plan.n_batch, c
            else:
                packs = STRATEGIES.create(name, max_nodes=c).plan_packs(n_node, n_edge, rng)
                sums_n, sums_e, units, slots_n = (packs.pack_sums(n_node), packs.pack_sums(n_edge),
                                                  packs.n_pack, c)
            rows.append({"capacity": c, "strategy": name,
                         "node_efficiency": float(sums_n.sum() / (units * slots_n)),
                         "edge_efficiency": float(sums_e.sum()
                                                  / (units * max(int(sums_e.max()), 1)))})
    return rows


def plan_metrics(plan, n_node: np.ndarray, n_edge: np.ndarray) -> dict:
    """A cell's planned quantities: efficiency, real graphs and slots per step, and distinct shapes
    of one epoch's ``plan`` over graphs of sizes ``n_node``/``n_edge`` (the split the plan
    indexes)."""
    node_eff, edge_eff = plan.efficiency(n_node, n_edge)
    node_slots, edge_slots, graph_slots = plan.slots(n_node, n_edge)
    return {"node_efficiency": node_eff, "edge_efficiency": edge_eff,
            "graphs_per_step_mean": len(plan.graph_index) / max(plan.n_batch, 1),
            "node_slots_per_step": float(np.mean(node_slots)),
            "node_slots_per_step_max": int(np.max(node_slots)),
            "node_slots_per_step_min": int(np.min(node_slots)),
            "edge_slots_per_step": float(np.mean(edge_slots)),
            "edge_slots_per_step_max": int(np.max(edge_slots)),
            "edge_slots_per_step_min": int(np.min(edge_slots)),
            "graph_slots_per_step": float(np.mean(graph_slots)),
            "distinct_shapes": plan.distinct_shapes(n_node, n_edge),
            "shape_changes": plan.shape_changes(n_node, n_edge)}


def _fill(strategy, n_node, n_edge, seed) -> dict:
    planner = strategy.prepare(n_node, n_edge, np.random.default_rng(seed))
    plan = planner.plan_epoch(np.random.default_rng(seed))
    real_n, real_e = plan.batch_sums(n_node), plan.batch_sums(n_edge)
    if not plan.padded:
        node_fill, edge_fill = np.ones(plan.n_batch), np.ones(plan.n_batch)
    else:
        node_slots, edge_slots, _ = plan.slots(n_node, n_edge)
        node_fill = real_n / node_slots
        edge_fill = real_e / np.maximum(edge_slots, 1)
    bins = np.linspace(0, 1, 21)
    return {"node_fill_hist": np.histogram(np.clip(node_fill, 0, 1), bins)[0].tolist(),
            "edge_fill_hist": np.histogram(np.clip(edge_fill, 0, 1), bins)[0].tolist(),
            "bins": bins.tolist()}


def planning_summary(datasets: dict) -> dict:
    """The planning artefacts of every dataset the suite planned: ``datasets`` maps a name to what
    its first seed planned (:class:`bench_lib.cells.PlannedData`: node and edge counts, budgets,
    strategy parameters per view). Nothing is loaded or resolved again: the fill histograms are
    those of the parameters the cells run with."""
    out = {}
    for name, planned in datasets.items():
        n, e, seed = planned.n, planned.e, planned.seed
        node_hist = np.bincount(n)
        edge_bins = np.unique(np.linspace(0, int(e.max()) + 1, 41).astype(int))
        fill = {view: {s: _fill(STRATEGIES.create(s, **params), n, e,
                                seed) for s, params in chosen.items()}
                for view, chosen in planned.params.items()}
        out[name] = {
            "stats": size_stats(n, e),
            "node_hist": {"sizes": np.flatnonzero(node_hist).tolist(),
                          "counts": node_hist[node_hist > 0].tolist()},
            "edge_hist": {"bins": edge_bins.tolist(),
                          "counts": np.histogram(e, edge_bins)[0].tolist()},
            "fill": fill,
            "capacity_sweep": capacity_sweep(n, e, seed),
        }
    return out
