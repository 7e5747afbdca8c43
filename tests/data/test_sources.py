"""Dataset sources: local files, OGB layout, peptides, water clusters, bad input.

Tests on ``../shared/data`` skip with a reason when it is absent; each loader
also has a test on a tiny file the test writes itself.
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench_lib.data import load_dataset, store_splits
from bench_lib.cli.data import main as data_main
from bench_lib.data.dgl_sets import build_peptides, safe_load_pickle
from bench_lib.data.local_files import build_csv, build_sdf, build_xyz
from bench_lib.data.ogb_sets import build_ogb
from bench_lib.data.water import HYDRONET_COUNTS, build_hydronet_like

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.exists(),
                                  reason=f"reference data {SHARED} not present")


# -- csv ---------------------------------------------------------------------------
def test_csv_guesses_columns_and_counts_bad_rows(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_bytes(b"name,SMILES,logp,tpsa\r\n\r\na,CCO,0.1,20.2\r\nb,C1CC(,0.2,3\r\nc,CCN,,4\r\n"
                     b"d,CO(C)(C)C,0.5,1\r\ne,c1ccccc1,2.0,0.0\r\n")
    store = build_csv(path, target_columns=["logp", "tpsa"])
    assert store.n_graph == 2 and store.meta.target_names == ("logp", "tpsa")
    assert store.meta.n_input == 5 and store.meta.params["id_column"] == "name"
    assert [(s["line"], s["id"], s["reason"].split(":")[0]) for s in store.meta.skipped] == [
        (4, "b", "SMILES syntax error"), (5, "c", "missing value in 'logp'"),
        (6, "d", "AtomValenceException")]
    assert store.targets.tolist() == [[pytest.approx(0.1), pytest.approx(20.2)], [2.0, 0.0]]
    assert load_dataset(f"csv:{path}", cache_dir=tmp_path / "c",
                        target_columns=["logp", "tpsa"]).n_graph == 2
    # only the used column drops rows: row c has a tpsa
    assert build_csv(path, target_columns="tpsa").n_graph == 3


def test_csv_unusable_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: the file is empty"):
        build_csv(empty)
    nosmiles = tmp_path / "x.csv"
    nosmiles.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"x.csv: no SMILES column among \['a', 'b'\]"):
        build_csv(nosmiles)
    with pytest.raises(ValueError, match="no column 'mol'"):
        build_csv(nosmiles, smiles_column="mol")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_csv(tmp_path / "missing.csv")


@pytest.mark.slow
@needs_shared
def test_moleculenet_hiv_csv():
    store = load_dataset(f"csv:{SHARED / 'moleculenet' / 'HIV.csv'}", smiles_column="smiles",
                         target_columns=["HIV_active"])
    assert store.meta.n_input == 41127
    assert store.n_graph + len(store.meta.skipped) == 41127
    assert len(store.meta.skipped) == 7  # metal complexes RDKit refuses


# -- xyz ---------------------------------------------------------------------------
XYZ = """3
 Ord_Energy   -1.5
O 0.0 0.0 0.0
H 0.9572 0.0 0.0
H -0.24 0.93 0.0
3
 Ord_Energy   -2.5
