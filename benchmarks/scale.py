"""The seed paper's scale on one machine: all 4.46M hydronet-like water clusters.

    python benchmarks/scale.py [--n-graphs 4464740] [--out results/scale] [--cache DIR]

1. Builds the store into an empty cache folder (positions and species only;
   k-nearest-neighbour edges, k = 28 within a 6 A cutoff, built per batch) in
   a child process: build time, disk size, the builder's peak RSS and its
   worker processes' peak RSS.
2. Opens the built store in a fresh process (memory-mapped, spot checksums):
   open time.
3. One loader-only epoch over every cluster per packing strategy, each in a
   fresh process: plan time, then every batch collated with its neighbour
   graph (packs of 154 atoms, 16 packs per batch as in ``paper.toml``):
   graphs/s, real and padded nodes/s, edges built, peak RSS.
4. On the first ``--compare-graphs`` clusters, in one process and
   interleaved (best of ``--rounds``): the collater building k-NN graphs,
   the collater on the same clusters with stored edges, and ``dgl.batch`` of
   prebuilt ``DGLGraph`` objects of the same clusters with stored edges (the
   edges the k-NN graph keeps within the cutoff), at 16-pack and at one-pack
   batches of the same plan, each batch made and dropped as a loader does;
   graphs/s of each (best and range over rounds) and the ratio to
   ``dgl.batch`` (best, and its range over rounds, each round's two paths
   timed back to back).

Writes ``results.json`` and ``results.md`` into ``--out``; progress goes to
stderr. The cache folder is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tables import dgl_graphs, table  # noqa: E402  (benchmarks/_tables.py, beside this script)

FULL = 4_464_740
OPTIONS = {"subset": "full_4.5M", "cutoff": 6.0, "max_neighbors": 28, "edges": "knn"}
PACKERS = ("pack-lpfhp", "pack-cutstock", "pack-ffd")
#: Batches timed in one go before the comparison moves to the next path.
BLOCK = 8


def _peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def _child(stage: str, args: argparse.Namespace, *extra: str) -> dict:
    """Run one stage in a fresh interpreter; its JSON result is its last stdout line."""
    cmd = [sys.executable, __file__, "--stage", stage, "--n-graphs", str(args.n_graphs), "--cache",
           str(args.cache),
           "--pack-nodes", str(args.pack_nodes), "--packs-per-batch", str(args.packs_per_batch),
           "--compare-graphs", str(args.compare_graphs), "--rounds", str(args.rounds), *extra]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _load(args, **kw):
    from bench_lib.data import load_dataset

    return load_dataset("hydronet-like", n_graphs=args.n_graphs, seed=0, cache_dir=args.cache,
                        **OPTIONS, **kw)


def stage_build(args) -> dict:
    t = time.perf_counter()
    store = _load(args)
    build_s = time.perf_counter() - t
    files = [p for p in Path(args.cache).rglob("*") if p.is_file()]
    return {"build_s": build_s, "disk_bytes": sum(p.stat().st_size for p in files),
            "graphs": int(store.n_graph), "atoms": int(store.n_node.sum()),
            "edges": int(store.n_edge.sum()),
            "workers": min(4, os.cpu_count() or 1),
            "peak_rss_mib": _peak_rss_mib(),
            "worker_peak_rss_mib": _peak_rss_mib(resource.RUSAGE_CHILDREN)}


def stage_open(args) -> dict:
    t = time.perf_counter()
    store = _load(args)
    open_s = time.perf_counter() - t
    return {"open_s": open_s, "graphs": int(store.n_graph),
            "mapped": type(store.positions).__name__,
            "peak_rss_mib": _peak_rss_mib()}


def _loader(store, name: str, args, packs_per_batch: int):
    from bench_lib.strategies import STRATEGIES
    from bench_lib.strategies.loader import BatchLoader

    strategy = STRATEGIES.create(name, max_nodes=args.pack_nodes, packs_per_batch=packs_per_batch)
    return BatchLoader(store, strategy, seed=0)


def stage_epoch(args, strategy: str) -> dict:
    store = _load(args)
    t = time.perf_counter()
    loader = _loader(store, strategy, args, args.packs_per_batch)
    plan = loader.plan(0)
    plan_s = time.perf_counter() - t
    graphs = real_nodes = slots = edges = batches = 0
    t = last = time.perf_counter()
    for batch in loader.epoch(0):
        graphs += batch.n_real_graph
        real_nodes += int(batch.node_mask.sum())
        slots += len(batch.node_mask)
        edges += int(batch.edge_mask.sum())
        batches += 1
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            print(f"  {strategy}: {graphs:,} of {store.n_graph:,} graphs, "
                  f"{graphs / (last - t):,.0f} graphs/s",
                  file=sys.stderr, flush=True)
    epoch_s = time.perf_counter() - t
    if graphs != store.n_graph:
        raise RuntimeError(f"{strategy}: the epoch held {graphs} graphs, the store {store.n_graph}")
    return {"strategy": strategy, "plan_s": plan_s, "epoch_s": epoch_s, "batches": batches,
            "graphs": graphs,
            "graphs_per_s": graphs / epoch_s, "real_nodes_per_s": real_nodes / epoch_s,
            "slot_nodes_per_s": slots / epoch_s, "node_efficiency": real_nodes / slots,
            "edges_built": edges,
            "batch_shape": [plan.shape.n_node, plan.shape.n_edge, plan.shape.n_graph],
            "peak_rss_mib": _peak_rss_mib()}


def _interleaved_rounds(runs: dict, batches: list, rounds: int) -> dict[str, list[float]]:
    """Seconds each path took per round. Interleaved finely: a round goes through the batches in
    blocks of BLOCK, timing every path on each block in turn (the order rotating), so that a burst
    of load on this shared machine hits all paths."""
    secs = {k: [] for k in runs}
    for fn in runs.values():  # warm-up, not timed (numba's compile, first allocations)
        for b in batches[:20]:
            fn(b)
    labels = list(runs)
    for _ in range(rounds):
        spent = dict.fromkeys(labels, 0.0)
        for k, lo in enumerate(range(0, len(batches), BLOCK)):
            for label in labels[k % 3:] + labels[:k % 3]:
                fn = runs[label]
                t = time.perf_counter()
                for b in batches[lo:lo + BLOCK]:
                    fn(b)
                spent[label] += time.perf_counter() - t
        for label in labels:
            secs[label].append(spent[label])
    return secs


def stage_compare(args) -> dict:
    """Collater (k-NN built per batch), collater (stored edges) and dgl.batch (prebuilt graphs with
    the stored edges) on the same batches, interleaved every :data:`BLOCK` batches, ``rounds``
    times."""
    from bench_lib.data.water import build_hydronet_like
    from bench_lib.deps import dgl_available, dgl_missing_reason, import_dgl
    from bench_lib.strategies import STRATEGIES
    from bench_lib.strategies.collate import collate

    if not dgl_available():
        raise SystemExit(f"error: the compare stage times dgl.batch: {dgl_missing_reason()}; run "
                         "benchmarks/scale.py on DGL's stack (make install-dgl, then "
                         ".venv-dgl/bin/python)")
    dgl = import_dgl()
    n = args.compare_graphs
    knn = build_hydronet_like(n_graphs=n, seed=0, **OPTIONS)
    stored = build_hydronet_like(n_graphs=n, seed=0, **{**OPTIONS, "edges": "stored"})
    assert np.array_equal(knn.positions, stored.positions)
    graphs = dgl_graphs(stored)
    rows = []
    for packs in (args.packs_per_batch, 1):
        strategy = STRATEGIES.create("pack-cutstock", max_nodes=args.pack_nodes,
                                     packs_per_batch=packs)
        planner = strategy.prepare(knn.n_node, knn.n_edge, np.random.default_rng([0, 0]))
        plan = planner.plan_epoch(np.random.default_rng([0, 1, 0]))
        batches = list(plan.batches())
        shape_knn = plan.shape
        stored_plan = strategy.prepare(stored.n_node, stored.n_edge, np.random.default_rng([0, 0]))
        shape_stored = stored_plan.shape  # same packs (nodes only), its own edge slots
        runs = {  # each batch made and dropped, as a loader does
            "collate, k-NN built per batch": lambda b: collate(knn, b, shape_knn),
            "collate, stored edges": lambda b: collate(stored, b, shape_stored),
            "dgl.batch, prebuilt graphs": lambda b: dgl.batch([graphs[i] for i in b]),
        }
        secs = _interleaved_rounds(runs, batches, args.rounds)
        base = np.array(secs["dgl.batch, prebuilt graphs"])
        for label, times in secs.items():
            rate = n / np.array(times)
            ratio = base / np.array(times)  # per round, over the same blocks
            rows.append({"packs_per_batch": packs, "graphs_per_batch": n / len(batches),
                         "path": label,
                         "graphs_per_s": float(rate.max()),
                         "graphs_per_s_range": [float(rate.min()), float(rate.max())],
                         "vs_dgl_batch": float(base.min() / min(times)),
                         "vs_dgl_batch_median": float(np.median(ratio)),
                         "vs_dgl_batch_range": [float(ratio.min()), float(ratio.max())]})
    return {"graphs": n, "rounds": args.rounds, "block": BLOCK, "rows": rows}


def report(res: dict) -> str:
    b, o = res["build"], res["open"]
    lines = [f"# hydronet-like at {b['graphs']:,} clusters ({res['environment']})", "",
             f"Command: `{res['command']}`", "",
             "## Store (positions and species; k-NN edges built per batch)", "",
             table([[f"{b['graphs']:,}", f"{b['atoms']:,}", f"{b['edges']:,}",
                     f"{b['build_s']:.0f}",
                     f"{b['disk_bytes'] / 1e9:.2f}", f"{b['peak_rss_mib']:,.0f}",
                     f"{b['worker_peak_rss_mib']:,.0f} ({b['workers']} workers)",
                     f"{o['open_s']:.3f}"]],
                   ["clusters", "atoms", "k-NN edges", "build s", "disk GB", "build peak RSS MiB",
                    "worker peak RSS MiB", "open s"]), "",
             f"## Loader-only epoch over every cluster (packs of {res['pack_nodes']} atoms, "
             f"{res['packs_per_batch']} per batch; collate with per-batch k-NN graphs)", "",
             table([[e["strategy"], f"{e['plan_s']:.1f}", f"{e['epoch_s']:.0f}",
                     f"{e['batches']:,}",
                     f"{e['graphs_per_s']:,.0f}", f"{e['real_nodes_per_s']:,.0f}",
                     f"{e['slot_nodes_per_s']:,.0f}",
                     f"{e['node_efficiency']:.4f}", ", ".join(map(str, e["batch_shape"])),
                     f"{e['peak_rss_mib']:,.0f}"]
                    for e in res["epochs"]],
                   ["strategy", "plan s", "epoch s", "batches", "graphs/s", "real nodes/s",
                    "slot nodes/s",
                    "node efficiency", "batch shape (nodes, edges, graphs)", "peak RSS MiB"])]
    c = res["compare"]
    again = f" (run again: `{c['command']}`, finished {c['finished_at']})" if "command" in c else ""
    lines += ["", f"## Per-batch k-NN graphs against dgl.batch ({c['graphs']:,} clusters, "
                  f"pack-cutstock batches, {c['rounds']} rounds in one process, the paths "
                  f"interleaved every {c.get('block', '?')} batches){again}", "",
              table([[str(r["packs_per_batch"]), f"{r['graphs_per_batch']:.1f}", r["path"],
                      f"{r['graphs_per_s']:,.0f}",
                      "{:,.0f}-{:,.0f}".format(*r["graphs_per_s_range"]),
                      f"{r['vs_dgl_batch']:.2f}x",
                      f"{r['vs_dgl_batch_median']:.2f}x",
                      "{:.2f}-{:.2f}x".format(*r["vs_dgl_batch_range"])]
                     for r in c["rows"]],
                    ["packs per batch", "graphs per batch", "path", "graphs/s (best round)",
                     "graphs/s (range)",
                     "vs dgl.batch (best rounds)", "vs dgl.batch (median round)",
                     "vs dgl.batch (range of rounds)"])]
    knn = {r["packs_per_batch"]: r for r in c["rows"] if r["path"].startswith("collate, k-NN")}
    lines += ["", "Per round, per-batch k-NN graphs against dgl.batch: " + "; ".join(
        f"{p} pack{'s' if p > 1 else ''} per batch "
        f"{r['vs_dgl_batch_range'][0]:.2f}-{r['vs_dgl_batch_range'][1]:.2f}x "
        f"({'' if r['vs_dgl_batch_range'][0] > 1 else 'not '}faster in every round)"
        for p, r in knn.items()) + "."]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-graphs", type=int, default=FULL)
    p.add_argument("--out", type=Path, default=Path("results/scale"))
    p.add_argument("--cache", type=Path, default=None,
                   help="an empty folder for the store (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the built store")
    p.add_argument("--strategies", default=",".join(PACKERS))
    p.add_argument("--pack-nodes", type=int, default=154)
    p.add_argument("--packs-per-batch", type=int, default=16)
    p.add_argument("--compare-graphs", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only-compare", action="store_true",
                   help="run the comparison with dgl.batch again and keep the rest of --out's "
                        "results.json")
    p.add_argument("--stage", help=argparse.SUPPRESS)
    p.add_argument("--strategy", help=argparse.SUPPRESS)
    return p


def _write_results(res: dict, out: Path) -> None:
    """``results.json`` and ``results.md`` into ``out``; the report to stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results.md").write_text(report(res))
    print(report(res))


