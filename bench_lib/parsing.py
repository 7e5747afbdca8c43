"""The argument parser every command line of bench_lib shares: a bad flag is one ``error:`` line and
exit status 2, as a bad setting is, with no usage dump."""

from __future__ import annotations

import argparse

__all__ = ["Parser", "prog", "add_table_flags"]

#: How the running command was invoked, when ``bench-lib SUBCOMMAND`` runs it (set by
#: :mod:`bench_lib.cli`); empty: as ``python -m ...``.
INVOKED_AS: list[str] = []


def prog(python_m: str) -> str:
    """A command's name in its usage line: ``bench-lib SUBCOMMAND`` when run so, else
    ``python_m``."""
    return INVOKED_AS[-1] if INVOKED_AS else python_m


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one error: line, exit status 2, no usage dump
        self.exit(2, f"error: {message} (see --help)\n")


def add_table_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a csv: table's columns, as the suite and advise take them."""
    parser.add_argument("--smiles-column", metavar="COL",
                        help="SMILES column of a csv: dataset (default: guessed)")
    parser.add_argument("--id-column", metavar="COL",
                        help="ID column of a csv: dataset, to name skipped rows")
