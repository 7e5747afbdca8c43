"""The batch contract, the strategy registry and the built-in strategies.

Example::

    from bench_lib.strategies import STRATEGIES, collate
    strategy = STRATEGIES.create("pack-lpfhp", max_nodes=36, max_graphs=4)
    planner = strategy.prepare(store.n_node, store.n_edge, np.random.default_rng(0))
    plan = planner.plan_epoch(np.random.default_rng(1))
    batch = collate(store, next(plan.batches()), plan.shape)

Built-ins: ``pad``, ``dynamic``, ``dynamic-budget``, ``pad-bucket``, ``pack-lpfhp``,
``pack-ffd``, ``pack-cutstock``; the baselines ``pyg``, ``pyg-dynamic`` and ``dgl-loader``
(:mod:`.baselines`: PyG's and DGL's own loaders, not in ``"all"``); third-party strategies arrive
through the ``bench_lib.strategies`` entry-point group (see :mod:`.registry`).
"""

from bench_lib.strategies.base import EpochPlanner, GraphTooLargeError, Plan, Strategy
from bench_lib.strategies.batch import BatchShape, GraphBatch
from bench_lib.strategies.collate import collate
from bench_lib.strategies.registry import ENTRY_POINT_GROUP, STRATEGIES, StrategyRegistry

# Built-ins register themselves on import.
from bench_lib.strategies import (  # noqa: E402,F401  isort: skip
    padding, dynamic, bucket, lpfhp, ffd, cutstock, baselines)

__all__ = ["BatchShape", "GraphBatch", "Plan", "EpochPlanner", "Strategy", "GraphTooLargeError",
           "collate", "STRATEGIES", "StrategyRegistry", "ENTRY_POINT_GROUP"]
