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
        GraphStore(store.n_node, store.n_edge, store.senders[:-1], store.receivers, store.node_features,
                   store.targets, store.meta)


def test_round_trip(tmp_path):
    store = make_random_store(n_graphs=7, seed=2)
    store = GraphStore(**{**store.arrays(), "meta": StoreMeta(
        name="rt", source="x", node_feature_names=("a",), target_names=("t", "u"), params={"cutoff": 6.0},
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
    npz = tmp_path / (cache_key("toy", {"k": 1}) + ".npz")
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum"):
        load_store(npz.with_suffix(""))
    rebuilt = cached_build("toy", {"k": 1}, build, cache_dir=tmp_path)
    assert len(calls) == 2
    assert_same_store(first, rebuilt)
    assert load_store(npz.with_suffix("")) is not None  # the rebuilt cache is sound again


def test_truncated_cache_is_rebuilt(tmp_path):
    calls = []
    build = lambda: calls.append(1) or make_random_store(n_graphs=3)  # noqa: E731
    cached_build("toy", {}, build, cache_dir=tmp_path)
    npz = tmp_path / (cache_key("toy", {}) + ".npz")
    npz.write_bytes(npz.read_bytes()[:100])
    cached_build("toy", {}, build, cache_dir=tmp_path)
    assert len(calls) == 2


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
