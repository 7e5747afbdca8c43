"""GraphStore, its cache and checksum."""

from __future__ import annotations

import numpy as np
import pytest

from bench_lib.data import split_indices
from bench_lib.data.cache import cache_key, cached_build, load_store, save_store
from bench_lib.data.store import GraphStore, StoreMeta, gather_ranges
from tests.conftest import make_random_store


def assert_same_store(a: GraphStore, b: GraphStore) -> None:
    assert a.meta == b.meta
    assert a.arrays().keys() == b.arrays().keys()
    for k, v in a.arrays().items():
        assert np.array_equal(v, b.arrays()[k]), k
        assert v.dtype == b.arrays()[k].dtype, k


def test_gather_ranges_exact():
    assert gather_ranges(np.array([0, 2, 5, 6]), np.array([2, 0])).tolist() == [5, 0, 1]
    assert gather_ranges(np.array([0, 2, 5, 6]), np.array([], dtype=np.int64)).tolist() == []


def test_store_offsets_and_subset():
    store = make_random_store(n_graphs=5, seed=1)
    assert store.node_ptr.tolist() == [0] + np.cumsum(store.n_node).tolist()
    sub = store.subset(np.array([3, 1]))
    assert sub.n_node.tolist() == [store.n_node[3], store.n_node[1]]
    lo, hi = store.node_ptr[3], store.node_ptr[4]
    assert np.array_equal(sub.node_features[:hi - lo], store.node_features[lo:hi])
    assert np.array_equal(sub.targets, store.targets[[3, 1]])
    with pytest.raises(ValueError, match=r"subset index out of range \[0, 5\)"):
        store.subset(np.array([5]))


def test_store_rejects_inconsistent_columns():
    store = make_random_store(n_graphs=3)
    with pytest.raises(ValueError, match="GraphStore.senders has"):
        GraphStore(store.n_node, store.n_edge, store.senders[:-1], store.receivers,
                   store.node_features,
                   store.targets, store.meta)


def test_round_trip(tmp_path):
    store = make_random_store(n_graphs=7, seed=2)
    store = GraphStore(**{**store.arrays(), "meta": StoreMeta(
        name="rt", source="x", node_feature_names=("a",), target_names=("t", "u"),
        params={"cutoff": 6.0},
        n_input=9, skipped=({"input": 3, "reason": "bad"},))})
    save_store(store, tmp_path / "rt")
    assert_same_store(store, load_store(tmp_path / "rt"))


