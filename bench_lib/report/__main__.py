"""``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR] [--readme README.md]
[--routes PAGE]``,
or ``python -m bench_lib.report compare A B [--out FILE.md|FILE.html] [--match COLS]
[--relative-to STRATEGY] [--stacks PAGE]``.

Records that cluster jobs left under ``RESULTS_DIR/jobs/`` (``--launcher
slurm``) are merged into ``records.csv`` first, as a resumed run would."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_lib.parsing import prog
from bench_lib.report import readme_block, update_readme, write_report
from bench_lib.report.names import replace_block


def _compare_parser() -> argparse.ArgumentParser:
    from bench_lib.report.compare import MATCH
    from bench_lib.verdicts import MARGIN

    parser = argparse.ArgumentParser(prog=prog("python -m bench_lib.report compare"),
                                     description=("Compare two runs: cell by cell (B/A of graphs/s "
                                                  "with a verdict: faster, slower, equivalent or "
                                                  "undecided; peak RSS; steps to target), or, for "
                                                  "runs on two machines, each strategy's ratio to "
                                                  "a reference strategy within its own run "
                                                  "(--relative-to)."))
    parser.add_argument("a", type=Path, help="results directory A (the baseline)")
    parser.add_argument("b", type=Path, help="results directory B")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="also write the comparison here: Markdown, or a self-contained HTML "
                             "page with sortable tables when FILE ends in .html")
    parser.add_argument("--match", default=",".join(MATCH),
                        help=f"columns that identify a cell in both runs (default: "
                             f"{','.join(MATCH)})")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--relative-to", metavar="STRATEGY",
                     help="compare each strategy's graphs/s ratio to STRATEGY within its own run "
                          "(the default, with STRATEGY dynamic, when the two runs' machines "
                          "differ)")
    how.add_argument("--absolute", action="store_true",
                     help="compare absolute graphs/s cell by cell even when the machines differ")
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help="equivalence margin (default 0.05: ±5%%)")
    parser.add_argument("--stacks", type=Path, metavar="PAGE",
                        help="also rewrite this page's sentence on what moved between the two "
                             "runs' stacks (between its stacks:begin/end markers; "
                             "docs/benchmarks.md); needs --relative-to")
    return parser


def compare_main(argv: list[str]) -> int:
    from bench_lib.report.compare import compare_runs, comparison_markdown, same_machine, same_stack
    from bench_lib.report.html import markdown_page

    args = _compare_parser().parse_args(argv)
    relative = args.relative_to
    if relative is None and not args.absolute and (args.a / "records.csv").exists() \
            and (args.b / "records.csv").exists() and not (same_machine(args.a, args.b)
                                                           and same_stack(args.a, args.b)):
        relative = "dynamic"
        print("the two runs were measured on different machines or stacks (environment.json): "
              "comparing each strategy's ratio to `dynamic` within its run (--absolute for "
              "absolute graphs/s)", file=sys.stderr)
    try:
        comparison = compare_runs(args.a, args.b, tuple(args.match.split(",")), relative,
                                  args.margin)
        text = comparison_markdown(comparison)
        if args.stacks:
            from bench_lib.report.compare import stacks_block, update_stacks

            command = " ".join(["python -m bench_lib.report compare", str(args.a), str(args.b),
                                f"--relative-to {relative}",
                                *([f"--out {args.out}"] if args.out else []),
                                f"--stacks {args.stacks}"])
            update_stacks(args.stacks, stacks_block(comparison, command))
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown_page(text) if args.out.suffix.lower() == ".html" else text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    parser = argparse.ArgumentParser(prog=prog("python -m bench_lib.report"),
                                     description="Regenerate a report from a results directory "
                                                 "alone.",
                                     epilog="python -m bench_lib.report compare A B: run B against "
                                            "run A, cell by cell (see compare --help).")
    parser.add_argument("results", type=Path, help="a suite's results directory (records.csv ...)")
    parser.add_argument(
        "--out", type=Path, help="report directory, for report.md, report.html and the figures "
                                 "(default: reports/<results dir name>)")
    parser.add_argument("--readme", type=Path,
                        help="also rewrite this README's results block (between its "
                             "results:begin/end markers)")
    parser.add_argument("--routes", type=Path, metavar="PAGE",
                        help="also rewrite this page's pad-or-mark table of the run's compile "
                             "routes (between its routes:begin/end markers; docs/compile.md)")
    parser.add_argument("--methodology", type=Path, metavar="PAGE",
                        help="also rewrite this page's paragraph on how the report's intervals and "
                             "verdicts read (between its intervals:begin/end markers; "
                             "docs/methodology.md)")
    args = parser.parse_args(argv)
    out = args.out or Path("reports") / args.results.name
    try:
        if (args.results / "jobs").is_dir():
            from bench_lib.harness.launch import job_records, merge_job_records

            if job_records(args.results):
                counts = merge_job_records(args.results)
                print(f"merged job records: {counts['added']} added, {counts['replaced']} replaced "
                      f"a failure, {counts['already']} already recorded", file=sys.stderr)
        path = write_report(args.results, out)
        if args.readme:
            command = f"python -m bench_lib.report {args.results} --readme {args.readme}"
            link = Path(out).as_posix()
            update_readme(args.readme, readme_block(args.results, link, command))
        if args.methodology:
            from bench_lib.report.header import INTERVALS_BEGIN, INTERVALS_END, intervals_block

            replace_block(args.methodology, INTERVALS_BEGIN, INTERVALS_END, intervals_block(),
                          "intervals block")
        if args.routes:
            from bench_lib.report.routes import routes_block, update_routes

            command = f"python -m bench_lib.report {args.results} --routes {args.routes}"
            update_routes(args.routes, routes_block(args.results, command))
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
