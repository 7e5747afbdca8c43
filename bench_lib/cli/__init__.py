"""``bench-lib COMMAND ...``: the package's command lines under one console command.

Each subcommand is the command of the same name, with the same flags; the ``python -m`` forms
(``python -m bench_lib.suite``, ``python -m bench_lib.report``, ``python -m bench_lib.report
compare``, ``python -m bench_lib.advise``, ``python -m bench_lib.data``, ``python -m
bench_lib.models``) keep working.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["COMMANDS", "main"]

#: subcommand -> (module, function, what it does)
COMMANDS = {
    "suite": ("bench_lib.suite", "main",
              "run a benchmark suite (every strategy on the same GNN), then its report"),
    "report": ("bench_lib.report.__main__", "main",
               "regenerate a report from a results directory alone"),
    "compare": ("bench_lib.report.__main__", "compare_main",
                "compare two runs, cell by cell or by ratios"),
    "advise": ("bench_lib.advise", "main",
               "which batching strategy to use on one dataset, in minutes"),
    "data": ("bench_lib.cli.data", "main", "dataset statistics (sizes, sparsity, skipped records)"),
    "models": ("bench_lib.cli.models", "main",
               "the registered models, and the batching check alone"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {what}" for name, (_, _, what) in COMMANDS.items())
    return (f"usage: bench-lib COMMAND [ARGS...]\n\nThe package's command lines under one console "
            f"command.\n\ncommands:\n{rows}\n\n'bench-lib COMMAND --help' shows a command's "
            f"flags.\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--version"]:
        from bench_lib import __version__

        print(f"bench-lib {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; known: {', '.join(COMMANDS)} (see bench-lib "
              f"--help)",
              file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[name]
    from bench_lib.parsing import INVOKED_AS

    INVOKED_AS.append(f"bench-lib {name}")  # its usage line names the command as typed
    try:
        return getattr(importlib.import_module(module), function)(rest)
    finally:
        INVOKED_AS.pop()
