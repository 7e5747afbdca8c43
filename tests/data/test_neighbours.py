"""Neighbour graphs built per batch equal the stored ones.

On small generated sets: per graph, the per-batch radius graph has the same
edges as the stored radius graph, the per-batch k-NN graph keeps exactly
``min(k, n - 1)`` senders per atom and, within the cutoff, the same edges as
the stored radius graph capped at k; SchNet gives the same outputs on either.
The compiled kernel, its numpy twin and the path that reads each atom's
stored k-th distance agree, ties included.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.data import neighbours as nb
from bench_lib.data import store as store_module
from bench_lib.data.neighbours import Neighbours
from bench_lib.data.radius import radius_graph
from bench_lib.data.water import build_hydronet_like
from bench_lib.strategies import STRATEGIES, collate
from tests.stack import backends_here

N = 240


@pytest.fixture(scope="module")
def sets():
    """The same clusters with stored and with per-batch edges (cutoff 6 A, k 28)."""
    kw = {"n_graphs": N, "seed": 3, "workers": 1}
    return {"stored": build_hydronet_like(**kw),
            "stored-all": build_hydronet_like(**kw, max_neighbors=None),
            "knn": build_hydronet_like(**kw, edges="knn"),
            "radius": build_hydronet_like(**kw, edges="radius"),
            "radius-all": build_hydronet_like(**kw, edges="radius", max_neighbors=None)}


def edge_sets(batch) -> list[set[tuple[int, int]]]:
    """Per real graph, its edges as (sender, receiver) pairs local to the graph."""
    n_real = batch.n_real_graph
    start = np.concatenate([[0], np.cumsum(batch.n_node.numpy())])
    graph_of_edge = np.repeat(np.arange(len(batch.n_edge)), batch.n_edge.numpy())
    s, r = batch.senders.numpy(), batch.receivers.numpy()
    out = []
    for g in range(n_real):
        e = graph_of_edge == g
        out.append(set(zip((s[e] - start[g]).tolist(), (r[e] - start[g]).tolist())))
    return out


@pytest.mark.slow
def test_per_batch_radius_graphs_equal_the_stored_ones(sets):
    order = np.random.default_rng(0).permutation(N)  # any batch composition
    for stored, built in (("stored", "radius"), ("stored-all", "radius-all")):
        assert sets[built].senders is None and sets[built].positions is not None
        assert np.array_equal(sets[stored].n_edge, sets[built].n_edge)
        for idx in np.array_split(order, 7):
            a, b = collate(sets[stored], idx), collate(sets[built], idx)
            assert edge_sets(a) == edge_sets(b)
            # the same edges in the same order
            assert torch.equal(a.senders, b.senders) and torch.equal(a.receivers, b.receivers)


def test_per_batch_knn_graphs_have_k_senders_and_match_the_stored_graph_within_the_cutoff(sets):
    knn, stored = sets["knn"], sets["stored"]
    k, cutoff = 28, 6.0
    n = knn.n_node
    assert np.array_equal(knn.n_edge, n * np.minimum(k, n - 1))
    idx = np.random.default_rng(1).permutation(N)[:60]
    a, b = collate(knn, idx), collate(stored, idx)
    pos = a.positions.numpy()
    for g, (got, want) in enumerate(zip(edge_sets(a), edge_sets(b))):
        size = int(a.n_node[g])
        receivers = np.bincount([r for _, r in got], minlength=size)
        assert (receivers == min(k, size - 1)).all()  # every atom: exactly min(k, n - 1) senders
        start = int(a.n_node[:g].sum())
        close = {(s, r) for s, r in got if np.linalg.norm(pos[start + s] - pos[start + r]) < cutoff}
        assert close == want


def test_schnet_gives_the_same_outputs_on_per_batch_and_stored_graphs(sets):
    from bench_lib.models import create_model

    torch.manual_seed(0)
    net = create_model("schnet", sets["stored"], hidden=16, filters=16, interactions=2).eval()
    idx = np.arange(40)
    for backend in backends_here():
        with torch.no_grad():
            ref = net(collate(sets["stored"], idx), backend=backend)
            for name in ("knn", "radius"):
                got = net(collate(sets[name], idx), backend=backend)
                torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5,
                                           msg=f"{name} ({backend})")
            got = net(collate(sets["radius-all"], idx), backend=backend)
            ref_all = net(collate(sets["stored-all"], idx), backend=backend)
            torch.testing.assert_close(got, ref_all, atol=1e-5, rtol=1e-5)


def test_packed_knn_batches_have_a_fixed_edge_count_per_pack(sets):
    knn = sets["knn"]
    strategy = STRATEGIES.create("pack-cutstock", max_nodes=154, packs_per_batch=2)
    planner = strategy.prepare(knn.n_node, knn.n_edge, np.random.default_rng(0))
    plan = planner.plan_epoch(np.random.default_rng(1))
    for b, idx in enumerate(plan.batches()):
        batch = collate(knn, idx, plan.shape_of(b))
        assert batch.shape == plan.shape
        assert int(batch.edge_mask.sum()) == int(knn.n_edge[idx].sum())


def lattice_with_ties() -> tuple[np.ndarray, np.ndarray]:
    """Graphs whose atoms sit on a cubic lattice: many neighbours at exactly equal distances."""
    g = np.arange(3, dtype=np.float32)
    cube = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) * np.float32(1.5)
    n_node = np.array([27, 8, 27, 2, 1, 12])
    pos = np.concatenate([cube[:27], cube[:8] + 10, cube[::-1][:27], cube[:2], cube[:1],
                          cube[5:17]])
    return n_node, pos.astype(np.float32)


@pytest.mark.parametrize("k", [1, 6, 7, 13, 18, 26, 40])
def test_ties_go_to_the_lower_index_in_every_path(k):
    n_node, pos = lattice_with_ties()
    _, ref_s, ref_r = radius_graph(n_node, pos, 100.0, k)  # stable sort: ties by index
    start = np.concatenate([[0], np.cumsum(n_node)[:-1]])
    rule = Neighbours("knn", 100.0, k)
    kth = rule.kth_distances(n_node, pos)
    for n_edge, s, r in (rule.edges(n_node, pos), rule.edges_numpy(n_node, pos),
                         rule.edges(n_node, pos, kth)):
        graph = np.repeat(np.arange(len(n_node)), n_edge)
        assert np.array_equal(s - start[graph], ref_s) and np.array_equal(r - start[graph], ref_r)
    radius = Neighbours("radius", 2.2, k)
    _, want_s, want_r = radius_graph(n_node, pos, 2.2, k)
    for n_edge, s, r in (radius.edges(n_node, pos), radius.edges_numpy(n_node, pos)):
        graph = np.repeat(np.arange(len(n_node)), n_edge)
        assert np.array_equal(s - start[graph], want_s) and np.array_equal(r - start[graph], want_r)


def test_kernel_numpy_and_stored_distances_agree(sets, monkeypatch):
    store = sets["knn"]
    n, pos = np.asarray(store.n_node), np.asarray(store.positions)
    for rule in (Neighbours("knn", 6.0, 28), Neighbours("knn", 6.0, 5), Neighbours("knn", 6.0, 200),
                 Neighbours("radius", 4.0, None), Neighbours("radius", 6.0, 10)):
        want = rule.edges_numpy(n, pos)
        for got in (rule.edges(n, pos),
                    rule.edges(n, pos, rule.kth_distances(n,
                                                          pos)) if rule.kind == "knn"
                    else rule.edges(n, pos)):
            assert all(np.array_equal(a, b) for a, b in zip(got, want)), rule
        assert np.array_equal(rule.edge_counts(n, pos), want[0])
    rule = Neighbours("knn", 6.0, 28)
    out = (np.full(rule.bound(n) + 5, -7), np.full(rule.bound(n) + 5, -7))  # written in place
    got = rule.edges(n, pos, store.knn_distance, out=out)
    assert (got[1].base is out[0]
            and all(np.array_equal(a, b) for a, b in zip(got, rule.edges_numpy(n, pos))))
    with pytest.raises(ValueError, match="bound"):
        rule.edges(n, pos, out=(out[0][:10], out[1][:10]))
    monkeypatch.setattr(nb, "_kernel", lambda: None)  # numba missing: numpy does it
    assert np.array_equal(rule.kth_distances(n, pos), store.knn_distance)
    assert all(np.array_equal(a, b) for a, b in zip(rule.edges(n, pos), rule.edges_numpy(n, pos)))


def test_a_stale_stored_distance_or_count_is_an_error_not_a_wrong_graph(sets):
    import dataclasses

    store = sets["knn"]
    bad = store.knn_distance.copy()
    bad[store.node_ptr[3]] *= 0.5  # atom 0 of graph 3 now claims a nearer k-th neighbour
    stale = dataclasses.replace(store, knn_distance=bad)
    with pytest.raises(ValueError, match="stale or corrupt store"):
        collate(stale, np.array([1, 3]))
    wrong = dataclasses.replace(sets["radius"], n_edge=sets["radius"].n_edge + 1)
    with pytest.raises(ValueError, match="n_edge is stale"):
        collate(wrong, np.array([0]))


def test_a_knn_store_streams_to_disk_without_edges_and_reads_back_memory_mapped(tmp_path,
        monkeypatch):
    from bench_lib.data import water

    monkeypatch.setattr(water, "CHUNK_GRAPHS", 50)  # three chunks, two worker processes
    kw = {"n_graphs": 130, "seed": 5, "edges": "knn"}
    built = water.build_hydronet_like(**kw, workers=1)
    store = load_dataset("hydronet-like", cache_dir=tmp_path, **kw)
    assert (store.senders is None and store.meta.neighbours
            == {"kind": "knn", "cutoff": 6.0, "k": 28})
    assert isinstance(store.positions, np.memmap) and isinstance(store.knn_distance, np.memmap)
    assert store.node_features.dtype == np.uint8
    assert not any(p.name.startswith(("senders", "receivers")) for p in tmp_path.rglob("*.bin"))
    for name, column in built.arrays().items():
        assert np.array_equal(column, getattr(store, name)), name
    sub = store.subset(np.array([7, 2]))
    assert torch.equal(collate(sub, np.arange(2)).senders, collate(store, np.array([7, 2])).senders)
    # every column read from its file, not its mapping
    monkeypatch.setattr(store_module, "PREAD_BYTES", 1)
    assert torch.equal(collate(store, np.array([9, 3, 4])).positions,
                       collate(built, np.array([9, 3, 4])).positions)
    assert np.array_equal(store_module.take_rows(store.positions, np.array([5, 6, 7, 0])),
                          built.positions[[5, 6, 7, 0]])


def test_edges_option_is_checked():
    with pytest.raises(ValueError, match="edges must be one of 'stored', 'radius', 'knn'"):
        load_dataset("hydronet-like", n_graphs=10, edges="kdtree", use_cache=False)
    with pytest.raises(ValueError, match="knn neighbours need k >= 1"):
        build_hydronet_like(n_graphs=10, edges="knn", max_neighbors=None)
    with pytest.raises(ValueError, match="options are"):
        load_dataset("nci5k", edges="knn")


def test_bad_positions_are_refused_before_the_kernel_reads_them():
    rule = Neighbours("radius", 6.0, 5)
    with pytest.raises(ValueError, match=r"positions must be \[N, 3\]"):
        rule.edges(np.array([2]), np.zeros((2, 2), np.float32))
    pos = np.zeros((3, 3), np.float32)
    pos[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite coordinates .*atom 1"):
        nb.edge_columns(np.array([3]), pos, "knn", 6.0, 2)
    # an empty graph last: numpy alone handles it as the kernel does
    got = rule.edges_numpy(np.array([3, 0]), np.eye(3, dtype=np.float32))
    assert ([a.tolist() for a in got]
            == [a.tolist() for a in rule.edges(np.array([3, 0]), np.eye(3, dtype=np.float32))])


def test_large_columns_are_read_from_the_file_they_were_opened_with(tmp_path, monkeypatch):
    """Reads in pieces (a read may return less than asked) and, after the cache is rebuilt
    under the same name, still from the old file, like the rest of the open store."""
    import os

    from bench_lib.data.cache import load_store, save_store

    store = build_hydronet_like(n_graphs=30, seed=1, edges="knn", workers=1)
    save_store(store, tmp_path / "s")
    opened = load_store(tmp_path / "s")
    monkeypatch.setattr(store_module, "PREAD_BYTES", 1)
    monkeypatch.setattr(store_module, "_READ_BYTES", 5)
    idx = np.array([40, 41, 42, 7, 8, 300])
    assert np.array_equal(store_module.take_rows(opened.positions, idx), store.positions[idx])
    os.rename(tmp_path / "s", tmp_path / "old")
    save_store(build_hydronet_like(n_graphs=30, seed=2, edges="knn", workers=1), tmp_path / "s")
    assert np.array_equal(store_module.take_rows(opened.positions, idx), store.positions[idx])
