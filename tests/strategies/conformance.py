"""The conformance checks every registered strategy must pass.

``check_conformance`` is called for each built-in and for a third-party
plugin registered through the entry-point group.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench_lib.data.store import GraphStore
from bench_lib.strategies import GraphTooLargeError, Strategy
from bench_lib.strategies.loader import BatchLoader


def check_conformance(strategy: Strategy, store: GraphStore, seed: int = 3) -> None:
    # a split in a non-trivial order
    indices = np.arange(0, store.n_graph, dtype=np.int64)[::-1].copy()
    loader = BatchLoader(store, strategy, indices=indices, seed=seed)
    n = len(indices)
    for epoch in (0, 1):
        plan = loader.plan(epoch)
        # Every graph exactly once per epoch.
        assert np.array_equal(np.sort(plan.graph_index), np.arange(n)), "graphs dropped or repeated"
        assert plan.batch_ptr[0] == 0 and plan.batch_ptr[-1] == n
        assert np.all(np.diff(plan.batch_ptr) >= 1), "empty batch in plan"
        assert (plan.shape is not None) == strategy.static_shape
        if plan.buckets is not None:  # a few shapes, each used, the batches of each padded to it
            assert set(plan.bucket_of.tolist()) <= set(range(len(plan.buckets)))
            assert plan.distinct_shapes(loader.n_node, loader.n_edge) <= len(plan.buckets)
        slots_n = real_n = slots_e = real_e = 0
        for b, batch in enumerate(loader.epoch(epoch)):
            positions = plan.graph_index[plan.batch_ptr[b]:plan.batch_ptr[b + 1]]
            gidx = indices[positions]
            k, nn, ne = len(gidx), store.n_node[gidx], store.n_edge[gidx]
            # Static shapes: every batch has the plan's shape.
            if plan.padded:
                assert batch.shape == plan.shape_of(b)
                assert batch.static_shape
            # Graph slots: real graphs, then the padding graph, then empties.
            assert batch.graph_mask.tolist() == [True] * k + [False] * (len(batch.graph_mask) - k)
            assert batch.graph_index[:k].tolist() == gidx.tolist()
            assert np.all(batch.graph_index[k:].numpy() == -1)
            assert (batch.n_node[:k].tolist() == nn.tolist() and batch.n_edge[:k].tolist()
                    == ne.tolist())
            assert int(batch.n_node.sum()) == len(batch.node_mask)
            assert int(batch.n_edge.sum()) == len(batch.edge_mask)
            assert int(batch.n_node[k + 1:].sum()) == 0 and int(batch.n_edge[k + 1:].sum()) == 0
            # Masks true exactly on real entries.
            rn, re = int(nn.sum()), int(ne.sum())
            assert batch.node_mask.tolist() == [True] * rn + [False] * (len(batch.node_mask) - rn)
            assert batch.edge_mask.tolist() == [True] * re + [False] * (len(batch.edge_mask) - re)
            # Real nodes carry their own features; padding is zero.
            want = np.concatenate([store.node_features[store.node_ptr[g]:store.node_ptr[g + 1]]
                                   for g in gidx])
            assert np.array_equal(batch.node_features[:rn].numpy(), want)
            assert not batch.node_features[rn:].any()
            assert np.array_equal(batch.targets[:k].numpy(), store.targets[gidx])
            assert not batch.targets[k:].any()
            # Real edges join nodes of their own graph; pad edges join pad nodes only.
            s, r = batch.senders.numpy(), batch.receivers.numpy()
            node_graph = batch.node_graph.numpy()
            assert np.array_equal(node_graph,
                                  np.repeat(np.arange(len(batch.n_node)), batch.n_node.numpy()))
            edge_graph = np.repeat(np.arange(len(batch.n_edge)), batch.n_edge.numpy())
            assert (np.array_equal(node_graph[s], edge_graph)
                    and np.array_equal(node_graph[r], edge_graph))
            pad = ~batch.edge_mask.numpy()
            assert (not batch.node_mask.numpy()[s[pad]].any()
                    and not batch.node_mask.numpy()[r[pad]].any())
            slots_n += len(batch.node_mask)
            slots_e += len(batch.edge_mask)
            real_n += rn
            real_e += re
        # Reported efficiency equals the counted slots.
        node_eff, edge_eff = plan.efficiency(loader.n_node, loader.n_edge)
        assert node_eff == pytest.approx(real_n / slots_n, rel=1e-12)
        if slots_e:
            assert edge_eff == pytest.approx(real_e / slots_e, rel=1e-12)
    # Same seed, same plan; the plan does not depend on earlier calls.
    again = BatchLoader(store, strategy, indices=indices, seed=seed)
    for epoch in (1, 0):
        a, b = loader.plan(epoch), again.plan(epoch)
        assert (np.array_equal(a.graph_index, b.graph_index)
                and np.array_equal(a.batch_ptr, b.batch_ptr))
    # Budgets respected.
    check_budgets(strategy, loader)


def check_budgets(strategy: Strategy, loader: BatchLoader) -> None:
    plan = loader.plan(0)
    for name, sizes in (("max_nodes", loader.n_node), ("max_edges", loader.n_edge)):
        cap = getattr(strategy, name, None)
        if cap is None:
            continue
        packs = getattr(loader.planner, "packs", None)
        if packs is not None:
            assert packs.pack_sums(sizes).max() <= cap, f"a pack exceeds {name}={cap}"
        else:
            assert plan.batch_sums(sizes).max() <= cap, f"a batch exceeds {name}={cap}"
    cap_g = getattr(strategy, "max_graphs", None)
    packs = getattr(loader.planner, "packs", None)
    if cap_g is not None and packs is not None:
        assert np.diff(packs.pack_ptr).max() <= cap_g
    elif cap_g is not None:
        assert np.diff(plan.batch_ptr).max() <= cap_g
    if hasattr(strategy, "batch_graphs"):
        assert np.diff(plan.batch_ptr).max() <= strategy.batch_graphs


def check_oversized_error(strategy: Strategy, store: GraphStore) -> None:
    """A graph over ``max_nodes`` raises, naming its index and both sizes."""
    cap = getattr(strategy, "max_nodes", None)
    if cap is None:
        pytest.skip(f"{strategy.name} has no node capacity")
    n_node = np.array([1, 2, cap + 5, 3], dtype=np.int64)
    with pytest.raises(
        GraphTooLargeError, match=rf"graph 2 has {cap + 5} nodes.*capacity of {cap} nodes"):
        strategy.prepare(n_node, np.zeros_like(n_node), np.random.default_rng(0))
