"""The progress of a suite's run on stderr (:class:`Progress`: what
:func:`bench_lib.harness.runner.run_group` reports as cells go through their phases and end)."""

from __future__ import annotations

import sys
import time

from bench_lib.harness.cell import CellSpec

__all__ = ["Progress"]


class Progress:
    """A progress line on a terminal, plain log lines elsewhere (stderr).

    Each finished cell gets a line of its own; the phases in between (setup,
    timed repeats, training) overwrite one line on a terminal and are logged
    line by line elsewhere."""

    def __init__(self, total: int, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # the one of the moment (a test may have swapped it)
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.group = ""

    def _times(self) -> str:
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        fmt = lambda s: "?" if s != s else f"{int(s) // 60}:{int(s) % 60:02d}"  # noqa: E731
        return f"{fmt(elapsed)} elapsed, ~{fmt(left)} left"

    def begin_group(self, k: int, n: int, cells: list[CellSpec]) -> None:
        c = cells[0]
        self.group = f"group {k}/{n} {c.dataset}/{c.model}/seed{c.seed}"
        self._line(f"{self.group}: {len(cells)} cell(s)", keep=True)

    def note(self, text: str) -> None:
        self._line(f"{self.group}: {text}", keep=not self.tty)

    def cell_done(self, spec: CellSpec, record: dict) -> None:
        self.done += 1
        status = record["status"]
        first = str(record["error"]).splitlines()[0] if record["error"] else ""
        self._line(f"[{self.done}/{self.total}] {spec.label()}: {status}" + (f" ({first})" if first else ""),
                   keep=True)

    def _line(self, text: str, keep: bool) -> None:
        text = f"{text} | {self._times()}"
        if self.tty:
            self.stream.write("\r" + (text if keep else text[:160].ljust(160)) + ("\n" if keep else ""))
        elif keep:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
