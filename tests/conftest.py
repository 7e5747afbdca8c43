"""Shared fixtures: a seeded random-graph factory, a per-test cache and temp dir, and the markers.

Markers: ``slow`` for the tests that start workers, whole suites, ``torchrun`` or a browser
(``make test-fast``, ``pytest -m "not slow"``, leaves them out); ``dgl`` for the tests that need DGL
(the ``bench_lib[dgl]`` stack): skipped without it, with the reason, except where
``BENCH_LIB_REQUIRE_DGL=1`` (``make test-dgl``) makes a missing DGL a failure.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from bench_lib.data.store import GraphStore, StoreMeta
from bench_lib.deps import dgl_available, dgl_missing_reason


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts workers, whole suites, torchrun or a browser "
                                       "(left out by make test-fast)")
    config.addinivalue_line("markers", "dgl: needs DGL (the bench_lib[dgl] stack: make test-dgl)")


def pytest_collection_modifyitems(config, items):
    if dgl_available() or os.environ.get("BENCH_LIB_REQUIRE_DGL") == "1":
        return
    skip = pytest.mark.skip(reason=f"needs DGL ({dgl_missing_reason()}); make test-dgl runs it")
    for item in items:
        if item.get_closest_marker("dgl"):
            item.add_marker(skip)


def make_random_store(n_graphs: int = 60, seed: int = 0, min_nodes: int = 1, max_nodes: int = 12,
                      edge_prob: float = 0.3, with_positions: bool = True) -> GraphStore:
    """Random small graphs. Node feature = the node's global id in the store
    (so a misplaced node is visible), target = the graph's index."""
    rng = np.random.default_rng(seed)
    graphs = []
    first_node = 0
    for g in range(n_graphs):
        n = int(rng.integers(min_nodes, max_nodes + 1))
        pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j],
                         dtype=np.int64).reshape(-1, 2)
        keep = pairs[rng.random(len(pairs)) < edge_prob]
        graph = {
            "n_node": n,
            "senders": keep[:, 0], "receivers": keep[:, 1],
            "node_features": (first_node + np.arange(n, dtype=np.float32))[:, None],
            "edge_features": rng.random((len(keep), 2)).astype(np.float32),
            "targets": np.array([g, -g], dtype=np.float32),
        }
        if with_positions:
            graph["positions"] = rng.normal(size=(n, 3)).astype(np.float32)
        graphs.append(graph)
        first_node += n
    return GraphStore.from_graphs(graphs, StoreMeta(name="random", source=f"seed={seed}"))


@pytest.fixture
def random_store() -> GraphStore:
    return make_random_store()


@pytest.fixture(autouse=True)
def _isolated_temp(tmp_path_factory, monkeypatch):
    """Each test's temporary folders in a folder of its own (its workers' too, through TMPDIR), so
    that another run on the machine neither sees nor touches them."""
    temp = tmp_path_factory.mktemp("tmp")
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Tests never write to the user's cache."""
    monkeypatch.setenv("BENCH_LIB_CACHE", str(tmp_path_factory.getbasetemp() / "bench_lib_cache"))
