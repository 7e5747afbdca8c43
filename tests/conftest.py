"""Shared fixtures: a seeded random-graph factory and a per-test cache dir."""

from __future__ import annotations

import numpy as np
import pytest

from bench_lib.data.store import GraphStore, StoreMeta


def make_random_store(n_graphs: int = 60, seed: int = 0, min_nodes: int = 1, max_nodes: int = 12,
                      edge_prob: float = 0.3, with_positions: bool = True) -> GraphStore:
    """Random small graphs. Node feature = the node's global id in the store
    (so a misplaced node is visible), target = the graph's index."""
    rng = np.random.default_rng(seed)
    graphs = []
    first_node = 0
    for g in range(n_graphs):
        n = int(rng.integers(min_nodes, max_nodes + 1))
        pairs = np.array([(i, j) for i in range(n) for j in range(n) if i != j], dtype=np.int64).reshape(-1, 2)
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
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Tests never write to the user's cache."""
    monkeypatch.setenv("BENCH_LIB_CACHE", str(tmp_path_factory.getbasetemp() / "bench_lib_cache"))