def compare_again(args: argparse.Namespace, argv) -> dict:
    """``--only-compare``: --out's results with the comparison against dgl.batch run again."""
    res = json.loads((args.out / "results.json").read_text())
    args.cache = Path(tempfile.mkdtemp(prefix="bench-lib-scale-"))
    try:
        res["compare"] = _child("compare", args)
    finally:
        shutil.rmtree(args.cache, ignore_errors=True)
    res["compare"]["command"] = "python benchmarks/scale.py " + " ".join(argv or sys.argv[1:])
    res["compare"]["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return res


def measure(args: argparse.Namespace, argv) -> dict:
    """Every stage, each in a fresh process, into ``args.cache`` (see the module docstring)."""
    from bench_lib.harness.environment import environment

    env = environment()
    res = {"command": "python " + " ".join([Path(__file__).as_posix().split("/")[-2] + "/scale.py",
                                            *(argv or sys.argv[1:])]),
           "environment": f"{env.get('cpu', '?')}, {env.get('cpu_count', '?')} CPUs, "
                          f"{env.get('memory_gib') or 0:.0f} GiB, python {env.get('python', '?')}",
           "n_graphs": args.n_graphs, "options": OPTIONS, "pack_nodes": args.pack_nodes,
           "packs_per_batch": args.packs_per_batch}
    print(f"building {args.n_graphs:,} clusters into {args.cache} ...", file=sys.stderr, flush=True)
    res["build"] = _child("build", args)
    print(f"  built in {res['build']['build_s']:.0f} s", file=sys.stderr, flush=True)
    res["open"] = _child("open", args)
    res["epochs"] = []
    for s in args.strategies.split(","):
        print(f"loader-only epoch: {s} ...", file=sys.stderr, flush=True)
        res["epochs"].append(_child("epoch", args, "--strategy", s))
    res["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print("collate against dgl.batch ...", file=sys.stderr, flush=True)
    res["compare"] = _child("compare", args)
    return res


def main(argv=None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    if args.stage:
        result = {"build": stage_build, "open": stage_open,
                  "compare": stage_compare}.get(args.stage)
        out = result(args) if result else stage_epoch(args, args.strategy)
        print(json.dumps(out))
        return 0
    if args.only_compare:
        _write_results(compare_again(args, argv), args.out)
        return 0
    made = args.cache is None
    args.cache = Path(tempfile.mkdtemp(prefix="bench-lib-scale-")) if made else args.cache
    if any(args.cache.iterdir()) if args.cache.exists() else False:
        p.error(f"--cache {args.cache} is not empty: the build must start from nothing to be timed")
    args.cache.mkdir(parents=True, exist_ok=True)
    try:
        res = measure(args, argv)
    finally:
        if made and not args.keep:
            shutil.rmtree(args.cache, ignore_errors=True)
    _write_results(res, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
