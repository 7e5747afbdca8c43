"""The two embedded datasets: nci5k (RDKit's files) and qm9 (qm9pack)."""

from __future__ import annotations

import numpy as np
import pytest

from bench_lib.data import load_dataset
from bench_lib.data.molecules import parse_smiles
from bench_lib.data.radius import radius_graph

# The SMILES of RDKit's first_5K.smi that RDKit refuses (valence errors), by line.
NCI5K_BAD_LINES = [2097, 2897, 3226, 3369, 4508, 4595, 4596, 4780]


def test_nci5k_skips_exactly_the_unparseable(tmp_path, capfd):
    store = load_dataset("nci5k", cache_dir=tmp_path)
    out, err = capfd.readouterr()
    assert "valence" not in err  # RDKit's own logging is routed into our skips
    meta = store.meta
    assert meta.n_input == 4999
    assert [s["input"] for s in meta.skipped] == NCI5K_BAD_LINES
    assert all("valence" in s["reason"] for s in meta.skipped)
    assert store.n_graph == 4999 - len(NCI5K_BAD_LINES)
    assert store.n_node.max() == 122 and 16 < store.n_node.mean() < 17
    assert store.node_features.shape[1] == 9 and store.edge_features.shape[1] == 3
    assert meta.target_names == ("tpsa_A2",)
    assert store.targets[0, 0] == pytest.approx(34.14)  # first line of first_5k.tpsa.csv
    assert np.all(store.n_edge % 2 == 0)  # bonds both ways


def test_nci5k_subset_is_seeded(tmp_path):
    a = load_dataset("nci5k", n_graphs=50, seed=1, cache_dir=tmp_path)
    b = load_dataset("nci5k", n_graphs=50, seed=1, cache_dir=tmp_path)
    assert a.n_graph == 50 and np.array_equal(a.targets, b.targets)


def test_parse_smiles_reasons():
    assert parse_smiles("C1CC(")[1] == "SMILES syntax error"
    assert parse_smiles("CO(C)(C)C")[1].startswith("AtomValenceException")
    assert parse_smiles("CCO")[1] is None


def test_radius_graph_exact():
    # Three atoms on a line 1 A apart; cutoff 1.5 links neighbours only.
    pos = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 0], [0, 0, 3]], dtype=np.float32)
    n_edge, s, r = radius_graph(np.array([3, 2]), pos, cutoff=1.5)
    assert n_edge.tolist() == [4, 0]
    assert list(zip(s.tolist(), r.tolist())) == [(1, 0), (0, 1), (2, 1), (1, 2)]
    n_edge, s, r = radius_graph(np.array([3, 2]), pos, cutoff=10.0, max_neighbors=1)
    # each receiver keeps its nearest sender (ties by index)
    assert n_edge.tolist() == [3, 2]
    assert list(zip(s.tolist(), r.tolist())) == [(1, 0), (0, 1), (1, 2), (1, 0), (0, 1)]
    with pytest.raises(ValueError, match="cutoff must be > 0"):
        radius_graph(np.array([1]), pos[:1], cutoff=0)


def test_qm9_subset(tmp_path):
    store = load_dataset("qm9", n_graphs=40, seed=0, cache_dir=tmp_path)
    assert store.n_graph == 40 and store.meta.n_input == 130831
    assert store.n_node.max() <= 29 and store.positions.shape == (store.n_node.sum(), 3)
    assert store.meta.target_names[0] == "u0_atomization_ev"
    assert np.all(store.targets[:, 0] < 0)  # atomisation energies are negative
    assert set(np.unique(store.node_features)) <= {1, 6, 7, 8, 9}
    # Edges stay inside their molecule, are within the cutoff and capped at 28 per receiver.
    for g in range(store.n_graph):
        lo, hi = store.edge_ptr[g], store.edge_ptr[g + 1]
        s, r = store.senders[lo:hi], store.receivers[lo:hi]
        assert s.max(initial=0) < store.n_node[g] and r.max(initial=0) < store.n_node[g]
        pos = store.positions[store.node_ptr[g]:store.node_ptr[g + 1]]
        assert np.all(np.linalg.norm(pos[s] - pos[r], axis=1) < 6.0)
        assert np.bincount(r).max(initial=0) <= 28
    again = load_dataset("qm9", n_graphs=40, seed=0, cache_dir=tmp_path)
    assert np.array_equal(again.senders, store.senders)
    with pytest.raises(ValueError, match="qm9 options are"):
        load_dataset("qm9", n_graphs=5, cache_dir=tmp_path, radius=3)


def test_unknown_dataset_lists_known():
    with pytest.raises(ValueError, match="unknown dataset 'zzz'; known: .*nci5k.*qm9.*xyz:PATH"):
        load_dataset("zzz")
