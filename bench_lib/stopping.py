"""Ctrl-C and SIGTERM alike for a long command (the suite): the first signal stops it where it
stands, a second ends the process at once.

The first raises :class:`Stop` in the main thread, wherever it waits: the runner's cleanup then ends
the running workers (their ranks and temporary folders too) without recording them, and every record
already written stays whole (each is one ``write``). The handlers are installed even where the shell
set SIGINT to be ignored, as it does for a job started with ``&``, so that ``kill -INT`` stops the
suite as SIGTERM does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

__all__ = ["Stop", "stop_on_signals", "stopped"]


class Stop(BaseException):
    """The command was asked to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []  # the signals received so far by the command that runs


def _on_signal(signum: int, frame) -> None:
    if _received:
        # a second signal: at once (the workers exit when they see the suite gone)
        os._exit(128 + signum)
    _received.append(signum)
    # os.write, not print: the main thread may be inside a write to stderr (a reentrant print
    # raises)
    os.write(
        2, (f"\n{signal.Signals(signum).name}: stopping (no new cell starts, running cells are "
            f"ended, records are kept); again to end at once\n").encode())
    raise Stop(signum)


@contextlib.contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise :class:`Stop` inside the block (main thread only; elsewhere a
    no-op); the former handlers come back after it. Yields a list the command appends its results
    folder to."""
    where: list[Path] = []
    if threading.current_thread() is not threading.main_thread():
        yield where
        return
    _received.clear()
    former = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield where
    finally:
        for sig, handler in former.items():
            signal.signal(sig, handler)


def stopped(stop: Stop, records: Path | None) -> int:
    """Say what a stopped command kept and that the same command resumes; its exit status, 128 +
    signal."""
    if records is not None and records.exists() and records.stat().st_size:
        import pandas as pd

        kept = pd.read_csv(records, usecols=["cell_id"]).cell_id.nunique()
        print(
            f"stopped by {stop}: {kept} cell record(s) kept in {records}; the same command resumes "
            f"with the cells not recorded yet", file=sys.stderr)
    else:
        print(f"stopped by {stop} before any cell ran: nothing new was recorded", file=sys.stderr)
    return 128 + stop.signum
