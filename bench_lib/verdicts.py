"""Verdicts a reader can act on: one strategy against another is *faster*, *slower*, *equivalent* or
*undecided*.

Throughput (:func:`compare_turns`). The cells of one dataset, model and seed take turns, one timed
window each, so window ``t`` of one cell and window ``t`` of another ran in the same stretch of
time: each turn is a paired measurement, and the log of their rates' ratio cancels what the machine
did in that turn. Per seed, the mean of those paired log-ratios and its standard error; over seeds,
a random-effects mean (DerSimonian-Laird): when the seeds disagree by more than their turns explain
(another data subset, other initial weights), the seeds' spread widens the interval, and the verdict
says so. Cells that did not take turns (``interleave = false``) are compared unpaired (Welch).

Time to target (:func:`compare_seeds`). Seeds pair the cells (one seed: the same initial weights and
data order for every strategy). The paired log-ratios of steps (or seconds) to the target: a t
interval when every seed of both reached it; when one missed (censored: more than its budget), an
order-statistic (sign-test) interval of the median log-ratio, which needs no value for the miss.

The words, from an interval of the ratio (``other / reference``) at level ``1 - alpha / pairs`` (a
Bonferroni share of ``alpha = 0.05`` for each of the ``pairs`` comparisons a table makes, so that a
table holds no false *faster* in 95% of runs, whichever strategy leads):

- *faster* / *slower*: the interval excludes 1;
- *equivalent within +-m*: the two one-sided tests pass, i.e. the ``1 - 2 alpha / pairs`` interval
  lies inside ``[1 - m, 1 + m]`` (m = 5% unless set);
- *undecided*: neither, with an estimate of how many more turns (or seeds) would decide it at the
  spread seen so far.

One rule decides every word from a t estimate (:func:`t_interval`): the turns' verdicts here, the
seeds' when every seed reached the target, ``report compare``'s change of a strategy's ratio between
two runs, and the suite's turn scheduler, which asks :func:`compare_turns` after each look whether
every strategy of a group is decided and, while one is undecided, runs more turns
(:class:`bench_lib.harness.turns.Decide`, at ``alpha / looks`` per look).

Everything is a pure function of the records' numbers (``window_graphs_per_s``, the time to target
per seed), so reports made again from the same records say the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["ALPHA", "MARGIN", "MIN_TIMED_S", "BUDGET_SHARE", "Verdict", "word_of", "t_interval",
           "compare_turns",
           "compare_seeds", "pair_count", "seed_statistic", "off_budget", "off_budget_text"]

#: The family-wise error of a table's verdicts.
ALPHA = 0.05
#: The default equivalence margin: ratios within [1 - m, 1 + m] are equivalent.
MARGIN = 0.05
#: Seconds of timed windows per cell at which strategy ratios held within 10% between a quiet and a
#: busy machine (benchmarks/noise.py, results/noise/benchmark.md); shorter timings are raised to it.
MIN_TIMED_S = 4.0


#: Who takes part in a view's verdicts: in the equal-real-graphs view, a strategy whose mean real
#: graphs per step is within this share of the view's budget. One that carries more (a packer whose
#: packs must hold the largest graph of a wide size distribution) does other work per step, and its
#: graphs/s would lead on that.
BUDGET_SHARE = 0.05


def off_budget(view: str, carried: float, budget: float | None,
               share: float = BUDGET_SHARE) -> bool:
    """Whether a strategy that carried ``carried`` real graphs per step (mean) leaves ``view``'s
    verdicts: only the equal-real-graphs view holds graphs per step equal; a missing budget or
    reading keeps it in."""
    if view != "equal-real-graphs" or budget is None or not budget > 0 or carried != carried:
        return False
    return abs(carried / budget - 1) > share


def off_budget_text(strategy: str, carried: float, budget: float,
                    share: float = BUDGET_SHARE) -> str:
    """The sentence that says why ``strategy`` left the view's verdicts and what it carried."""
    return (
        f"`{strategy}` carried {carried:.1f} real graphs per step against the budget of {budget:g} "
        f"({carried / budget - 1:+.1%}, outside ±{share:.0%}): it is left out of this view's "
        f"tables and verdicts, since its graphs/s would compare other work per step")


