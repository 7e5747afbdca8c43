"""What a long command says while it works, on stderr.

- :class:`Progress`: a suite's run as :func:`bench_lib.harness.runner.run_group` reports it (cells
  going through their phases and ending), with the time left.
- :func:`phase` and :class:`Heartbeat`: the phases before any cell runs (loading data, the batching
  check, planning, reading earlier records, advise's calibration). A phase that lasts 2 s is
  printed with the time since the command began, and again every 8 s while it lasts: nothing is
  silent for 10 s, and a quick command (a bad input answered at once) prints nothing but its answer.

How the time left is estimated: from the first group's end on, each group still to run is priced at
the seconds per cell that the groups of its kind (dataset and model) took so far, or, for a kind not
timed yet, at the mean over the groups done; the group that is running is priced the same, less the
time it has run. The suite runs the first group of each kind early (:func:`kinds_first`), so that
every kind is priced from its own groups after a few groups; until the first group ends the line
says "~? left".
"""

from __future__ import annotations

import sys
import threading
import time

from bench_lib.schema import CellSpec

__all__ = ["Progress", "Heartbeat", "phase", "kinds_first"]


def _clock(s: float) -> str:
    return "?" if s != s else f"{int(s) // 60}:{int(s) % 60:02d}"


def _kind(cells: list[CellSpec]) -> tuple:
    return (cells[0].dataset, cells[0].model, cells[0].repeats > 0)


def kinds_first(groups: list[list[CellSpec]]) -> list[list[CellSpec]]:
    """``groups`` reordered so that the first group of each kind (dataset, model, timed or
    train-only) runs before the second of any kind: the time left is then priced from every kind's
    own groups early on."""
    seen: dict[tuple, int] = {}
    rank = []
    for k, g in enumerate(groups):
        kind = _kind(g)
        rank.append((seen.get(kind, 0), k))
        seen[kind] = seen.get(kind, 0) + 1
    return [groups[k] for _, k in sorted(rank)]


class Progress:
    """A progress line on a terminal, plain log lines elsewhere (stderr).

    Each finished cell gets a line of its own; the phases in between (setup,
    timed repeats, training) overwrite one line on a terminal and are logged
    line by line elsewhere. ``groups``: the groups the run will take, in order (for the time
    left)."""

    def __init__(self, total: int, stream=None, groups: list[list[CellSpec]] | None = None) -> None:
        # the one of the moment (a test may have swapped it)
        stream = sys.stderr if stream is None else stream
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.group = ""
        self.plan = [(_kind(g), len(g)) for g in groups or []]
        self.k = -1  # the group running (index into plan)
        self.group_start = self.start
        self.rates: dict[tuple, list[float]] = {}  # seconds per cell of the groups done, by kind

    def _left(self) -> float:
        if not self.rates or self.k < 0:
            return float("nan")
        every = [r for rs in self.rates.values() for r in rs]
        def price(kind, n):
            return n * (lambda rs: sum(rs) / len(rs))(self.rates.get(kind, every))
        running = price(*self.plan[self.k]) - (time.perf_counter() - self.group_start)
        return max(0.0, running) + sum(price(kind, n) for kind, n in self.plan[self.k + 1:])

    def _times(self) -> str:
        return f"{_clock(time.perf_counter() - self.start)} elapsed, ~{_clock(self._left())} left"

    def _end_group(self) -> None:
        if 0 <= self.k < len(self.plan):
            kind, n = self.plan[self.k]
            self.rates.setdefault(kind, []).append((time.perf_counter() - self.group_start)
                                                   / max(n, 1))

    def begin_group(self, k: int, n: int, cells: list[CellSpec]) -> None:
        self._end_group()
        self.k, self.group_start = (k - 1 if self.plan else -1), time.perf_counter()
        c = cells[0]
        self.group = f"group {k}/{n} {c.dataset}/{c.model}/seed{c.seed}"
        self._line(f"{self.group}: {len(cells)} cell(s)", keep=True)

    def note(self, text: str) -> None:
        self._line(f"{self.group}: {text}", keep=not self.tty)

    def cell_done(self, spec: CellSpec, record: dict) -> None:
        self.done += 1
        status = record["status"]
        first = str(record["error"]).splitlines()[0] if record["error"] else ""
        self._line(f"[{self.done}/{self.total}] {spec.label()}: {status}"
                   + (f" ({first})" if first else ""),
                   keep=True)

    def _line(self, text: str, keep: bool) -> None:
        text = f"{text} | {self._times()}"
        if self.tty:
            self.stream.write("\r" + (text if keep else text[:160].ljust(160))
                              + ("\n" if keep else ""))
        elif keep:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._end_group()
        if self.tty:
            self.stream.write("\n")


class Heartbeat:
    """Prints the phase set by :func:`phase` once it has lasted ``quiet_s``, then every ``every_s``
    while it lasts, each line ``[m:ss] phase`` with the time since the command began (a thread of
    its own)."""

    def __init__(self, stream=None, quiet_s: float = 2.0, every_s: float = 8.0) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.quiet_s, self.every_s = quiet_s, every_s
        self.start = _BEGUN  # the command's start: one clock for all its heartbeats
        self.text, self.since, self.said = "", time.monotonic(), None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="bench_lib_heartbeat")

    def __enter__(self) -> "Heartbeat":
        _current.append(self)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        _current.remove(self)
        self.thread.join()

    def set(self, text: str) -> None:
        with self.lock:
            self.text, self.since, self.said = text, time.monotonic(), None

    def _beat(self) -> None:
        while not self.stopped.wait(0.25):
            with self.lock:
                now = time.monotonic()
                due = (self.said is None and now - self.since >= self.quiet_s) or \
                      (self.said is not None and now - self.said >= self.every_s)
                if not (self.text and due):
                    continue
                again = f" (still, {now - self.since:.0f} s)" if self.said is not None else ""
                self.said = now
                line = f"[{_clock(now - self.start)}] {self.text}{again}"
            print(line, file=self.stream, flush=True)


_current: list[Heartbeat] = []
_BEGUN = time.monotonic()  # about when the command began (this module is imported at its start)


def phase(text: str) -> None:
    """Name what the command is doing now (shown by the heartbeat if it lasts; nothing without
    one)."""
    if _current:
        _current[-1].set(text)
