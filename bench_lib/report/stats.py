"""Summaries over repeats and seeds that keep their uncertainty and their misses.

- :func:`bootstrap_median` : the median of a sample and a percentile
  bootstrap interval of it (seeded, so a report is the same every time it
  is made from the same records).
- :func:`censored_median` : the median number of steps (or seconds) to a
  target over seeds, where a seed that never reached it counts as
  "more than anything seen" rather than being dropped.
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
        that reached the target), equal to ``n`` elsewhere.
      kind: ``ci95`` (bootstrap interval), ``range`` (min-max), ``censored``
        or ``total`` (a sum over seeds).
    """

    value: float
    lo: float
    hi: float
    n: int
    k: int
    kind: str

    @property
    def ok(self) -> bool:
        return not math.isnan(self.value)


NONE = Estimate(float("nan"), float("nan"), float("nan"), 0, 0, "range")


def bootstrap_median(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Median of ``values`` with a percentile-bootstrap interval at ``level``.

    With one value the interval is that value; NaNs are ignored.
    """
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return NONE
    med = float(np.median(x))
    if len(x) == 1:
        return Estimate(med, med, med, 1, 1, "ci95")
    rng = np.random.default_rng(seed)
    boots = np.median(x[rng.integers(0, len(x), size=(n_boot, len(x)))], axis=1)
    lo, hi = np.percentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return Estimate(med, float(lo), float(hi), len(x), len(x), "ci95")


def spread(values) -> Estimate:
    """Median with the min-max range of ``values`` (NaNs ignored)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return NONE
    return Estimate(float(np.median(x)), float(x.min()), float(x.max()), len(x), len(x), "range")


def censored_median(values, reached) -> Estimate:
    """Median over seeds of a time-to-target, with misses counted as +inf.

    Missed seeds sort above every reached one. The median is the middle
    value (for an even count, the mean of the two middle values when both
    are finite, else the lower one), so the result is finite exactly when
    at least half of the seeds reached the target; otherwise NaN ("not
    reached"). The interval runs from the fastest seed to the slowest, +inf
    when any seed missed. ``k`` counts the seeds that reached it.
    """
    vals = [float(v) if r and v == v else math.inf for v, r in zip(values, reached)]
    n, k = len(vals), sum(1 for v in vals if math.isfinite(v))
    if n == 0 or 2 * k < n:
        return Estimate(float("nan"), float("nan"), float("nan"), n, k, "censored")
    s = sorted(vals)
    mid = (n - 1) // 2
    value = s[mid] if n % 2 or not math.isfinite(s[mid + 1]) else (s[mid] + s[mid + 1]) / 2
    return Estimate(value, s[0], s[-1], n, k, "censored")


def overlaps(a: Estimate, b: Estimate) -> bool:
    """Whether the intervals of ``a`` and ``b`` share a point."""
    return a.lo <= b.hi and b.lo <= a.hi