@dataclass(frozen=True)
class Verdict:
    """``other`` against ``reference``: the ratio ``other / reference`` of a rate (higher is better)
    or of steps or seconds to a target (lower is better), its intervals and the word they decide.

    Attributes:
      word: ``faster``, ``slower``, ``equivalent`` or ``undecided`` (``other`` compared to
        ``reference``).
      ratio: the estimate; lo, hi: its interval at ``level``; eq_lo, eq_hi: the two one-sided tests'
        interval.
      n: paired turns (all seeds together) or paired seeds; unit: ``turns`` or ``seeds``.
      more: about how many more turns per seed (or seeds) would decide an undecided verdict; None
        when decided or when more of them would not (``why`` says what would).
      why: what leaves it undecided when more of the same will not help (the seeds disagree, too
        few seeds).
      se, df: the standard error of the log-ratio and its degrees of freedom (turn verdicts), for
        combining two verdicts (``compare --relative-to``).
    """

    word: str
    ratio: float
    lo: float
    hi: float
    eq_lo: float
    eq_hi: float
    n: int
    unit: str
    margin: float
    level: float
    more: int | None = None
    why: str = ""
    higher_is_better: bool = True
    se: float = float("nan")
    df: int = 0

    @property
    def decided(self) -> bool:
        return self.word != "undecided"

    def short(self, what: str = "") -> str:
        """The table's form: ``12% slower [8%-16%]``, ``equivalent (±5%)``, ``undecided (+26
        turns/seed)``."""
        if self.word == "equivalent":
            return "equivalent (identical)" if self.why else f"equivalent (±{self.margin:.0%})"
        if self.word != "undecided":
            return self.text(what)
        if self.more is not None:
            unit = self.unit if self.more > 1 else self.unit[:-1]
            return f"undecided (+{self.more:,} {unit}{'/seed' if self.unit == 'turns' else ''})"
        return "undecided (seeds disagree)" if "disagree" in self.why else "undecided"

    def text(self, what: str = "") -> str:
        """``12% slower [8%-16%]``, ``equivalent within ±5% (0.99 [0.97-1.01])`` or ``undecided
        (...)``; ``what`` names the quantity of a lower-is-better ratio (``steps``: ``12% more
        steps``)."""
        interval = f"{_hi(self.ratio)} [{_hi(self.lo) if self.lo else '0'}-{_hi(self.hi)}]"
        if self.word == "equivalent" and self.why:
            return f"equivalent ({self.why})"
        if self.word == "equivalent":
            return (f"equivalent within ±{self.margin:.0%} (ratio {self.ratio:.2f}, "
                    f"{1 - 2 * (1 - self.level):.1%} interval "
                    f"[{self.eq_lo:.2f}-{_hi(self.eq_hi)}])")
        if self.word in ("faster", "slower"):
            if self.higher_is_better:
                share, lo, hi = abs(1 - self.ratio), abs(1 - self.hi), abs(1 - self.lo)
                return f"{share:.0%} {self.word} [{min(lo, hi):.0%}-{max(lo, hi):.0%}]"
            more = self.ratio > 1
            word = f"{'more' if more else 'fewer'} {what}".strip() if what else self.word
            a, b = abs(self.lo - 1), abs(self.hi - 1)
            return f"{abs(self.ratio - 1):.0%} {word} [{_pct(min(a, b))}-{_pct(max(a, b))}]"
        if self.more is not None:
            unit = self.unit if self.more > 1 else self.unit[:-1]
            return f"undecided (ratio {interval}; about {self.more:,} more {unit}" \
                   f"{' per seed' if self.unit == 'turns' else ''} would decide it)"
        return f"undecided (ratio {interval}{'; ' + self.why if self.why else ''})"


def _hi(x: float) -> str:
    """A ratio as shown: two decimals, ``>100`` and ``<0.01`` beyond them (a few seeds' t
    interval)."""
    return "∞" if math.isinf(x) else ">100" if x > 100 else "<0.01" if 0 < x < 0.01 else f"{x:.2f}"


def _pct(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.0%}"


