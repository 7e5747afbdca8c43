"""Builds over worker processes: results in order, the same as in one process, and a broken pool
(a script without a ``__main__`` guard, a worker that dies) falls back to this process."""

from __future__ import annotations

import os

import pytest

from bench_lib.data.parallel import default_workers, ordered_map


def square(k: int) -> int:
    return k * k


def dies_in_a_worker(parent: int, k: int) -> int:
    if os.getpid() != parent:
        os._exit(3)  # the worker process dies; the pool breaks
    return k + 100


def test_results_come_in_order_whatever_the_workers():
    jobs = [(k,) for k in range(11)]
    assert list(ordered_map(square, jobs, workers=1)) == [k * k for k in range(11)]
    assert list(ordered_map(square, iter(jobs), workers=2, window=1)) == [k * k for k in range(11)]
    assert 1 <= default_workers() <= 4


def test_a_broken_pool_finishes_the_jobs_in_this_process():
    with pytest.warns(UserWarning, match="building in this process instead"):
        got = list(ordered_map(dies_in_a_worker, ((os.getpid(), k) for k in range(6)), workers=2))
    assert got == [k + 100 for k in range(6)]