def test_corrupt_cache_is_rebuilt_not_trusted(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return make_random_store(n_graphs=6, seed=4)

    first = cached_build("toy", {"k": 1}, build, cache_dir=tmp_path)
    again = cached_build("toy", {"k": 1}, build, cache_dir=tmp_path)
    assert len(calls) == 1
    assert_same_store(first, again)
    stem = tmp_path / cache_key("toy", {"k": 1})
    column = stem / "node_features.bin"
    raw = bytearray(column.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    column.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum"):
        load_store(stem)
    rebuilt = cached_build("toy", {"k": 1}, build, cache_dir=tmp_path)
    assert len(calls) == 2
    assert_same_store(first, rebuilt)
    assert load_store(stem) is not None  # the rebuilt cache is sound again
    assert [p.name for p in tmp_path.iterdir()] == [stem.name]  # nothing left aside


def test_truncated_cache_is_rebuilt(tmp_path):
    calls = []
    def build():
        return calls.append(1) or make_random_store(n_graphs=3)
    cached_build("toy", {}, build, cache_dir=tmp_path)
    column = tmp_path / cache_key("toy", {}) / "senders.bin"
    column.write_bytes(column.read_bytes()[:100])
    cached_build("toy", {}, build, cache_dir=tmp_path)
    assert len(calls) == 2


def test_a_loaded_store_is_memory_mapped_read_only(tmp_path):
    store = make_random_store(n_graphs=20, seed=5)
    save_store(store, tmp_path / "m")
    loaded = load_store(tmp_path / "m")
    assert_same_store(store, loaded)
    for name, column in loaded.arrays().items():
        assert isinstance(column, np.memmap) and not column.flags.writeable, name


def test_a_large_store_is_spot_checked_on_load_and_verified_in_full_on_demand(tmp_path,
        monkeypatch):
    from bench_lib.data import cache

    save_store(make_random_store(n_graphs=30, seed=6), tmp_path / "big")
    monkeypatch.setattr(cache, "FULL_CHECK_BYTES", 0)  # as if it held millions of graphs
    column = tmp_path / "big" / "node_features.bin"
    raw = bytearray(column.read_bytes())
    raw[-1] ^= 0xFF  # inside the last MiB: the spot check sees it
    column.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum"):
        load_store(tmp_path / "big")
    with pytest.raises(ValueError, match="fails its size check"):
        column.write_bytes(bytes(raw[:-8]))
        load_store(tmp_path / "big")
    column.write_bytes(bytes(raw))  # full length again, one byte changed
    with pytest.raises(ValueError, match="fails its checksum"):
        cache.verify_store(tmp_path / "big", full=True)


def test_an_interrupted_build_leaves_no_store_to_read_and_is_rebuilt(tmp_path):
    from bench_lib.data.cache import StoreWriter

    store = make_random_store(n_graphs=8, seed=7)
    chunks = [store.subset(np.arange(0, 5)).arrays(), store.subset(np.arange(5, 8)).arrays()]
    with pytest.raises(KeyboardInterrupt):
        with StoreWriter(tmp_path / "cut") as w:
            w.append(**chunks[0])
            raise KeyboardInterrupt  # the build killed between chunks
    assert list(tmp_path.iterdir()) == []  # neither the store nor its temporary folder
    with pytest.raises(ValueError, match="no cached store"):
        load_store(tmp_path / "cut")

    def stream(w):
        for chunk in chunks:
            w.append(**chunk)
        return store.meta

    built = cached_build("streamed", {}, lambda: store, cache_dir=tmp_path, stream=stream)
    assert_same_store(store, built)
    assert isinstance(built.senders, np.memmap)


def test_cache_key_depends_on_params():
    assert cache_key("qm9", {"cutoff": 6.0}) != cache_key("qm9", {"cutoff": 5.0})
    assert cache_key("qm9", {"a": 1, "b": 2}) == cache_key("qm9", {"b": 2, "a": 1})


def test_splits_seeded_and_disjoint():
    a, b = split_indices(100, seed=3), split_indices(100, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [len(a[k]) for k in ("train", "val", "test")] == [80, 10, 10]
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), np.arange(100))
    assert not np.array_equal(split_indices(100, seed=4)["train"], a["train"])
    with pytest.raises(ValueError, match="fractions"):
        split_indices(10, fractions=(0.5, 0.5, 0.5))


def test_hydronet_like_streamed_to_disk_equals_the_in_memory_build(tmp_path, monkeypatch):
    from bench_lib.data import load_dataset, water

    monkeypatch.setattr(water, "CHUNK_GRAPHS", 70)  # three chunks, the last one short
    built = water.build_hydronet_like(n_graphs=170, seed=5, cutoff=4.0)
    streamed = load_dataset("hydronet-like", n_graphs=170, seed=5, cutoff=4.0, cache_dir=tmp_path)
    assert isinstance(streamed.positions, np.memmap) and streamed.n_graph == 170
    assert built.senders.dtype == np.uint8
    for name, column in built.arrays().items():
        assert np.array_equal(column, getattr(streamed, name)), name


def test_touching_a_mapped_store_makes_its_pages_resident_before_a_baseline(tmp_path):
    """A phase's RSS rise is measured from a baseline; a mapped column touched first during the
    phase would count the data file's pages as the phase's memory. touch_mapped makes them resident
    up front."""
    from bench_lib.data.store import touch_mapped
    from bench_lib.harness.measure import rss_mib

    store = make_random_store(n_graphs=20000, seed=3)  # a few MB of columns
    save_store(store, tmp_path / "big")
    mapped = load_store(tmp_path / "big")
    assert any(isinstance(v, np.memmap) for v in mapped.arrays().values())
    before = rss_mib()
    touched = touch_mapped(mapped)
    rise = rss_mib() - before
    assert touched > 4 << 20
    # the pages are now resident: a later baseline includes them
    assert rise > 0.5 * touched / 2**20
    again = rss_mib()
    touch_mapped(mapped)
    assert rss_mib() - again < 0.05 * touched / 2**20  # a second touch adds nothing


# short ranges: one index gather; long ones: one slice each
@pytest.mark.parametrize("length", [3, 200])
def test_take_ranges_is_the_rows_of_gather_ranges(tmp_path, length):
    from bench_lib.data.store import gather_ranges, take_ranges

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 2 * length, 40)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    column = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype=np.uint8,
                                       shape=(int(ptr[-1]), 2))
    column[:] = rng.integers(0, 255, column.shape)
    index = rng.permutation(40)[:25]
    want = column[gather_ranges(ptr, index)]
    got = take_ranges(column, ptr, index)
    assert type(got) is np.ndarray and got.dtype == np.uint8 and np.array_equal(got, want)
    assert take_ranges(column, ptr, np.array([], np.int64)).shape == (0, 2)


# short edge lists: numpy; long ones: the compiled pass
@pytest.mark.parametrize("max_nodes", [4, 30])
def test_batch_edges_shift_each_graph_to_its_first_node(max_nodes):
    from bench_lib.data.store import SLICE_ROWS, take_ranges

    store = make_random_store(30, seed=1, min_nodes=max_nodes // 2, max_nodes=max_nodes)
    index = np.array([7, 3, 3, 12, 0], dtype=np.int64)
    assert (store.n_edge[index].mean() >= SLICE_ROWS) == (max_nodes == 30)
    total = int(store.n_edge[index].sum())
    senders, receivers = np.full(total, -1, np.int64), np.full(total, -1, np.int64)
    store.batch_edges(index, senders, receivers)
    first = np.concatenate([[0], np.cumsum(store.n_node[index])[:-1]])
    shift = np.repeat(first, store.n_edge[index])
    assert np.array_equal(senders, take_ranges(store.senders, store.edge_ptr, index) + shift)
    assert np.array_equal(receivers, take_ranges(store.receivers, store.edge_ptr, index) + shift)
