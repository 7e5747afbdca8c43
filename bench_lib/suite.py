"""``python -m bench_lib.suite``: run the default suite on the embedded datasets.

This first suite measures the input pipeline of every registered strategy
(plan + collate + ``to_dgl``, no model): real graphs/s, padded vs real
nodes/s, node and edge efficiency and the bytes spent on padding, at one
node budget per step per dataset. It writes ``results/<suite>/loader.csv``
plus ``environment.json`` and prints the table. Model training cells
(time-to-accuracy) come with the training harness.

Example::

    python -m bench_lib.suite                       # nci5k + a 10k-graph qm9 subset
    python -m bench_lib.suite --datasets nci5k --strategies pad,pack-lpfhp
    python -m bench_lib.suite --list
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_lib import __version__
from bench_lib.data import DATASETS, load_dataset, split_indices
from bench_lib.harness.loader_bench import measure_loader
from bench_lib.strategies import STRATEGIES

#: Per dataset: subset size and the real-node budget per step. Packers use
#: ``pack_nodes``-node packs, ``budget // pack_nodes`` packs per step.
DEFAULT_CELLS = {
    "nci5k": {"n_graphs": None, "node_budget": 512, "pack_nodes": 128, "graphs_per_step": 32},
    "qm9": {"n_graphs": 10_000, "node_budget": 576, "pack_nodes": 36, "graphs_per_step": 32},
}


def strategy_params(name: str, cell: dict) -> dict:
    """Parameters that put strategy ``name`` at the cell's node budget."""
    if name in ("pad", "dynamic"):
        return {"batch_graphs": cell["graphs_per_step"]}
    if name == "dynamic-budget":
        return {"max_nodes": cell["node_budget"]}
    if name.startswith("pack-"):
        return {"max_nodes": cell["pack_nodes"], "packs_per_batch": cell["node_budget"] // cell["pack_nodes"]}
    return {}


def environment() -> dict:
    import torch

    def version(mod: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(mod)
        except Exception:
            return None

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "bench_lib": __version__, "git_commit": commit, "python": platform.python_version(),
        "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "packages": {m: version(m) for m in ("torch", "dgl", "numpy", "scipy", "pandas", "rdkit", "ogb")},
    }


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write all rows to a temporary file, then rename: never half a file."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def format_table(rows: list[dict]) -> str:
    cols = [("dataset", "{}"), ("strategy", "{}"), ("graphs_per_s", "{:,.0f}"), ("padded_nodes_per_s", "{:,.0f}"),
            ("node_efficiency", "{:.3f}"), ("edge_efficiency", "{:.3f}"), ("graphs_per_batch_mean", "{:.1f}"),
            ("padding_mib_per_epoch", "{:.2f}"), ("prepare_s", "{:.3f}"), ("status", "{}")]
    body = [[fmt.format(r[c]) if r.get(c) not in (None, "") else "-" for c, fmt in cols] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, (c, _) in enumerate(cols)]
    line = lambda cells: "| " + " | ".join(x.rjust(w) for x, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line([c for c, _ in cols]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(b) for b in body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench_lib.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="nci5k,qm9", help="comma-separated (default: %(default)s)")
    parser.add_argument("--strategies", default=None, help="comma-separated (default: every registered one)")
    parser.add_argument("--qm9-graphs", type=int, default=DEFAULT_CELLS["qm9"]["n_graphs"],
                        help="qm9 subset size (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per cell, the first a warm-up (default: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/default"), help="results directory")
    parser.add_argument("--list", action="store_true", help="print datasets and strategies, then exit")
    args = parser.parse_args(argv)

    if args.list:
        print("datasets:  ", ", ".join(sorted(DATASETS)))
        print("strategies:", ", ".join(f"{n} ({'static' if STRATEGIES.get(n).static_shape else 'dynamic'})"
                                       for n in STRATEGIES.names()))
        return 0
    datasets = [d for d in args.datasets.split(",") if d]
    strategies = args.strategies.split(",") if args.strategies else STRATEGIES.names()
    for d in datasets:
        if d not in DATASETS:
            parser.error(f"--datasets: unknown dataset {d!r}; known: {', '.join(sorted(DATASETS))}")
    for s in strategies:
        if s not in STRATEGIES.names():
            parser.error(f"--strategies: unknown strategy {s!r}; known: {', '.join(STRATEGIES.names())}")
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (got {args.epochs})")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "environment.json").write_text(json.dumps(environment(), indent=1))
    rows: list[dict] = []
    n_cells, done, start = len(datasets) * len(strategies), 0, time.perf_counter()
    for d in datasets:
        cell = dict(DEFAULT_CELLS.get(d, DEFAULT_CELLS["nci5k"]))
        if d == "qm9":
            cell["n_graphs"] = args.qm9_graphs
        print(f"loading {d} ...", file=sys.stderr, flush=True)
        store = load_dataset(d, n_graphs=cell["n_graphs"], seed=args.seed)
        train = split_indices(store.n_graph, seed=args.seed)["train"]
        for s in strategies:
            done += 1
            params = strategy_params(s, cell)
            print(f"[{done}/{n_cells}] {d} {s} {params} ({time.perf_counter() - start:.0f} s elapsed)",
                  file=sys.stderr, flush=True)
            row = {"dataset": d, "n_graphs": len(train), "strategy": s, "params": json.dumps(params),
                   "node_budget": cell["node_budget"], "seed": args.seed}
            try:
                row.update(measure_loader(store, STRATEGIES.create(s, **params), train, args.seed, args.epochs))
                row["status"], row["error"] = "ok", ""
            except Exception as err:  # a failing cell is recorded, the suite goes on
                row["status"], row["error"] = "failed", f"{type(err).__name__}: {err}"
            rows.append(row)
            write_csv(args.out / "loader.csv", rows)
    print(format_table(rows))
    print(f"\nwrote {args.out / 'loader.csv'} and {args.out / 'environment.json'}", file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
