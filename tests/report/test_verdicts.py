"""Verdicts: faster, slower, equivalent or undecided, at the error rates they claim."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench_lib.verdicts import compare_seeds, compare_turns, pair_count, seed_statistic

ROOT = Path(__file__).resolve().parents[2]


def reference_turn_spread() -> float:
    """The median spread (sd) of one turn's paired log-ratio in the committed default reference run:
    the noise the simulation below gives its synthetic windows."""
    df = pd.read_csv(ROOT / "results/default-reference/records.csv")
    sds = []
    # train-only seeds have no windows
    timed = df[(df.status == "ok") & df.window_graphs_per_s.notna()]
    for _, g in timed.groupby(["dataset", "model", "seed"]):
        w = [np.log(json.loads(v)) for v in g["window_graphs_per_s"]]
        sds += [float(np.std(w[i] - w[0], ddof=1)) for i in range(1, len(w))]
    return float(np.median(sds))


def synthetic_suite(rng, k: int, seeds: int, turns: int, sd: float,
                    faster: float = 1.0) -> list[np.ndarray]:
    """Per seed, window rates ``(k, turns)`` of ``k`` strategies taking turns: a load shared by
    every cell of a turn (large, as on a busy machine), each window's own noise (paired log-ratio sd
    ``sd``), and strategy 0 ``faster`` times the others' rate."""
    out = []
    for _ in range(seeds):
        load = rng.normal(0.0, 0.3, size=turns)
        own = rng.normal(0.0, sd / math.sqrt(2), size=(k, turns))
        out.append(1000.0 * np.exp(load[None, :] + own) * np.r_[faster, np.ones(k - 1)][:, None])
    return out


@pytest.mark.slow
def test_the_simulated_false_and_missed_verdicts_stay_within_their_rates():
    # The default suite's budget: 7 strategies, 2 seeds, 5 repeats of 16 windows; the reference's
    # noise.
    k, seeds, turns, sd = 7, 2, 5 * 16, reference_turn_spread()
    assert 0.05 < sd < 0.5  # the windows' noise the committed run measured
    rng = np.random.default_rng(2026)
    pairs = pair_count(k)
    false_faster = hit = false_equivalent = 0
    for _ in range(1000):
        # Equal strategies: any decided difference between the leader and another is false.
        w = synthetic_suite(rng, k, seeds, turns, sd)
        lead = int(np.argmax([np.median(np.concatenate([s[j] for s in w])) for j in range(k)]))
        words = [compare_turns([s[j] for s in w], [s[lead] for s in w], pairs=pairs).word
                 for j in range(k) if j != lead]
        false_faster += any(x in ("faster", "slower") for x in words)
        # Strategy 0 truly 10% faster: strategy 1 against it should be called slower, never
        # equivalent.
        w = synthetic_suite(rng, k, seeds, turns, sd, faster=1.10)
        v = compare_turns([s[1] for s in w], [s[0] for s in w], pairs=pairs)
        hit += v.word == "slower"
        false_equivalent += v.word == "equivalent"
    assert false_faster <= 50, false_faster
    assert hit >= 800, hit
    assert false_equivalent <= 50, false_equivalent


def test_paired_turns_cancel_the_load_that_unpaired_windows_cannot():
    rng = np.random.default_rng(0)
    load = rng.normal(0.0, 0.3, size=80)
    a = 1000 * np.exp(load + rng.normal(0, 0.02, 80))
    b = 1.08 * 1000 * np.exp(load + rng.normal(0, 0.02, 80))
    paired = compare_turns([a], [b], paired=True)
    unpaired = compare_turns([a], [b], paired=False)
    assert paired.word == "slower" and 0.90 < paired.ratio < 0.95 and paired.hi < 1
    assert unpaired.word == "undecided" and unpaired.lo < 1 < unpaired.hi
    assert paired.n == 80 and paired.unit == "turns"


def test_equivalent_needs_the_interval_inside_the_margin():
    rng = np.random.default_rng(1)
    a = 1000 * np.exp(rng.normal(0, 0.01, 400))
    b = 1000 * np.exp(rng.normal(0, 0.01, 400))
    v = compare_turns([a], [b])
    assert v.word == "equivalent" and 0.95 < v.eq_lo and v.eq_hi < 1.05
    assert v.text().startswith("equivalent within ±5% (ratio 1.00")
    # The same turns with a 1% margin: too few to say.
    narrow = compare_turns([a], [b], margin=0.0001)
    assert narrow.word == "undecided" and narrow.more is not None and narrow.more > 0


