"""Summaries over repeats and seeds that keep their uncertainty and their misses.

- :func:`bootstrap_median` : the median of repeats grouped by seed, and a
  percentile bootstrap interval of it that resamples seeds first, then
  repeats within each (so that what differs from one process to the next
  widens the interval); seeded, so a report is the same every time it is
  made from the same records.
- :func:`censored_median` : the median number of steps (or seconds) to a
  target over seeds, where a seed that never reached it counts as
  "more than anything seen" rather than being dropped (Kaplan-Meier).
- :func:`overlaps` : whether two intervals share any point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "bootstrap_median", "spread", "censored_median", "overlaps"]


@dataclass(frozen=True)
class Estimate:
    """A value with its interval ``[lo, hi]`` (``hi`` may be inf) and how it was made.

    Attributes:
      value: the estimate (NaN: none).
      lo, hi: its interval.
      n: how many values it summarises; k: how many of those count (seeds
        that reached the target, cells that ran), equal to ``n`` elsewhere.
      kind: ``ci95`` (bootstrap interval), ``range`` (min-max), ``censored``,
        ``total`` (a sum over seeds), ``count`` (k of n) or ``quantiles``
        (median with the 10th and 90th percentiles).
      seeds: how many seeds (processes) the values come from.
    """

    value: float
    lo: float
    hi: float
    n: int
    k: int
    kind: str
    seeds: int = 0

    @property
    def ok(self) -> bool:
        return not math.isnan(self.value)


NONE = Estimate(float("nan"), float("nan"), float("nan"), 0, 0, "range")


def bootstrap_median(groups, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Median of every value of ``groups`` (one list of repeats per seed) with
    a two-stage percentile-bootstrap interval at ``level``: each resample
    draws seeds with replacement, then repeats with replacement within each
    drawn seed. NaNs and empty groups are ignored; one value gives a point.
    """
    groups = [np.asarray([v for v in g if v == v], dtype=float) for g in groups]
    groups = [g for g in groups if len(g)]
    if not groups:
        return NONE
    x = np.concatenate(groups)
    med = float(np.median(x))
    if len(x) == 1:
        return Estimate(med, med, med, 1, 1, "ci95", 1)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        picked = [groups[i] for i in rng.integers(0, len(groups), size=len(groups))]
        boots[b] = np.median(np.concatenate([g[rng.integers(0, len(g),
                                                            size=len(g))] for g in picked]))
    lo, hi = np.percentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return Estimate(med, float(lo), float(hi), len(x), len(x), "ci95", len(groups))


def spread(values) -> Estimate:
    """Median over seeds with the min-max range of ``values`` (NaNs ignored)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return NONE
    return Estimate(float(np.median(x)), float(x.min()), float(x.max()), len(x), len(x), "range",
                    len(x))


def censored_median(values, reached) -> Estimate:
    """Median over seeds of a time-to-target, with misses counted.

    The Kaplan-Meier median: the smallest value by which at least half of
    the seeds had reached the target. A seed that missed it (censored at the
    step budget, which is beyond every value reached) counts in the half but
    never reaches, so the result is finite exactly when at least half of
    the seeds reached the target, otherwise NaN ("not reached"). With every
    seed reaching it, this is the lower of the two middle values for an even
    count, the same rule whether or not any seed missed. The interval runs
    from the fastest seed to the slowest, +inf when any seed missed; ``k``
    counts the seeds that reached it.
    """
    vals = [float(v) if r and v == v else math.inf for v, r in zip(values, reached)]
    n, k = len(vals), sum(1 for v in vals if math.isfinite(v))
    if n == 0 or 2 * k < n:
        return Estimate(float("nan"), float("nan"), float("nan"), n, k, "censored", n)
    s = sorted(vals)
    return Estimate(s[(n + 1) // 2 - 1], s[0], s[-1], n, k, "censored", n)


def overlaps(a: Estimate, b: Estimate) -> bool:
    """Whether the intervals of ``a`` and ``b`` share a point."""
    return a.lo <= b.hi and b.lo <= a.hi
