"""Collation and the batch contract, exact values on two hand-made graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_lib.data.store import GraphStore, StoreMeta
from bench_lib.deps import import_dgl
from bench_lib.strategies import BatchShape, collate


@pytest.fixture
def two_graphs() -> GraphStore:
    # g0: 2 nodes, 0->1.  g1: 3 nodes, 0->2, 2->1.
    return GraphStore.from_graphs([
        {"n_node": 2, "senders": [0], "receivers": [1], "node_features": [[1.0], [2.0]],
         "edge_features": [[10.0]], "targets": [0.5], "positions": np.ones((2, 3))},
        {"n_node": 3, "senders": [0, 2], "receivers": [2, 1],
         "node_features": [[3.0], [4.0], [5.0]],
         "edge_features": [[20.0], [30.0]], "targets": [1.5], "positions": np.full((3, 3), 2.0)},
    ], StoreMeta(name="two", source="test"))


def test_collate_static_shape_exact(two_graphs):
    b = collate(two_graphs, np.array([1, 0]), BatchShape(n_node=8, n_edge=5, n_graph=4))
    assert b.senders.tolist() == [0, 2, 3, 5, 5]
    assert b.receivers.tolist() == [2, 1, 4, 5, 5]
    assert b.n_node.tolist() == [3, 2, 3, 0]
    assert b.n_edge.tolist() == [2, 1, 2, 0]
    assert b.node_graph.tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert b.node_mask.tolist() == [True] * 5 + [False] * 3
    assert b.edge_mask.tolist() == [True] * 3 + [False] * 2
    assert b.graph_mask.tolist() == [True, True, False, False]
    assert b.graph_index.tolist() == [1, 0, -1, -1]
    assert b.node_features[:, 0].tolist() == [3, 4, 5, 1, 2, 0, 0, 0]
    assert b.edge_features[:, 0].tolist() == [20, 30, 10, 0, 0]
    assert b.targets[:, 0].tolist() == [1.5, 0.5, 0, 0]
    assert b.positions[:, 0].tolist() == [2, 2, 2, 1, 1, 0, 0, 0]
    assert b.static_shape and b.n_real_graph == 2
    assert (b.node_efficiency() == pytest.approx(5 / 8) and b.edge_efficiency()
            == pytest.approx(3 / 5))
    # node: features f32(4) + positions 3*f32(12) + node_graph i64(8) + mask bool(1) = 25 bytes
    # edge: senders+receivers 2*i64(16) + features f32(4) + mask(1) = 21 bytes
    assert b.padding_bytes() == 3 * 25 + 2 * 21


def test_collate_unpadded(two_graphs):
    b = collate(two_graphs, np.array([0, 1]))
    assert not b.static_shape
    assert b.senders.tolist() == [0, 2, 4] and b.receivers.tolist() == [1, 4, 3]
    assert b.n_node.tolist() == [2, 3, 0] and b.graph_mask.tolist() == [True, True, False]
    assert b.node_mask.all() and b.edge_mask.all()


def test_shape_too_small_names_sizes(two_graphs):
    with pytest.raises(ValueError, match="2 graphs, 5 nodes, 3 edges does not fit shape n_node=5"):
        collate(two_graphs, np.array([0, 1]), BatchShape(n_node=5, n_edge=4, n_graph=3))
    with pytest.raises(ValueError, match="does not fit"):
        collate(two_graphs, np.array([0, 1]), BatchShape(n_node=9, n_edge=4, n_graph=2))


def test_budget_shape_reserves_padding_graph():
    assert BatchShape.for_budget(10, 20, 3) == BatchShape(11, 20, 4)
    with pytest.raises(ValueError, match="n_node must be >= 1"):
        BatchShape(0, 1, 1)


@pytest.mark.dgl
def test_to_dgl_batch_counts_and_readout(two_graphs):
    dgl = import_dgl()
    b = collate(two_graphs, np.array([1, 0]), BatchShape(n_node=8, n_edge=5, n_graph=4))
    g = b.to_dgl()
    assert g.batch_size == 3  # two real graphs + the padding graph
    assert g.batch_num_nodes().tolist() == [3, 2, 3]
    assert g.batch_num_edges().tolist() == [2, 1, 2]
    sums = dgl.readout_nodes(g, "feat", op="sum")[:, 0]
    assert sums.tolist() == [12.0, 3.0, 0.0]
    assert torch.equal(g.ndata["mask"], b.node_mask) and torch.equal(g.edata["mask"], b.edge_mask)
    src, dst = g.edges()
    assert src.tolist() == b.senders.tolist() and dst.tolist() == b.receivers.tolist()
