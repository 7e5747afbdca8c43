"""Dataset builds spread over worker processes, results in order and memory bounded.

Example::

    for chunk in ordered_map(make_chunk, ((k, seed) for k in range(n_chunks))):
        writer.append(**chunk)
"""

from __future__ import annotations

import collections
import os
import warnings
from typing import Any, Callable, Iterable, Iterator

__all__ = ["ordered_map", "default_workers"]


def default_workers(limit: int = 4) -> int:
    """The CPUs this process may use (its affinity, so a Slurm task's share, not the node's), at
    most ``limit``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(limit, cpus))


def ordered_map(fn: Callable[..., Any], args: Iterable[tuple], workers: int | None = None,
                window: int = 2) -> Iterator[Any]:
    """``fn(*a)`` for each ``a`` of ``args``, in order, computed by ``workers`` spawned processes
    (default :func:`default_workers`) with at most ``window`` jobs per worker in flight, so that
    results waiting for an earlier one stay few; ``args`` is read as jobs are submitted.

    Spawned workers import the caller's ``__main__``: a script without an
    ``if __name__ == "__main__":`` guard breaks the pool, and then the remaining jobs run in
    this process instead (with a warning), so the result is the same either way.
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    import multiprocessing as mp

    args = iter(args)
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        for a in args:
            yield fn(*a)
        return
    pending: collections.deque = collections.deque()  # (args, future), oldest first
    try:
        # spawn, not fork: the caller may hold torch's or numba's threads.
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            for a in args:
                # recorded before submitting: a failed submit is redone below
                pending.append((a, None))
                pending[-1] = (a, pool.submit(fn, *a))
                if len(pending) >= window * workers:
                    result = pending[0][1].result()
                    pending.popleft()
                    yield result
            while pending:
                result = pending[0][1].result()
                pending.popleft()
                yield result
    except BrokenProcessPool as err:
        warnings.warn(
            f"worker processes failed ({err}); building in this process instead (a script that "
            "builds datasets needs an `if __name__ == \"__main__\":` guard to use them)",
                      stacklevel=2)
        for a, _ in pending:
            yield fn(*a)
        for a in args:
            yield fn(*a)
