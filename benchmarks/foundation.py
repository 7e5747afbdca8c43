"""Foundation benchmarks: packing plans and collation speed.

Table 1, planning: the 4,464,740 HydroNet cluster sizes (expanded from the
histogram file and shuffled) packed into 154-node packs of at most 5 graphs,
down to the graph indices of every pack; QM9 (all 130,831 molecules, with
hydrogens) into 36-node packs; then QM9 again with an edge capacity on its
6 A / 28-neighbour radius graphs: 36-node packs at 850 edges and at the
largest molecule's 796 edges, then 144-node packs at 2,600 and 2,450 edges. Times are medians of
``--repeats`` runs after one warm-up run, on this machine, in this process.

Table 2, collation: real graphs/s of ``bench_lib``'s vectorised collate
(alone, and followed by ``to_dgl``) against ``dgl.batch`` of the same graphs
prebuilt as DGLGraphs with the same features, same batches, same run.

Table 3, against the libraries users batch with (``--part libraries``): per dataset (nci5k, qm9,
hydronet-like; 5,000 graphs each) and batch size, real graphs/s of bench_lib's collate (which gives
the models' input, ``GraphBatch``) against PyG's ``Batch.from_data_list`` over one ``Data`` per
graph and DGL's ``dgl.batch`` over one ``DGLGraph`` per graph (the per-graph objects built
beforehand, as a user's in-memory dataset holds them), each alone and followed by its conversion to
``GraphBatch`` (:mod:`bench_lib.strategies.interop`, what the ``pyg`` and ``dgl-loader`` arms of a
suite run). The arms take turns: each repeat times one pass over the same batches per arm, in a
rotated order, and a ratio is the median over repeats of the two arms' rates in that repeat. Every
arm reads edges built once (qm9's and hydronet-like's radius graphs are stored with the dataset, as
the libraries' graphs hold them).

    python benchmarks/foundation.py [--hydronet PATH] [--repeats 3] [--skip-ffd-hydronet]
    python benchmarks/foundation.py --part libraries [--repeats 7] [--out results/foundation]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _tables import dgl_graphs, table  # benchmarks/_tables.py, beside this script
from bench_lib.data import load_dataset
from bench_lib.deps import dgl_available, dgl_missing_reason, import_dgl
from bench_lib.strategies import STRATEGIES, collate
from bench_lib.strategies.packing import Packs

HYDRONET = Path(__file__).resolve().parents[2] / "shared" / "data" / "hydronet_size_histogram.json"


def timed(fn, repeats: int):
    fn()  # warm-up: imports, allocator
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times), min(times), max(times)


def pack_row(dataset: str, name: str, packs: Packs, n_node, n_edge, secs, edge_cap) -> list[str]:
    node_eff, edge_eff = packs.efficiency(n_node, n_edge)
    if edge_cap is None:  # static edge slots = the fullest pack's edges
        fullest = int(packs.pack_sums(n_edge).max())
        edge_eff = float(n_edge.sum()) / (packs.n_pack * fullest) if fullest else None
    t = "-" if secs is None else f"{secs[0]:.3f} ({secs[1]:.3f}-{secs[2]:.3f})"
    return [dataset, name, f"{packs.max_nodes}", str(edge_cap or "-"), str(packs.max_graphs or "-"),
            f"{packs.n_pack:,}", f"{100 * node_eff:.2f}%",
            "-" if edge_eff is None else f"{100 * edge_eff:.2f}%", t]


def planning(args) -> str:
    rows = []
    hist = json.loads(Path(args.hydronet).read_text())["sets"]["full_4.5M"]["counts_by_atoms"]
    sizes = np.repeat(np.array([int(k) for k in hist]), np.array(list(hist.values())))
    sizes = np.random.default_rng(0).permutation(sizes)
    zeros = np.zeros_like(sizes)
    print(f"hydronet: {len(sizes):,} clusters", file=sys.stderr)
    rows.append(["hydronet", "pad to 90", "90", "-", "1", f"{len(sizes):,}",
                 f"{100 * sizes.mean() / 90:.2f}%", "-", "-"])
    bound = None
    for name in ("pack-lpfhp", "pack-cutstock", "pack-ffd"):
        if name == "pack-ffd" and args.skip_ffd_hydronet:
            continue
        strat = STRATEGIES.create(name, max_nodes=154, max_graphs=5)
        reps = 1 if name == "pack-ffd" else args.repeats
        packs, med, lo, hi = timed(lambda: strat.plan_packs(sizes, zeros, np.random.default_rng(1)),
                                   reps)
        bound = packs.lower_bound or bound
        rows.append(pack_row("hydronet", name, packs, sizes, zeros, (med, lo, hi), None))
        print(f"  {name}: {med:.3f} s", file=sys.stderr)
    rows.append(["hydronet", "LP lower bound", "154", "-", "5", f"{bound:,.1f}",
                 f"{100 * sizes.sum() / (154 * bound):.2f}%", "-", "-"])
    for budget in (122, 512, 2048):
        strat = STRATEGIES.create("dynamic-budget", max_nodes=budget, max_edges=1,
                                  max_graphs=budget)
        plan = strat.prepare(
            sizes, zeros, np.random.default_rng(0)).plan_epoch(np.random.default_rng(1))
        eff = sizes.sum() / (plan.n_batch * budget)
        rows.append(["hydronet", "greedy fill (dynamic-budget)", str(budget), "-", "-",
                     f"{plan.n_batch:,}",
                     f"{100 * eff:.2f}%", "-", "-"])

    qm9 = load_dataset("qm9")
    n, e = qm9.n_node, qm9.n_edge
    print(f"qm9: {len(n):,} molecules, {e.sum():,} edges", file=sys.stderr)
    rows.append(["qm9", "pad to 32", "32", "-", "1", f"{len(n):,}", f"{100 * n.mean() / 32:.2f}%",
                 "-", "-"])
    rows.append(["qm9", "pad to max (29)", "29", str(e.max()), "1", f"{len(n):,}",
                 f"{100 * n.mean() / n.max():.2f}%", f"{100 * e.mean() / e.max():.2f}%", "-"])
    # 36-node packs: one molecule has up to 796 edges, so no edge capacity can
    # go below that. 144-node packs (4 x 36) average ~2,400 real edges: there
    # an edge capacity near the mean binds, and packers trade nodes for edges.
    for pack_nodes, edge_cap in ((36, None), (36, 850), (36, int(e.max())), (144, None),
                                 (144, 2600), (144, 2450)):
        bound = None
        for name in ("pack-lpfhp", "pack-cutstock", "pack-ffd"):
            strat = STRATEGIES.create(name, max_nodes=pack_nodes, max_edges=edge_cap)
            packs, med, lo, hi = timed(lambda: strat.plan_packs(n, e, np.random.default_rng(1)),
                                       args.repeats)
            bound = packs.lower_bound or bound
            rows.append(pack_row("qm9", name, packs, n, e, (med, lo, hi), edge_cap))
        if edge_cap is None:
            rows.append(["qm9", "LP lower bound (nodes)", str(pack_nodes), "-", "-",
                         f"{bound:,.1f}",
                         f"{100 * n.sum() / (pack_nodes * bound):.2f}%", "-", "-"])
    return table(rows, ["dataset", "planner", "pack nodes", "pack edges", "graphs/pack", "packs",
                        "node eff", "edge eff", "plan s median (min-max)"])


def collation(args) -> str:
    dgl = import_dgl()
    rows = []
    for name, kw in (("nci5k", {}), ("qm9", {"n_graphs": 10_000})):
        store = load_dataset(name, **kw)
        graphs = dgl_graphs(store)
        for batch_graphs in (32, 128):
            order = np.random.default_rng(0).permutation(store.n_graph)
            batches = [order[i:i + batch_graphs] for i in range(0, len(order), batch_graphs)]

            def ours():
                for b in batches:
                    collate(store, b)

            def ours_dgl():
                for b in batches:
                    collate(store, b).to_dgl()

            def dgl_batch():
                for b in batches:
                    dgl.batch([graphs[i] for i in b])

            rates = {}
            for label, fn in (("collate", ours), ("collate+to_dgl", ours_dgl),
                              ("dgl.batch", dgl_batch)):
                _, med, _, _ = timed(fn, args.repeats)
                rates[label] = store.n_graph / med
            rows.append([name, str(batch_graphs), f"{rates['collate']:,.0f}",
                         f"{rates['collate+to_dgl']:,.0f}",
                         f"{rates['dgl.batch']:,.0f}",
                         f"{rates['collate'] / rates['dgl.batch']:.1f}x",
                         f"{rates['collate+to_dgl'] / rates['dgl.batch']:.1f}x"])
            print(f"  {name} x{batch_graphs}: {rows[-1][5]}", file=sys.stderr)
    return table(rows, ["dataset", "graphs/batch", "collate graphs/s", "collate+to_dgl graphs/s",
                        "dgl.batch graphs/s", "collate / dgl.batch",
                        "(collate+to_dgl) / dgl.batch"])


LIBRARY_ARMS = ("collate", "pyg", "pyg+convert", "dgl", "dgl+convert")


def _library_arms(store, batches, datas: list, graphs: list) -> dict:
    """One pass over ``batches`` per arm (see the module docstring, table 3); ``datas`` and
    ``graphs``: one PyG ``Data`` and one ``DGLGraph`` per graph of ``store``."""
    from torch_geometric.data import Batch

    from bench_lib.strategies.interop import graph_batch_from_dgl, graph_batch_from_pyg

    dgl = import_dgl()

    def ours():
        for b in batches:
            collate(store, b)

    def pyg(convert: bool):
        for b in batches:
            batch = Batch.from_data_list([datas[i] for i in b])
            if convert:
                graph_batch_from_pyg(batch, graph_index=b)

    def dgl_batch(convert: bool):
        for b in batches:
            g = dgl.batch([graphs[i] for i in b])
            if convert:
                graph_batch_from_dgl(g, None, graph_index=b)

    return {"collate": ours, "pyg": lambda: pyg(False), "pyg+convert": lambda: pyg(True),
            "dgl": lambda: dgl_batch(False), "dgl+convert": lambda: dgl_batch(True)}


def against_libraries(args) -> tuple[str, dict]:
    """Table 3 and its records."""
    rows, records = [], []
    for name, kw in (("nci5k", {}), ("qm9", {"n_graphs": 5000}),
                     ("hydronet-like", {"n_graphs": 5000})):
        from bench_lib.strategies.interop import pyg_graphs

        store = load_dataset(name, **kw)
        datas, graphs = pyg_graphs(store), dgl_graphs(store)
        for batch_graphs in (32, 128):
            order = np.random.default_rng(0).permutation(store.n_graph)
            batches = [order[i:i + batch_graphs] for i in range(0, len(order), batch_graphs)]
            arms = _library_arms(store, batches, datas, graphs)
            for fn in arms.values():
                fn()  # warm-up
            rates = {a: [] for a in LIBRARY_ARMS}
            for r in range(args.repeats):
                turn = LIBRARY_ARMS[r % len(LIBRARY_ARMS):] + LIBRARY_ARMS[:r % len(LIBRARY_ARMS)]
                for arm in turn:
                    t = time.perf_counter()
                    arms[arm]()
                    rates[arm].append(store.n_graph / (time.perf_counter() - t))
            ratio = {a: statistics.median(c / o for c, o in zip(rates["collate"], rates[a]))
                     for a in LIBRARY_ARMS[1:]}
            records.append({"dataset": name, "graphs": store.n_graph, "batch_graphs": batch_graphs,
                            "repeats": args.repeats, "rates": rates, "collate_over": ratio})
            med = {a: statistics.median(v) for a, v in rates.items()}
            rows.append([name, str(batch_graphs)] + [f"{med[a]:,.0f}" for a in LIBRARY_ARMS]
                        + [f"{ratio[a]:.1f}x" for a in LIBRARY_ARMS[1:]])
            print(f"  {name} x{batch_graphs}: " + ", ".join(f"{a} {ratio[a]:.1f}x" for a in ratio),
                  file=sys.stderr)
    text = table(rows, ["dataset", "graphs/batch"] + [f"{a} graphs/s" for a in LIBRARY_ARMS]
                 + [f"collate / {a}" for a in LIBRARY_ARMS[1:]])
    worst = {a: min(r["collate_over"][a] for r in records) for a in LIBRARY_ARMS[1:]}
    return text, {"records": records, "smallest_ratio": worst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hydronet", default=str(HYDRONET), help="HydroNet size histogram JSON")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-ffd-hydronet", action="store_true",
                        help="FFD on 4.46M graphs takes minutes")
    parser.add_argument("--part", choices=("all", "libraries"), default="all",
                        help="libraries: table 3 alone (no histogram file needed)")
    parser.add_argument("--out", help="with --part libraries: write libraries.md and "
                                      "libraries.json here")
    args = parser.parse_args()
    if not dgl_available():  # every part times bench_lib's collate against DGL's dgl.batch
        print(
            f"error: benchmarks/foundation.py compares against dgl.batch: {dgl_missing_reason()}; "
            "run it on DGL's stack: make install-dgl, then "
            ".venv-dgl/bin/python benchmarks/foundation.py", file=sys.stderr)
        return 2
    if args.part == "libraries":
        text, data = against_libraries(args)
        command = " ".join(["python benchmarks/foundation.py", *sys.argv[1:]])
        from bench_lib.harness.environment import environment

        env = environment()
        head = ((f"# Collation against PyG and DGL\n\n`{command}` on {env.get('cpu', '?')}, "
                 f"{args.repeats} repeats, arms in turns (see the docstring of "
                 f"benchmarks/foundation.py, table 3). A ratio is bench_lib's collate rate over "
                 f"the arm's, the median over repeats of the ratio within a repeat.\n\n"))
        worst = ", ".join(f"{a} {v:.1f}x" for a, v in data["smallest_ratio"].items())
        body = head + text + f"\n\nSmallest ratio over datasets and batch sizes: {worst}.\n"
        print(body)
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "libraries.md").write_text(body)
            (out / "libraries.json").write_text(json.dumps({"command": command, "environment": env,
                                                            **data}, indent=1) + "\n")
        return 0
    if not Path(args.hydronet).exists():
        parser.error(f"--hydronet: {args.hydronet} not found (it ships in ../shared/data/)")
    print("## Planning\n\n" + planning(args) + "\n")
    print("## Collation\n\n" + collation(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
