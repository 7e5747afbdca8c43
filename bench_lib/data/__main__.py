"""``python -m bench_lib.data stats NAME... [options]``: dataset statistics.

Examples::

    python -m bench_lib.data stats nci5k qm9
    python -m bench_lib.data stats ogbg-molhiv --data-dir /data/ogb
    python -m bench_lib.data stats hydronet-like --n-graphs 100000
    python -m bench_lib.data stats xyz:clusters/ --option cutoff=5.0
"""

from __future__ import annotations

import argparse
import ast
import sys
import time

from bench_lib.config import DATA_DIR_DATASETS
from bench_lib.data import load_dataset
from bench_lib.data.stats import format_stats, size_stats


def _option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option takes KEY=VALUE (got {text!r})")
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench_lib.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    stats = sub.add_parser("stats", help="size and sparsity statistics per dataset")
    stats.add_argument("names", nargs="+", help="dataset names, or csv:/sdf:/xyz:PATH")
    stats.add_argument("--n-graphs", type=int, default=None, help="a seeded subset (generated size for hydronet-like)")
    stats.add_argument("--seed", type=int, default=0)
    stats.add_argument("--data-dir", default=None, help="root of downloaded datasets (OGB layout and others)")
    stats.add_argument("--option", type=_option, action="append", default=[], help="KEY=VALUE source option")
    args = parser.parse_args(argv)
    rows, notes = {}, []
    for name in args.names:
        options = dict(args.option)
        if args.data_dir and name in DATA_DIR_DATASETS:
            options["data_dir"] = args.data_dir
        t = time.perf_counter()
        try:
            store = load_dataset(name, n_graphs=args.n_graphs, seed=args.seed, **options)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {name}: {err}", file=sys.stderr)
            return 2
        rows[name] = size_stats(store.n_node, store.n_edge)
        notes.append(f"{name}: {len(store.meta.skipped)} input(s) skipped, loaded in {time.perf_counter() - t:.1f} s")
    print(format_stats(rows))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
