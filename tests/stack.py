"""What the tests run on this stack: the backends and strategies DGL's absence leaves
(docs/stacks.md).

On today's stack DGL does not import: the ``dgl`` backend's parameters carry the ``dgl`` marker
(skipped with the reason, run by ``make test-dgl``) and "every strategy" means every one that runs
without DGL.
"""

from __future__ import annotations

import pytest

from bench_lib.deps import dgl_available
from bench_lib.strategies import STRATEGIES

#: The backends to parametrize a test over: ``dgl`` marked as needing DGL.
BACKENDS = ["torch", pytest.param("dgl", marks=pytest.mark.dgl)]


def runnable_strategies() -> list[str]:
    """Every registered strategy that runs here (``dgl-loader`` only where DGL imports)."""
    return [n for n in STRATEGIES.names() if dgl_available() or not STRATEGIES.get(n).needs_dgl]


def backends_here() -> tuple[str, ...]:
    """The backends a loop inside one test can run here."""
    return ("torch", "dgl") if dgl_available() else ("torch",)
