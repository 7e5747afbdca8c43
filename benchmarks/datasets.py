"""Dataset benchmarks: build and cache-load times, and padding efficiency of
every strategy on real datasets.

    python benchmarks/datasets.py [--data ../shared/data] [--hydronet-graphs 1000000]

Table 1: build time (from the source files) and load time (from the on-disk
cache, checksum included) of ogbg-molhiv and of hydronet-like clusters.
Table 2: node and edge efficiency of every built-in strategy on ogbg-molhiv
and peptides-func (train split), at one node budget per step; packers with
no edge capacity, then with one ("tuple packing"), whose edge slots are the
mean edges per node times the pack's nodes, plus 5%.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _tables import table  # benchmarks/_tables.py, beside this script
from bench_lib.data import load_dataset, store_splits
from bench_lib.strategies import STRATEGIES

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def build_and_load(name: str, cache: Path, **kw) -> tuple[list[str], object]:
    t = time.perf_counter()
    store = load_dataset(name, cache_dir=cache, **kw)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    load_dataset(name, cache_dir=cache, **kw)
    load_s = time.perf_counter() - t
    size = sum(p.stat().st_size for p in cache.rglob("*.bin")) / 2**20
    print(f"  {name}: build {build_s:.1f} s, load {load_s:.2f} s", file=sys.stderr)
    return [name, f"{store.n_graph:,}", f"{store.n_node.sum():,}", f"{store.n_edge.sum():,}",
            f"{build_s:.1f}",
            f"{load_s:.2f}", f"{size:,.0f}"], store


def node_budget_params(strategy: str, n: np.ndarray, node_budget: int, pack_nodes: int) -> dict:
    """Parameters for ``node_budget`` node slots per step, edges unconstrained
    (the suite's equal-padded-budget view also fixes the edge slots)."""
    if strategy == "pad":
        return {"batch_graphs": max(1, node_budget // int(n.max()))}
    if strategy == "dynamic":
        return {"batch_graphs": max(1, int(round(node_budget / n.mean())))}
    if strategy == "dynamic-budget":
        return {"max_nodes": node_budget}
    return {"max_nodes": pack_nodes, "packs_per_batch": max(1, node_budget // pack_nodes)}


def efficiency_rows(name: str, store, node_budget: int, pack_nodes: int) -> list[list[str]]:
    train = store_splits(store)["train"]
    n, e = store.n_node[train], store.n_edge[train]
    rows = []
    edge_cap = int(np.ceil(pack_nodes * e.sum() / n.sum() * 1.05))
    edge_cap = max(edge_cap, int(e.max()))
    for strategy in STRATEGIES.names():
        variants = [(None, "")]
        if strategy.startswith("pack-"):
            variants.append((edge_cap, f"{edge_cap}"))
        for cap, label in variants:
            params = node_budget_params(strategy, n, node_budget, pack_nodes)
            if cap is not None:
                params["max_edges"] = cap
            t = time.perf_counter()
            planner = STRATEGIES.create(strategy, **params).prepare(n, e, np.random.default_rng(0))
            plan_s = time.perf_counter() - t
            plan = planner.plan_epoch(np.random.default_rng(1))
            node_eff, edge_eff = plan.efficiency(n, e)
            packs = getattr(planner, "packs", None)
            pack_eff = packs.efficiency(n, e) if packs is not None else (None, None)
            rows.append([name, strategy, str(params.get("max_nodes", params.get("batch_graphs"))),
                         label or "-",
                         f"{100 * node_eff:.2f}%", f"{100 * edge_eff:.2f}%",
                         "-" if pack_eff[0] is None else f"{100 * pack_eff[0]:.2f}%",
                         "-" if pack_eff[1] is None else f"{100 * pack_eff[1]:.2f}%",
                         f"{plan_s:.2f}"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED,
                        help="folder with ogb/ and lrgb/ (../shared/data)")
    parser.add_argument("--hydronet-graphs", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_lib_cache_") as tmp:
        cache = Path(tmp)
        rows = []
        row, molhiv = build_and_load("ogbg-molhiv", cache / "molhiv", data_dir=args.data / "ogb")
        rows.append(row)
        row, peptides = build_and_load("peptides-func", cache / "peptides",
                                       data_dir=args.data / "lrgb")
        rows.append(row)
        row, _ = build_and_load("hydronet-like", cache / "hydronet", n_graphs=args.hydronet_graphs)
        rows.append(row)
        print("## Build and cache load\n\n"
              + table(rows, ["dataset", "graphs", "nodes", "edges", "build s", "cache load s",
                             "cache MiB"]) + "\n")
        eff = efficiency_rows("ogbg-molhiv", molhiv, node_budget=1024, pack_nodes=256)
        eff += efficiency_rows("peptides-func", peptides, node_budget=2048, pack_nodes=512)
        print("## Padding efficiency (train split; batch = node budget per step; pack = pack "
              "capacity)\n\n"
              + table(eff, ["dataset", "strategy", "pack / batch", "pack edges",
                            "node eff (batches)",
                            "edge eff (batches)", "node eff (packs)", "edge eff (packs)",
                            "plan s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
