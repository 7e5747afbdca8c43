"""Packers and planners on hand-made size lists (exact packs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bench_lib.strategies import STRATEGIES, GraphTooLargeError
from bench_lib.strategies.cutstock import best_pattern, solve_cutting_stock_lp
from bench_lib.strategies.dynamic import edge_bound
from bench_lib.strategies.ffd import first_fit
from bench_lib.strategies.lpfhp import lpfhp_groups
from bench_lib.strategies.packing import size_histogram


def pack_sizes(packs, sizes):
    return sorted(sorted(sizes[packs.graph_index[packs.pack_ptr[p]:packs.pack_ptr[p + 1]]].tolist(),
                         reverse=True)
                  for p in range(packs.n_pack))


def test_lpfhp_exact():
    sizes = np.array([3, 8, 1, 5, 8, 3])
    packs = STRATEGIES.create("pack-lpfhp", max_nodes=10).plan_packs(sizes, np.zeros(6, np.int64),
                                                                     np.random.default_rng(0))
    assert pack_sizes(packs, sizes) == [[3], [5, 3], [8], [8, 1]]


def test_lpfhp_groups_put_copies_together():
    # 6 graphs of 2 nodes, capacity 6, at most 3 per pack: two packs of three.
    groups = lpfhp_groups(np.array([2]), np.array([0]), np.array([6]), 6, None, 3)
    assert groups == [(2, (0, 0, 0))]
    # With at most 2 per pack: three packs of two.
    assert lpfhp_groups(np.array([2]), np.array([0]), np.array([6]), 6, None, 2) == [(3, (0, 0))]


def test_lpfhp_respects_edges():
    n = np.array([4, 4, 4, 4])
    e = np.array([10, 10, 1, 1])
    packs = STRATEGIES.create("pack-lpfhp", max_nodes=8,
                              max_edges=11).plan_packs(n, e, np.random.default_rng(0))
    # Best fit on nodes then edges pairs each dense graph with a sparse one.
    assert sorted(packs.pack_sums(e).tolist()) == [11, 11] and packs.n_pack == 2


def test_ffd_exact():
    n = np.array([7, 6, 4, 3, 2])
    pack_of, used = first_fit(n, np.zeros(5, np.int64), np.arange(5), 10, None, 10)
    assert used == 3 and pack_of.tolist() == [0, 1, 1, 0, 2]
    # Edges decide: the 3-node graph has too many edges for pack 0.
    pack_of, used = first_fit(n, np.array([5, 0, 0, 6, 0]), np.arange(5), 10, 10, 10)
    assert pack_of.tolist() == [0, 1, 1, 2, 0]


def test_best_pattern_exact():
    counts, value = best_pattern(np.array([1.0, 0.6, 0.35]), np.array([5, 3, 2]), 10, 5)
    assert counts.tolist() == [2, 0, 0] and value == pytest.approx(2.0)
    counts, value = best_pattern(np.array([1.0, 0.6, 0.35]), np.array([5, 3, 2]), 10, 1)
    assert counts.tolist() == [1, 0, 0] and value == pytest.approx(1.0)


def test_cutstock_lp_bound_and_optimum():
    # Sizes 8, 8, 5, 3, 3, 1 in packs of 10: the 8s cannot share (except with the 1): 4 packs.
    sizes = np.array([8, 8, 5, 3, 3, 1])
    packs = STRATEGIES.create("pack-cutstock", max_nodes=10).plan_packs(
        sizes, np.zeros(6, np.int64), np.random.default_rng(0))
    assert packs.n_pack == 4 and packs.lower_bound <= 4
    patterns, x, bound = solve_cutting_stock_lp(np.array([2, 3]), np.array([3, 2]), 6, 3)
    # 3 twos + 2 threes = 12 nodes in packs of 6: the LP needs exactly 2.
    assert bound == pytest.approx(2.0) and x.sum() == pytest.approx(2.0)


def test_size_histogram_pairs():
    h = size_histogram(np.array([3, 1, 3, 3]), np.array([2, 0, 2, 4]))
    assert (list(zip(h.n.tolist(), h.e.tolist(), h.count.tolist()))
            == [(1, 0, 1), (3, 2, 2), (3, 4, 1)])
    assert h.key_of_graph.tolist() == [1, 0, 1, 2]


def test_pad_shape_exact():
    planner = STRATEGIES.create("pad", batch_graphs=2).prepare(
        np.array([2, 5, 3]), np.array([2, 8, 4]), np.random.default_rng(0))
    assert (planner.shape.n_node, planner.shape.n_edge, planner.shape.n_graph) == (11, 16, 3)
    assert np.diff(planner.plan_epoch(np.random.default_rng(0)).batch_ptr).tolist() == [2, 1]


def test_edge_bound():
    # densest graph: 6 edges on 3 nodes -> 2 per node -> 20 edges in 10 nodes.
    assert edge_bound(np.array([3, 4, 0]), np.array([6, 4, 0]), 10) == 20


def greedy_reference(n, e, order, max_n, max_e, max_g):
    sizes, cur = [], [0, 0, 0]
    for i in order:
        if cur[2] and (cur[0] + n[i] > max_n or cur[1] + e[i] > max_e or cur[2] + 1 > max_g):
            sizes.append(cur[2])
            cur = [0, 0, 0]
        cur = [cur[0] + n[i], cur[1] + e[i], cur[2] + 1]
    if cur[2]:
        sizes.append(cur[2])
    return sizes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(0, 20)), min_size=1, max_size=60),
       st.integers(9, 30), st.integers(20, 60), st.integers(1, 6), st.integers(0, 99))
def test_dynamic_budget_is_greedy_fill(sizes, max_n, max_e, max_g, seed):
    n = np.array([s[0] for s in sizes])
    e = np.array([s[1] for s in sizes])
    strat = STRATEGIES.create("dynamic-budget", max_nodes=max_n, max_edges=max_e, max_graphs=max_g)
    plan = strat.prepare(n, e, np.random.default_rng(0)).plan_epoch(np.random.default_rng(seed))
    want = greedy_reference(n, e, plan.graph_index.tolist(), max_n, max_e, max_g)
    assert np.diff(plan.batch_ptr).tolist() == want


def lower_bound(n, e, capacity, max_graphs, max_edges) -> int:
    """A proven lower bound on the packs any valid packing needs: the
    cutting-stock LP over node sizes (with the graph-count limit), the edge
    volume and the graph count."""
    sizes, counts = np.unique(n, return_counts=True)
    _, _, lp = solve_cutting_stock_lp(sizes, counts, capacity, max_graphs or capacity)
    bound = math.ceil(lp - 1e-9)
    if max_edges:
        bound = max(bound, math.ceil(e.sum() / max_edges))
    if max_graphs:
        bound = max(bound, math.ceil(len(n) / max_graphs))
    return bound


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 30)), min_size=1, max_size=80),
       st.sampled_from(["pack-lpfhp", "pack-ffd", "pack-cutstock"]), st.sampled_from([None, 2, 4]),
       st.sampled_from([None, 40]))
def test_packers_valid_and_near_bound(sizes, name, max_graphs, max_edges):
    n = np.array([s[0] for s in sizes])
    e = np.array([s[1] for s in sizes])
    strat = STRATEGIES.create(name, max_nodes=12, max_graphs=max_graphs, max_edges=max_edges)
    packs = strat.plan_packs(n, e, np.random.default_rng(1))
    assert np.array_equal(np.sort(packs.graph_index), np.arange(len(n)))
    assert packs.pack_sums(n).max() <= 12
    if max_edges:
        assert packs.pack_sums(e).max() <= max_edges
    if max_graphs:
        assert np.diff(packs.pack_ptr).max() <= max_graphs
    bound = lower_bound(n, e, 12, max_graphs, max_edges)
    assert packs.n_pack >= bound  # no valid packing beats a proven bound
    if max_edges is None:
        # On nodes (and graph counts) alone every packer lands within a pack or two of the bound
        # (at most one over it in 3,000 random cases; one graph per pack would be ~2x over).
        assert packs.n_pack <= bound + 2, (packs.n_pack, bound)
    else:
        # Edges make it a two-dimensional packing, where the bound is loose (worst seen: 1.375x).
        assert packs.n_pack <= 1.5 * bound + 2, (packs.n_pack, bound)
    if name == "pack-cutstock":
        volume = n.sum() / 12
        assert volume - 1e-9 <= packs.lower_bound <= packs.n_pack + 1e-9


def fewest_packs(n, capacity: int) -> int:
    """The optimum, by exhaustive search (a handful of graphs only)."""
    best = len(n)

    def place(i, loads):
        nonlocal best
        if len(loads) >= best:
            return
        if i == len(n):
            best = len(loads)
            return
        for j in range(len(loads)):
            if loads[j] + n[i] <= capacity:
                loads[j] += n[i]
                place(i + 1, loads)
                loads[j] -= n[i]
        place(i + 1, loads + [n[i]])

    place(0, [])
    return best


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=9))
def test_packers_against_the_true_optimum(sizes):
    """Checked against exhaustive search, not against the LP the cutting-stock packer itself
    solves."""
    n = np.array(sorted(sizes, reverse=True))
    best = fewest_packs(n.tolist(), 12)
    for name in ("pack-lpfhp", "pack-ffd", "pack-cutstock"):
        packs = STRATEGIES.create(
            name, max_nodes=12).plan_packs(n, np.zeros_like(n), np.random.default_rng(0))
        assert best <= packs.n_pack <= best + 1, (name, packs.n_pack, best)
        if name == "pack-cutstock":
            assert packs.lower_bound <= best + 1e-9  # a lower bound really is one


def test_first_fit_names_a_graph_too_large_for_an_empty_pack():
    import signal

    def hung(*_):
        raise AssertionError("first_fit did not return (the leaf search looped)")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        n = np.array([3, 20, 2])
        with pytest.raises(GraphTooLargeError,
                           match=r"graph 1 \(20 nodes, 0 edges\) does not fit an empty pack of 10"):
            first_fit(n, np.zeros(3, np.int64), np.arange(3), 10, None, 4)
        with pytest.raises(GraphTooLargeError, match=r"graph 0 \(3 nodes, 9 edges\).*8 edges"):
            first_fit(n, np.array([9, 0, 0]), np.arange(3), 10, 8, 4)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 2), min_size=3, max_size=3), st.integers(5, 30))
def test_best_pattern_unbounded_matches_bounded(values, capacity):
    sizes = np.array([2, 3, 5])
    values = np.array(values)
    # bound cannot bind: unbounded path
    a, va = best_pattern(values, sizes, capacity, capacity // 2)
    b, vb = best_pattern(values, sizes, capacity, capacity // 2 - 1 if capacity >= 6 else 1)
    # brute force
    best = max(x * values[0] + y * values[1] + z * values[2]
               for x in range(capacity // 2 + 1) for y in range(capacity // 3 + 1)
               for z in range(capacity // 5 + 1)
               if 2 * x + 3 * y + 5 * z <= capacity)
    # The DP ignores improvements under 1e-12 (its tie tolerance).
    assert (va == pytest.approx(best, abs=1e-9) and values @ a == pytest.approx(va, abs=1e-9)
            and sizes @ a <= capacity)
    assert vb <= va + 1e-9 and sizes @ b <= capacity