def test_undecided_says_how_many_more_turns_and_they_do_decide():
    rng = np.random.default_rng(3)
    def noise(n):
        return np.exp(rng.normal(0, 0.15, n))
    few = compare_turns([1000 * noise(20)], [1060 * noise(20)])
    assert few.word == "undecided" and few.more is not None
    n = 20 + few.more * 4  # four times what it asked for: decided in nearly every draw
    decided = sum(compare_turns([1000 * noise(n)], [1060 * noise(n)]).decided for _ in range(50))
    assert decided >= 40


def test_seeds_that_disagree_ask_for_seeds_not_turns():
    rng = np.random.default_rng(4)
    a = [1000 * np.exp(rng.normal(0, 0.05, 80)), 1000 * np.exp(rng.normal(0, 0.05, 80))]
    b = [1000 * np.exp(rng.normal(0.08, 0.05, 80)), 1000 * np.exp(rng.normal(-0.08, 0.05, 80))]
    v = compare_turns(a, b)
    assert v.word == "undecided" and v.more is None and "more seeds, not more turns" in v.why


def test_steps_to_target_over_seeds_censor_a_miss():
    # Every seed of both reached it: a t interval on the paired log-ratios.
    v = compare_seeds([200, 210, 190, 205, 195], [True] * 5, [100, 104, 96, 101, 99], [True] * 5)
    assert v.word == "slower" and 1.9 < v.ratio < 2.1 and v.unit == "seeds" and v.n == 5
    assert v.text("steps").startswith("100% more steps [")
    # A seed of the other missed: counted as more than anything (a sign test), not dropped; 6 seeds
    # all one way decide it at 5% (5 cannot: 2 / 2**5 > 5%).
    v = compare_seeds([200, None, 190, 205, 195, 201], [True, False, True, True, True, True],
                      [100] * 6, [True] * 6)
    assert v.word == "slower" and v.lo > 1 and math.isinf(v.hi)
    v = compare_seeds([200, None, 190, 205, 195], [True, False, True, True, True], [100] * 5,
                      [True] * 5)
    assert v.word == "undecided" and "6 or more seeds" in v.why
    # Two seeds missed by both say nothing; one seed left is undecided.
    v = compare_seeds([None, None, 120], [False, False, True], [None, None, 100],
                      [False, False, True])
    assert v.n == 1 and v.word == "undecided"
    # The same steps in every seed (the same graphs per step: padding changes nothing): equivalent,
    # exactly.
    v = compare_seeds([150, 175, 150], [True] * 3, [150, 175, 150], [True] * 3, pairs=21)
    assert (v.word == "equivalent" and v.ratio == 1 and v.text("steps")
            == "equivalent (identical in every seed)")
    # One ratio (not 1) in every seed: a sign test, said as such
    v = compare_seeds([300, 350, 300], [True] * 3, [150, 175, 150], [True] * 3, pairs=21)
    assert v.word == "undecided" and ("with the same ratio in every seed the seeds are compared by "
                                      "sign") in v.why
    # With a miss and 3 seeds, the sign test cannot decide at 5%: it says how many seeds would.
    v = compare_seeds([None, 200, 190], [False, True, True], [100] * 3, [True] * 3, pairs=21)
    assert v.word == "undecided" and "10 or more seeds, all one way" in v.why


def test_the_table_family_shares_its_error():
    assert pair_count(1) == 1 and pair_count(2) == 1 and pair_count(7) == 21
    rng = np.random.default_rng(5)
    a = [1000 * np.exp(rng.normal(0, 0.1, 80))]
    b = [1040 * np.exp(rng.normal(0, 0.1, 80))]
    one, many = compare_turns(a, b, pairs=1), compare_turns(a, b, pairs=21)
    assert many.lo < one.lo and many.hi > one.hi and many.level == pytest.approx(1 - 0.05 / 21)


@pytest.mark.parametrize("n, text", [(1, "the median of 1 seed"), (2, "the faster of 2 seeds"),
                                     (4, "the 2nd fastest of 4 seeds"),
                                     (5, "the median of 5 seeds")])
def test_the_statistic_over_seeds_is_named(n, text):
    assert seed_statistic(n) == text
