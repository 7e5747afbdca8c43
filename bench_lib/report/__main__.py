"""``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_lib.report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench_lib.report",
                                     description="Regenerate a report from a results directory alone.")
    parser.add_argument("results", type=Path, help="a suite's results directory (records.csv ...)")
    parser.add_argument("--out", type=Path, help="report directory (default: reports/<results dir name>)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.results, args.out or Path("reports") / args.results.name)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