O 0.0 0.0 0.0
H 0.9572 0.0 0.0
6
broken frame: says 6 atoms, has 3
O 5.0 0.0 0.0
H 5.9 0.0 0.0
H 4.8 0.9 0.0
3
-3.5
O 0.0 0.0 0.0
H 0.0 0.9572 0.0
H 0.93 -0.24 0.0
"""


def test_xyz_frames_energies_and_bad_counts(tmp_path):
    path = tmp_path / "w.xyz"
    path.write_text(XYZ)
    store = build_xyz(path, cutoff=1.2, max_neighbors=None)
    assert store.n_graph == 2 and store.targets[:, 0].tolist() == [-1.5, -3.5]
    assert [s["reason"] for s in store.meta.skipped] == ["frame says 3 atoms but has 2 atom lines",
                                                         "frame says 6 atoms but has 3 atom lines"]
    assert store.node_features[:, 0].tolist() == [8, 1, 1, 8, 1, 1]
    assert store.n_edge.tolist() == [4, 4]  # O-H both ways, H-H (1.5 A) beyond 1.2
    bad = tmp_path / "bad.xyz"
    bad.write_text("three\nx\n")
    with pytest.raises(ValueError, match=r"bad.xyz:1: expected an atom count"):
        build_xyz(bad)


@needs_shared
def test_real_water_clusters():
    store = load_dataset(f"xyz:{SHARED / 'water' / 'uw_minima'}", cutoff=5.0, max_neighbors=None)
    assert store.n_graph == 1184 and not store.meta.skipped
    assert set(np.unique(store.n_node)) == {9, 12, 15, 18, 21, 24}
    assert np.all(store.targets < 0)


# -- sdf ---------------------------------------------------------------------------
def test_sdf_with_conformers(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    path = tmp_path / "m.sdf"
    writer = Chem.SDWriter(str(path))
    for smi, y in (("CCO", 1.0), ("CCN", 2.0)):
        mol = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(mol, randomSeed=1)
        mol.SetProp("y", str(y))
        mol.SetDoubleProp("y", y)
        writer.write(mol)
    writer.close()
    # a record whose atom block is cut short
    path.write_text(path.read_text() + "x\n\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\n    0.0 "
                                       "0.0 0.0 C\n$$$$\n")
    store = build_sdf(path, cutoff=3.0)
    assert (store.n_graph == 2 and store.meta.target_names == ("y",)
            and store.targets[:, 0].tolist() == [1.0, 2.0])
    assert store.n_node.tolist() == [9, 10] and store.positions.shape == (19, 3)
    assert [s["reason"] for s in store.meta.skipped] == ["RDKit could not read the record"]


# -- OGB layout ----------------------------------------------------------------------
def write_tiny_ogb(root: Path, truncate: bool = False) -> None:
    raw = root / "ogbg_molhiv" / "raw"
    raw.mkdir(parents=True)
    split = root / "ogbg_molhiv" / "split" / "scaffold"
    split.mkdir(parents=True)

    def put(path, rows):
        data = "\n".join(",".join(map(str, r)) for r in rows).encode() + b"\n"
        blob = gzip.compress(data)
        path.write_bytes(blob[: len(blob) // 2] if truncate and path.name == "edge.csv.gz"
                         else blob)

    put(raw / "num-node-list.csv.gz", [[2], [3]])
    put(raw / "num-edge-list.csv.gz", [[2], [4]])
    put(raw / "edge.csv.gz", [[0, 1], [1, 0], [0, 1], [1, 0], [1, 2], [2, 1]])
    put(raw / "node-feat.csv.gz", [[5, 0, 1, 5, 0, 0, 1, 0, 0]] * 5)
    put(raw / "edge-feat.csv.gz", [[0, 0, 0]] * 6)
    put(raw / "graph-label.csv.gz", [[0], [1]])
    put(split / "train.csv.gz", [[1]])
    put(split / "valid.csv.gz", [[0]])
    put(split / "test.csv.gz", [[]])


def test_ogb_layout_tiny(tmp_path):
    write_tiny_ogb(tmp_path)
    store = build_ogb("ogbg-molhiv", tmp_path)
    assert store.n_node.tolist() == [2, 3] and store.n_edge.tolist() == [2, 4]
    assert store.receivers.tolist() == [1, 0, 1, 0, 2, 1]
    assert store.split.tolist() == [1, 0]
    assert [s.tolist() for s in store_splits(store).values()] == [[1], [0], []]


def test_ogb_truncated_file_is_named(tmp_path):
    write_tiny_ogb(tmp_path, truncate=True)
    with pytest.raises(ValueError, match=r"edge.csv.gz: unreadable .*truncated download"):
        build_ogb("ogbg-molhiv", tmp_path)


def test_ogb_missing_offline_says_where_what_and_url(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ogbg-molpcba not found offline: looked for "
                                                r".*ogbg_molpcba.*downloads from "
                                                r"http.*pcba.zip.*download=true"):
        load_dataset("ogbg-molpcba", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"zinc not found offline.*ZINC12k.zip"):
        load_dataset("zinc", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"peptides-func not found offline"):
        load_dataset("peptides-func", data_dir=tmp_path)


@needs_shared
def test_ogbg_molhiv_real_layout():
    store = load_dataset("ogbg-molhiv", data_dir=SHARED / "ogb")
    assert store.n_graph == 41127
    assert [len(v) for v in store_splits(store).values()] == [32901, 4113, 4113]
    assert store.node_features.shape[1] == 9 and store.edge_features.shape[1] == 3


# -- peptides ------------------------------------------------------------------------
def test_peptides_tiny_and_safe_split(tmp_path):
    base = tmp_path / "peptides-functional"
    base.mkdir()
    rows = (",smiles,peptide_seq,labels,identifier\n0,CC(N)C(=O)O,A,\"[0, 1, 0, 0, 0, 0, 0, 0, 0, "
            "1]\",x\n1,NCC(=O)NCC(=O)O,GG,\"[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]\",y\n2,C1CC(,Z,\"[0, 0, "
            "0, 0, 0, 0, 0, 0, 0, 0]\",z\n")
    (base / "peptide_multi_class_dataset.csv.gz").write_bytes(gzip.compress(rows.encode()))
    with open(base / "splits_random_stratified_peptide.pickle", "wb") as f:
        pickle.dump({"train": np.array([0, 2]), "val": np.array([1]),
                     "test": np.array([], dtype=np.int64)}, f)
    store = build_peptides(tmp_path)
    assert store.n_graph == 2 and store.targets.shape == (2, 10) and store.targets[0, 1] == 1
    assert store.split.tolist() == [0, 1] and store.meta.skipped[0]["input"] == 2


def test_split_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"train": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        safe_load_pickle(path)


@needs_shared
def test_peptides_real_split_file_loads_safely():
    splits = safe_load_pickle(SHARED / "lrgb" / "peptides-functional"
                              / "splits_random_stratified_peptide.pickle")
    assert [len(splits[k]) for k in ("train", "val", "test")] == [10873, 2331, 2331]


# -- hydronet-like -------------------------------------------------------------------
def test_hydronet_like_geometry_and_sizes(tmp_path):
    store = build_hydronet_like(n_graphs=300, seed=3, cutoff=5.0, max_neighbors=None)
    assert store.n_graph == 300 and np.all(store.n_node % 3 == 0)
    assert set(np.unique(store.n_node)) <= set(HYDRONET_COUNTS["full_4.5M"])
    pos = store.positions.reshape(-1, 3, 3)  # O, H, H per water
    assert np.allclose(np.linalg.norm(pos[:, 1] - pos[:, 0], axis=1), 0.9572, atol=1e-4)
    hoh = np.einsum("ij,ij->i", pos[:, 1] - pos[:, 0], pos[:, 2] - pos[:, 0]) / 0.9572**2
    assert np.allclose(np.degrees(np.arccos(hoh)), 104.52, atol=1e-2)
    for g in range(20):
        o = store.positions[store.node_ptr[g]:store.node_ptr[g + 1]][::3]
        d = np.linalg.norm(o[:, None] - o[None], axis=-1)[np.triu_indices(len(o), 1)]
        assert d.min() > 2.5  # no two oxygens overlap
    again = build_hydronet_like(n_graphs=300, seed=3, cutoff=5.0, max_neighbors=None)
    assert np.array_equal(again.positions, store.positions)  # seeded
    assert abs(store.n_node.mean() - 70.7) < 3  # HydroNet's mean size


@needs_shared
def test_hydronet_like_density_matches_real_clusters():
    """At 5 A, mean degree per atom of generated clusters vs the real lowest-energy ones
    (w10-w30)."""
    real = load_dataset(f"xyz:{SHARED / 'water' / 'lowest'}", cutoff=5.0, max_neighbors=None)
    big = real.n_node >= 30
    real_degree = real.n_edge[big].sum() / real.n_node[big].sum()
    gen = build_hydronet_like(n_graphs=400, seed=0, cutoff=5.0, max_neighbors=None)
    gen_degree = gen.n_edge.sum() / gen.n_node.sum()
    assert 0.8 < gen_degree / real_degree < 1.25, (gen_degree, real_degree)


# -- stats CLI -----------------------------------------------------------------------
def test_stats_cli(capsys, tmp_path):
    assert data_main(["stats", "nci5k", "hydronet-like", "--n-graphs", "200"]) == 0
    out = capsys.readouterr().out
    assert "| nci5k | 200 |" in out and "| hydronet-like | 200 |" in out and "pad node eff" in out
    assert data_main(["stats", "ogbg-molpcba", "--data-dir", str(tmp_path)]) == 2
    assert "not found offline" in capsys.readouterr().err


def test_pcqm4mv2_layout_tiny(tmp_path):
    import torch

    base = tmp_path / "pcqm4m-v2"
    (base / "raw").mkdir(parents=True)
    csv = "idx,smiles,homolumogap\n0,CCO,5.5\n1,C1CC(,4.0\n2,c1ccccc1,\n"
    (base / "raw" / "data.csv.gz").write_bytes(gzip.compress(csv.encode()))
    torch.save({"train": torch.tensor([0, 1]), "valid": torch.tensor([], dtype=torch.long),
                "test-dev": torch.tensor([2]),
                "test-challenge": torch.tensor([], dtype=torch.long)},
               base / "split_dict.pt")
    store = build_ogb("pcqm4mv2", tmp_path)
    assert store.n_graph == 2 and store.meta.skipped[0]["input"] == 1
    assert store.split.tolist() == [0, 2]
    # test-dev: no label
    assert store.targets[0, 0] == pytest.approx(5.5) and np.isnan(store.targets[1, 0])


def test_pcqm4mv2_streams_in_chunks_into_a_memory_mapped_store(tmp_path, monkeypatch):
    """PCQM4Mv2 is read chunk by chunk (two worker processes parse the SMILES) and written to disk;
    the store equals the in-memory build, skipped rows keep their global input numbers."""
    import torch

    from bench_lib.data import load_dataset, ogb_sets

    base = tmp_path / "pcqm4m-v2"
    (base / "raw").mkdir(parents=True)
    rows = ["CCO,5.5", "C1CC(,4.0", "c1ccccc1,", "CC(=O)O,3.25", "N#N,7.0", "not-a-smiles,1.0",
            "CCN,2.5"]
    csv = "idx,smiles,homolumogap\n" + "".join(f"{k},{r}\n" for k, r in enumerate(rows))
    (base / "raw" / "data.csv.gz").write_bytes(gzip.compress(csv.encode()))
    torch.save({"train": torch.tensor([0, 1, 3, 6]), "valid": torch.tensor([4]),
                "test-dev": torch.tensor([2]),
                "test-challenge": torch.tensor([5])}, base / "split_dict.pt")
    monkeypatch.setattr(ogb_sets, "PCQM_CHUNK", 3)  # three chunks, the last one short
    built = build_ogb("pcqm4mv2", tmp_path)
    store = load_dataset("pcqm4mv2", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert isinstance(store.node_features, np.memmap)
    assert [s["input"] for s in store.meta.skipped] == [1, 5] and store.meta.n_input == 7
    assert store.split.tolist() == [0, 2, 0, 1, 0]
    assert np.allclose(store.targets[:, 0], [5.5, np.nan, 3.25, 7.0, 2.5], equal_nan=True)
    for name, column in built.arrays().items():
        assert np.array_equal(column, getattr(store, name),
                              equal_nan=column.dtype.kind == "f"), name
    assert [s["input"] for s in built.meta.skipped] == [1, 5]


def test_pcqm4mv2_with_no_parsable_molecule_is_a_clear_error(tmp_path):
    import torch

    from bench_lib.data import load_dataset

    base = tmp_path / "pcqm4m-v2"
    (base / "raw").mkdir(parents=True)
    (base / "raw" / "data.csv.gz").write_bytes(
        gzip.compress(b"idx,smiles,homolumogap\n0,C1CC(,4.0\n"))
    torch.save({"train": torch.tensor([0]), "valid": torch.tensor([], dtype=torch.long),
                "test-dev": torch.tensor([], dtype=torch.long)}, base / "split_dict.pt")
    with pytest.raises(ValueError, match="no molecule .* could be parsed"):
        load_dataset("pcqm4mv2", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("pcqm4mv2-*"))  # nothing half-built left to read


def test_a_dataset_registers_like_a_strategy_and_loads_by_name(tmp_path):
    """A :class:`DatasetSource` subclass in the registry is loaded, cached and subset like a
    built-in."""
    from bench_lib.data import DATASETS, Build, DatasetSource, load_dataset

    nci = load_dataset("nci5k", n_graphs=30, seed=1, cache_dir=tmp_path)

    @DATASETS.register
    class Thirty(DatasetSource):
        name = "thirty-test"

        def resolve(self, n_graphs, seed, options):
            return Build("thirty-test", {"n": 30}, lambda: nci, True)

    try:
        store = load_dataset("thirty-test", n_graphs=10, seed=0, cache_dir=tmp_path)
        assert store.n_graph == 10 and "thirty-test" in DATASETS.names()
        # not bench_lib's own
        assert DATASETS.get("thirty-test") is Thirty and DATASETS.is_plugin("thirty-test")
    finally:
        DATASETS.unregister("thirty-test")
    assert "thirty-test" not in DATASETS


def test_the_dataset_example_of_the_docs_registers_and_loads(tmp_path):
    """docs/datasets.md's example, as written: registered, loaded and subset by name."""
    import re
    from pathlib import Path

    from bench_lib.data import DATASETS, load_dataset

    page = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    code = re.search(r"<!-- dataset-example -->\n```python\n(.*?)```", page, re.S).group(1)
    try:
        exec(compile(code, "datasets.md", "exec"), {})
        store = load_dataset("chains", n_graphs=50, seed=1, cache_dir=tmp_path, longest=12)
        assert store.n_graph == 50 and store.n_node.max() <= 12
        assert store.meta.node_feature_dims == (4,)
        assert (store.n_edge == 2 * (store.n_node - 1)).all()
        with pytest.raises(ValueError, match=r"chains options are \['longest'\]"):
            load_dataset("chains", cache_dir=tmp_path, size=3)
    finally:
        DATASETS.unregister("chains")
