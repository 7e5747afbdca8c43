"""The argument parser every command line of bench_lib shares: a bad flag is one ``error:`` line and
exit status 2, as a bad setting is, with no usage dump."""

from __future__ import annotations

import argparse

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one error: line, exit status 2, no usage dump
        self.exit(2, f"error: {message} (see --help)\n")