def pair_count(k: int) -> int:
    """Comparisons among ``k`` strategies whichever leads: every pair, ``k (k - 1) / 2`` (at least
    1)."""
    return max(1, k * (k - 1) // 2)


def word_of(lo: float, hi: float, eq_lo: float, eq_hi: float, margin: float,
            higher_is_better: bool) -> str:
    """The verdict of ``other`` from log-ratio intervals (``lo``, ``hi`` at the test level)."""
    if lo > 0 or hi < 0:
        better = (lo > 0) == higher_is_better
        return "faster" if better else "slower"
    if eq_lo > math.log(1 - margin) and eq_hi < math.log(1 + margin):
        return "equivalent"
    return "undecided"


def t_interval(m: float, se: float, df: int, pairs: int = 1, alpha: float = ALPHA,
               margin: float = MARGIN,
               higher_is_better: bool = True) -> tuple[str, float, float, float, float]:
    """The rule: a log-ratio ``m`` with standard error ``se`` on ``df`` degrees of freedom, one of
    ``pairs`` comparisons. Returns ``(word, lo, hi, eq_lo, eq_hi)``: the two-sided interval at ``1 -
    alpha / pairs``, the equivalence (two one-sided tests) interval at ``1 - 2 alpha / pairs``, and
    the word they give."""
    t_test, t_eq = stats.t.ppf(1 - alpha / pairs / 2, df), stats.t.ppf(1 - alpha / pairs, df)
    lo, hi, eq_lo, eq_hi = m - t_test * se, m + t_test * se, m - t_eq * se, m + t_eq * se
    return word_of(lo, hi, eq_lo, eq_hi, margin, higher_is_better), lo, hi, eq_lo, eq_hi


def compare_turns(other, reference, paired=True, pairs: int = 1, alpha: float = ALPHA,
                  margin: float = MARGIN) -> Verdict | None:
    """The rate of ``other`` against ``reference`` from their timed windows.

    Args:
      other, reference: one sequence of window rates per seed, in the order the windows ran (the
        records' ``window_graphs_per_s``); the seeds in the same order for both.
      paired: the windows took turns (window ``t`` of both ran in turn ``t``); else compared
        unpaired (Welch); one flag, or one per seed.
      pairs: comparisons the table makes (:func:`pair_count`); alpha: their family-wise error.
      margin: the equivalence margin m.

    Returns None when no seed has two turns of both.
    """
    means, variances, dfs, ns = [], [], [], []
    flags = [paired] * len(other) if isinstance(paired, bool) else list(paired)
    for x, r, together in zip(other, reference, flags):
        x, r = _logs(x), _logs(r)
        if together:
            k = min(len(x), len(r))
            d = x[:k] - r[:k]
            d = d[np.isfinite(d)]
            if len(d) < 2:
                continue
            means.append(float(d.mean()))
            variances.append(float(d.var(ddof=1)) / len(d))
            dfs.append(len(d) - 1)
            ns.append(len(d))
        else:
            x, r = x[np.isfinite(x)], r[np.isfinite(r)]
            if len(x) < 2 or len(r) < 2:
                continue
            vx, vr = x.var(ddof=1) / len(x), r.var(ddof=1) / len(r)
            means.append(float(x.mean() - r.mean()))
            variances.append(float(vx + vr))
            dfs.append(max(1, len(x) + len(r) - 2))
            ns.append(min(len(x), len(r)))
    if not means:
        return None
    m, se, tau2 = _pool(means, variances)
    df = sum(dfs)
    level = 1 - alpha / pairs
    word, lo, hi, eq_lo, eq_hi = t_interval(m, se, df, pairs, alpha, margin)
    more, why = None, ""
    if word == "undecided":
        if tau2 > 0:
            why = (f"the {len(means)} seeds disagree more than their turns explain; more seeds, "
                   "not more turns, would decide it")
        else:
            more = _more_turns(m, se, ns, alpha / pairs, margin)
    return Verdict(word, math.exp(m), math.exp(lo), math.exp(hi), math.exp(eq_lo), math.exp(eq_hi),
                   sum(ns), "turns",
                   margin, level, more, why, True, se, df)


def _logs(values) -> np.ndarray:
    x = np.asarray([float(v) for v in values], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def _pool(means, variances) -> tuple[float, float, float]:
    """Random-effects (DerSimonian-Laird) mean of per-seed ``means``, its standard error and the
    between-seed variance ``tau2`` (0: the seeds agree within their own errors, a fixed-effect
    mean)."""
    m, v = np.asarray(means), np.maximum(np.asarray(variances), 1e-18)
    w = 1 / v
    fixed = float((w * m).sum() / w.sum())
    tau2 = 0.0
    if len(m) > 1:
        q = float((w * (m - fixed) ** 2).sum())
        tau2 = max(0.0, (q - (len(m) - 1)) / float(w.sum() - (w ** 2).sum() / w.sum()))
    w = 1 / (v + tau2)
    return float((w * m).sum() / w.sum()), float(math.sqrt(1 / w.sum())), tau2


def _needed(m: float, sd: float, n: int, alpha: float, margin: float) -> int | None:
    """The smallest count ``N > n`` of paired values at which, with the mean ``m`` and per-value
    spread ``sd`` seen so far, the t interval would decide: exclude 0 (the difference is real) or
    fit inside the margin (it is smaller than m); None when no count up to a million would."""
    room = min(math.log(1 + margin) - m, m - math.log(1 - margin))
    if sd <= 0:
        return n + 1

    def decides(k: int) -> bool:
        se = sd / math.sqrt(k)
        return (stats.t.ppf(1 - alpha / 2, k - 1) * se
                < abs(m)) or (stats.t.ppf(1 - alpha, k - 1) * se < room)

    hi = max(n + 1, 2)
    while not decides(hi):
        hi *= 2
        if hi > 1_000_000:
            return None
    lo = max(n, 1)  # decides(lo) is False (or lo == n): bisect (lo, hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi


def _more_turns(m: float, se: float, ns: list[int], alpha: float, margin: float) -> int | None:
    """More turns per seed after which the verdict would likely be decided (:func:`_needed`)."""
    n = sum(ns)
    total = _needed(m, se * math.sqrt(n), n, alpha, margin)  # fixed effect: se = sd / sqrt(turns)
    return None if total is None else max(1, math.ceil((total - n) / len(ns)))


def seed_statistic(n: int) -> str:
    """What the censored median of ``n`` seeds is: ``the median of 5 seeds``, ``the 2nd fastest of
    4``."""
    if n <= 0:
        return "no seed"
    k = (n + 1) // 2
    if n == 2:
        return "the faster of 2 seeds"
    if n % 2:
        return "the median of 1 seed" if n == 1 else f"the median of {n} seeds"
    return f"the {_ordinal(k)} fastest of {n} seeds"


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def compare_seeds(other, other_reached, reference, reference_reached, pairs: int = 1,
                  alpha: float = ALPHA,
                  margin: float = MARGIN, extra_se: float = 0.0) -> Verdict | None:
    """Steps (or seconds) to a target of ``other`` against ``reference``, seed by seed (lower is
    better).

    Args:
      other, reference: the value per seed (NaN where the seed missed), the seeds in the same order.
      other_reached, reference_reached: whether each seed reached the target.

    A seed that both missed says nothing and is left out. Returns None without a seed to compare.
    ``extra_se``: a standard error of the log-ratio that the seeds do not show, added to theirs (a
    time to target is steps x a step time measured once for several seeds: its error is the step
    time's).
    """
    d = []
    for x, rx, r, rr in zip(other, other_reached, reference, reference_reached):
        x = float(x) if rx and x == x and float(x) > 0 else math.inf
        r = float(r) if rr and r == r and float(r) > 0 else math.inf
        if math.isinf(x) and math.isinf(r):
            continue
        d.append(math.inf if math.isinf(x) else -math.inf if math.isinf(r) else math.log(x / r))
    n = len(d)
    if n == 0:
        return None
    level = 1 - alpha / pairs
    d = np.sort(np.asarray(d))
    extra_se = extra_se if extra_se == extra_se else 0.0
    if np.isfinite(d).all() and n >= 2 and (d.std() > 0 or extra_se > 0):
        m, se = float(d.mean()), math.hypot(float(d.std(ddof=1) / math.sqrt(n)), extra_se)
        word, lo, hi, eq_lo, eq_hi = t_interval(m, se, n - 1, pairs, alpha, margin,
                                                higher_is_better=False)
        more = None
        if word == "undecided":
            total = _needed(m, se * math.sqrt(n), n, alpha / pairs, margin)
            more = None if total is None else total - n
        return Verdict(word, math.exp(m), math.exp(lo), math.exp(hi), math.exp(eq_lo),
                       math.exp(eq_hi), n, "seeds",
                       margin, level, more, "", False)
    # every seed the same steps: the same batches, the same training
    if np.isfinite(d).all() and not d.any():
        return Verdict("equivalent", 1.0, 1.0, 1.0, 1.0, 1.0, n, "seeds", margin, level, None,
                       "identical in every seed", False)
    # A miss (or one ratio in every seed): the median log-ratio with an order-statistic interval.
    m = float(d[(n - 1) // 2])  # the lower median (a miss may be either middle value)
    lo, hi = _order_interval(d, alpha / pairs)
    eq_lo, eq_hi = _order_interval(d, 2 * alpha / pairs)
    word = word_of(lo, hi, eq_lo, eq_hi, margin, False)
    more, why = None, ""
    if word == "undecided":
        # seeds that, all one way, a sign test would call
        need = math.ceil(math.log2(2 * pairs / alpha))
        how = ("with a missed target" if not np.isfinite(d).all()
               else "with the same ratio in every seed")
        why = (f"{how} the seeds are compared by sign: {need} or more seeds, all one way, would "
               f"decide it")
    return Verdict(word, math.exp(m), _exp(lo), _exp(hi), _exp(eq_lo), _exp(eq_hi), n, "seeds",
                   margin, level,
                   more, why, False)


def _exp(x: float) -> float:
    return math.inf if x == math.inf else 0.0 if x == -math.inf else math.exp(x)


def _order_interval(d: np.ndarray, alpha: float) -> tuple[float, float]:
    """A distribution-free interval of the median of sorted ``d`` with coverage >= 1 - alpha:
    ``[d_(k), d_(n-k+1)]`` for the largest k the binomial allows; the whole line when none does."""
    n, k = len(d), 0
    # P(B <= k) <= alpha / 2
    while k + 1 <= (n + 1) // 2 and stats.binom.cdf(k, n, 0.5) <= alpha / 2:
        k += 1
    if k < 1:
        return -math.inf, math.inf
    return float(d[k - 1]), float(d[n - k])
