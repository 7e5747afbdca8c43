"""``bench-lib data stats NAME... [options]`` (or ``python -m bench_lib.data``): dataset statistics.

Examples::

    python -m bench_lib.data stats nci5k qm9
    python -m bench_lib.data stats ogbg-molhiv --data-dir /data/ogb
    python -m bench_lib.data stats hydronet-like --n-graphs 100000
    python -m bench_lib.data stats xyz:clusters/ --option cutoff=5.0
    python -m bench_lib.data stats csv:BBBP.csv --option target_columns=p_np --skipped
    python -m bench_lib.data standin-molpcba /tmp/ogb     # an offline stand-in, not OGB's data
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_lib.parsing import Parser, prog
from bench_lib.data import DATA_DIR_DATASETS
from bench_lib.data import load_dataset, parse_option
from bench_lib.data.stats import format_stats, size_stats


def skipped_table(name: str, skipped) -> str:
    """Every skipped record of ``name``: file line (1-based), ID and reason, as a Markdown table."""
    if not skipped:
        return f"{name}: no record skipped"
    lines = [f"{name}: {len(skipped)} skipped record(s)", "", "| line | id | reason |",
             "|---:|---|---|"]
    for s in skipped:
        where = s.get("line", "?")
        if s.get("file"):
            where = f"{s['file']}:{where}"
        ident = str(s.get("id") or s.get("smiles") or "")
        reason = str(s.get("reason", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {where} | {ident.replace('|', '/')} | {reason} |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    """The command line: ``stats NAME...`` and ``standin-molpcba ROOT``."""
    parser = Parser(prog=prog("python -m bench_lib.data"), description="Dataset statistics.",
                    epilog="examples:\n" + "\n".join(
                        "  " + line.strip()
                        for line in __doc__.split("::")[1].strip().splitlines()),
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    stats = sub.add_parser("stats", help="size and sparsity statistics per dataset")
    stats.add_argument("names", nargs="+", help="dataset names, or csv:/sdf:/xyz:PATH")
    stats.add_argument("--n-graphs", type=int, default=None,
                       help="a seeded subset (generated size for hydronet-like)")
    stats.add_argument("--seed", type=int, default=0)
    stats.add_argument("--data-dir", default=None,
                       help="root of downloaded datasets (OGB layout and others)")
    stats.add_argument("--option", type=parse_option, action="append", default=[],
                       help="KEY=VALUE source option")
    stats.add_argument("--target", action="append", default=None, metavar="COL",
                       help="target column(s) of a csv:/sdf: file (as the suite's --target)")
    stats.add_argument("--smiles-column", metavar="COL", help="SMILES column of a csv: file")
    stats.add_argument("--id-column", metavar="COL", help="ID column of a csv: file")
    stats.add_argument("--skipped", action="store_true",
                       help="list every skipped input record: file line, ID and reason")
    standin = sub.add_parser("standin-molpcba",
                             help="write a stand-in ogbg-molpcba in OGB's layout (RDKit's NCI "
                             "molecules, labels computed by RDKit; see bench_lib.data.ogb_layout), "
                                  "not OGB's data")
    standin.add_argument("root", help="the data root to write it under (then --data-dir ROOT)")
    standin.add_argument("--n-molecules", type=int, default=5000)
    standin.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; the exit status (2 when a dataset cannot be loaded)."""
    args = _parser().parse_args(argv)
    if args.command == "standin-molpcba":
        from bench_lib.data.ogb_layout import standin_molpcba

        t = time.perf_counter()
        where = standin_molpcba(args.root, args.n_molecules, args.seed)
        print(f"wrote {where} in {time.perf_counter() - t:.1f} s: a stand-in, not OGB's data (see "
              f"{where / 'STANDIN.txt'})", file=sys.stderr)
        return 0
    rows, notes, skipped_lines = {}, [], []
    for name in args.names:
        options = dict(args.option)
        if args.target:
            options["target_columns"] = [t.strip() for text in args.target for t in text.split(",")
                                         if t.strip()]
        for key in ("smiles_column", "id_column"):
            if getattr(args, key):
                options[key] = getattr(args, key)
        if args.data_dir and name in DATA_DIR_DATASETS:
            options["data_dir"] = args.data_dir
        t = time.perf_counter()
        try:
            store = load_dataset(name, n_graphs=args.n_graphs, seed=args.seed, **options)
        except (ValueError, OSError, ImportError) as err:
            print(f"error: {name}: {err}", file=sys.stderr)
            return 2
        rows[name] = size_stats(store.n_node, store.n_edge)
        note = store.meta.params.get("note")
        notes.append(f"{name}: {len(store.meta.skipped)} of {store.meta.n_input} input(s) skipped"
                     + (f"; {note}" if note else "")
                     + f"; loaded in {time.perf_counter() - t:.1f} s")
        if args.skipped:
            skipped_lines.append(skipped_table(name, store.meta.skipped))
    print(format_stats(rows))
    for table in skipped_lines:
        print()
        print(table)
    for note in notes:
        print(note, file=sys.stderr)
    return 0

