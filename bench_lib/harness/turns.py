"""The timed turns of a group: every live cell one window per turn, the first cell rotating; with
:class:`Decide`, more turns while a verdict is undecided.

A cell here is anything with ``alive``, ``spec`` (``repeats``, ``windows``, ``views``), ``rates``
(its windows' real graphs/s so far), ``turn_fields`` (what its record gets) and ``command(cmd,
**args)`` (the answer dict, or None when the cell ended): the runner's worker handle, or a test's
stand-in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

__all__ = ["Decide", "timed_turns"]


@dataclass(frozen=True)
class Decide:
    """Measure until decided: after a group's fixed turns, look at every verdict (each strategy
    against the leader of each view, :func:`bench_lib.verdicts.compare_turns`) and, while any is
    undecided, add as many turns again, up to ``looks`` looks in all or until the added turns have
    taken ``budget_s`` seconds. Looking as the data grows would inflate false verdicts; each look's
    verdicts are at a Bonferroni share ``alpha / looks`` (a fixed set of looks with alpha spent
    equally), and the report uses the same share for the cells' records (``decide_looks``)."""

    looks: int = 4
    budget_s: float = 600.0
    margin: float = 0.05

    def __post_init__(self) -> None:
        if self.looks < 2:
            raise ValueError(f"decide needs at least 2 looks (got {self.looks}): one look is the "
                             f"fixed turns alone")


def _turn(live: list, t: int, finish) -> None:
    """Turn ``t``: each of the ``live`` cells one window, the first cell rotating."""
    shift = t % len(live)
    for w in live[shift:] + live[:shift]:
        answer = w.command("window", repeat=t // w.spec.windows)
        if answer is None:
            finish(w)
        elif answer.get("rate") is not None:
            w.rates.append(float(answer["rate"]))


def timed_turns(workers: list, progress, finish, decide: Decide | None = None) -> None:
    """Turn ``t`` gives every live cell one window, the first cell rotating; with ``decide``, more
    turns follow while a verdict is undecided."""
    turns = max((w.spec.repeats * w.spec.windows for w in workers), default=0)
    start = time.perf_counter()
    for t in range(turns):
        live = [w for w in workers if w.alive and t < w.spec.repeats * w.spec.windows]
        if not live:
            break
        if t % max(1, live[0].spec.windows) == 0:
            progress.note(f"timed repeat {t // max(1, live[0].spec.windows) + 1} of "
                          f"{max(w.spec.repeats for w in live)} ({len(live)} cells in turns)")
        _turn(live, t, finish)
    if decide is None or turns == 0:
        return
    per_look, spent = time.perf_counter() - start, 0.0
    for look in range(1, decide.looks + 1):
        pending = _undecided([w for w in workers if w.alive], decide)
        for w in workers:
            if w.alive and w not in pending and "decided_turns" not in w.turn_fields:
                w.turn_fields["decided_turns"] = len(w.rates)
        if not pending or look == decide.looks:
            break
        if spent + per_look > decide.budget_s:
            progress.note(f"decide: {len(pending)} cell(s) undecided; {turns} more turns (about "
                          f"{per_look:.0f} s) would pass the budget of {decide.budget_s:g} s")
            break
        progress.note(f"decide: look {look} of {decide.looks}, {len(pending)} cell(s) undecided; "
                      f"{turns} more turns")
        t0 = time.perf_counter()
        for t in range(turns * look, turns * (look + 1)):
            live = [w for w in workers if w.alive]
            if not live:
                return
            _turn(live, t, finish)
        spent += time.perf_counter() - t0


def _undecided(live: list, decide: Decide) -> list:
    """The live cells with a verdict still undecided in one of their views at ``alpha / looks``."""
    from bench_lib.verdicts import ALPHA, compare_turns, pair_count

    pending: list = []
    views = dict.fromkeys(v for w in live for v in w.spec.views)
    for view in views:
        cells = [w for w in live if view in w.spec.views and len(w.rates) >= 2]
        if len(cells) < 2:
            continue
        n = min(len(w.rates) for w in cells)
        lead = max(cells, key=lambda w: sum(math.log(max(r, 1e-12)) for r in w.rates[:n]))
        undecided = []
        for w in cells:
            if w is lead:
                continue
            v = compare_turns([w.rates], [lead.rates], pairs=pair_count(len(cells)),
                              alpha=ALPHA / decide.looks,
                              margin=decide.margin)
            if v is None or not v.decided:
                undecided.append(w)
        pending += [w for w in undecided + ([lead] if undecided else []) if w not in pending]
    return pending
