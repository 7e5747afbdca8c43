"""A chemist's own files: separators, compression, headers, targets, skipped records with their lines."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from bench_lib.data.__main__ import main as data_main
from bench_lib.data.local_files import build_csv, build_sdf, build_xyz

MOLS = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl"]


def table(sep: str, header=("smiles", "y"), rows=None) -> str:
    rows = rows or [(s, str(k + 0.5)) for k, s in enumerate(MOLS)]
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


@pytest.mark.parametrize("name,sep,opener", [("m.csv", ",", open), ("m.tsv", "\t", open), ("m.txt", ";", open),
                                             ("m.csv.gz", ",", gzip.open), ("m.tsv.gz", "\t", gzip.open)])
def test_separator_is_sniffed_and_compression_read_by_extension(tmp_path, name, sep, opener):
    path = tmp_path / name
    with opener(path, "wt") as f:
        f.write(table(sep))
    store = build_csv(path)
    assert store.n_graph == len(MOLS) and store.meta.target_names == ("y",)
    assert store.meta.params["separator"] == sep
    assert store.targets[:, 0].tolist() == [k + 0.5 for k in range(len(MOLS))]


def test_common_headers_and_a_named_target_with_no_comma(tmp_path):
    path = tmp_path / "bbbp.csv"
    # TDC's "Drug" header, an ID column, a target named as one string (never split into characters)
    path.write_text(table(",", ("Drug_ID", "Drug", "logBB"), [(f"m{k}", s, str(k)) for k, s in enumerate(MOLS)]))
    store = build_csv(path, target_columns="logBB")
    assert store.meta.params["smiles_column"] == "Drug" and store.meta.params["id_column"] == "Drug_ID"
    assert store.meta.target_names == ("logBB",) and store.n_graph == len(MOLS)


def test_target_choice_without_a_name(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text(table(",", ("smiles", "label_text", "y"), [(s, "p", "1") for s in MOLS]))
    store = build_csv(one)
    assert store.meta.target_names == ("y",) and "the only numeric column" in store.meta.params["note"]
    several = tmp_path / "several.csv"
    several.write_text(table(",", ("smiles", "measured", "predicted"), [(s, "1", "2") for s in MOLS]))
    with pytest.raises(ValueError, match=r"several numeric columns \(measured, predicted\); choose the target "
                                         r"with --target"):
        build_csv(several)
    assert build_csv(several, target_columns=["measured"]).meta.target_names == ("measured",)


def test_smiles_only_file_has_no_target(tmp_path):
    path = tmp_path / "zinc.smi.csv"
    path.write_text("smiles\n" + "\n".join(MOLS) + "\n")
    store = build_csv(path)
    assert store.n_graph == len(MOLS) and store.meta.target_names == () and store.targets.shape == (len(MOLS), 0)
    assert "no target" in store.meta.params["note"]


def test_a_row_is_dropped_only_for_its_used_column(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = [(s, "1.0" if k % 2 else "", str(k)) for k, s in enumerate(MOLS)]  # gaps in "other" only
    path.write_text(table(",", ("smiles", "other", "y"), rows))
    store = build_csv(path, target_columns="y")
    assert store.n_graph == len(MOLS) and not store.meta.skipped


def test_text_labels_are_a_clear_error_and_stray_text_is_skipped(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(table(",", ("smiles", "p_np"), [(s, "yes" if k % 2 else "no") for k, s in enumerate(MOLS)]))
    with pytest.raises(ValueError, match=r"column 'p_np' holds text labels \('no', 'yes'...\).*not supported"):
        build_csv(labels, target_columns="p_np")
    stray = tmp_path / "stray.csv"
    stray.write_text(table(",", ("smiles", "y"), [(s, "n.d." if k == 2 else str(k)) for k, s in enumerate(MOLS)]))
    store = build_csv(stray)
    assert [(s["line"], s["reason"]) for s in store.meta.skipped] == [(4, "non-numeric value 'n.d.' in 'y'")]


def test_non_finite_targets_are_skipped_and_counted(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text(table(",", ("smiles", "y"), [(s, ["inf", "-inf", "nan", "1", "2", "3"][k])
                                                 for k, s in enumerate(MOLS)]))
    store = build_csv(path)
    assert store.n_graph == 3 and np.isfinite(store.targets).all()
    assert [(s["line"], s["reason"]) for s in store.meta.skipped] == [
        (2, "non-finite value in 'y'"), (3, "non-finite value in 'y'"), (4, "missing value in 'y'")]


def test_binary_and_headerless_files_are_refused(tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ValueError, match="binary file"):
        build_csv(binary)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n\n")
    with pytest.raises(ValueError, match="no rows"):
        build_csv(blank)


def _sdf(path, coords_3d: list[bool]):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    writer = Chem.SDWriter(str(path))
    for k, three_d in enumerate(coords_3d):
        mol = Chem.AddHs(Chem.MolFromSmiles(MOLS[k]))
        if three_d:
            AllChem.EmbedMolecule(mol, randomSeed=1)
        else:
            AllChem.Compute2DCoords(mol)
        mol.SetProp("_Name", f"mol{k}")
        mol.SetDoubleProp("y", float(k))
        writer.write(mol)
    writer.close()


def test_sdf_2d_has_no_positions_and_mixed_files_skip_the_flat_records(tmp_path):
    flat = tmp_path / "flat.sdf"
    _sdf(flat, [False, False, False])
    store = build_sdf(flat)
    assert store.positions is None and store.meta.params["coordinates"] == "2D"
    assert store.n_node.tolist() == [3, 3, 3]  # heavy atoms, bond graphs like a SMILES table
    mixed = tmp_path / "mixed.sdf"
    _sdf(mixed, [True, False, True])
    store = build_sdf(mixed)
    assert store.positions is not None and store.n_graph == 2
    (skip,) = store.meta.skipped
    assert skip["id"] == "mol1" and skip["reason"].startswith("2D coordinates")
    assert mixed.read_text().splitlines()[skip["line"] - 1] == "mol1"  # the record's first line


XYZ = """3
 -1.5
O 0.0 0.0 0.0
H 0.9572 0.0 0.0
H -0.24 0.93 0.0
4
frame 2 says 4 atoms and has 2
O 5.0 0.0 0.0
H 5.9 0.0 0.0
3
 -3.5
O 0.0 0.0 0.0
H 0.0 0.9572 0.0
H 0.93 -0.24 0.0
"""


def test_xyz_short_frame_is_named_at_its_own_line(tmp_path):
    path = tmp_path / "w.xyz"
    path.write_text(XYZ)
    store = build_xyz(path, cutoff=1.2, max_neighbors=None)
    assert store.n_graph == 2 and store.targets[:, 0].tolist() == [-1.5, -3.5]
    (skip,) = store.meta.skipped
    assert skip["line"] == 6 and skip["reason"] == "frame says 4 atoms but has 2 atom lines"
    assert path.read_text().splitlines()[skip["line"] - 1] == "4"


def test_stats_lists_skipped_records_with_line_id_and_reason(tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.csv"
    path.write_text("name,smiles,y\na,CCO,1\nb,C1CC(,2\nc,CCN,\n")
    monkeypatch.chdir(tmp_path)
    assert data_main(["stats", f"csv:{path}", "--skipped"]) == 0
    out = capsys.readouterr().out
    assert "| 3 | b | SMILES syntax error |" in out and "| 4 | c | missing value in 'y' |" in out


def test_semicolon_files_with_decimal_commas_and_index_columns(tmp_path):
    path = tmp_path / "eu.csv"
    rows = [(str(k), s, f"{k},5") for k, s in enumerate(MOLS)]  # a row-number column, as spreadsheets write
    path.write_text(table(";", ("Unnamed: 0", "smiles", "logS"), rows))
    store = build_csv(path)
    assert store.meta.target_names == ("logS",) and store.targets[:, 0].tolist() == [k + 0.5 for k in range(6)]


def test_a_row_counter_is_never_the_target_by_default(tmp_path):
    path = tmp_path / "bbbp.csv"
    path.write_text(table(",", ("num", "name", "p_np", "smiles"),
                          [(str(k + 1), f"m{k}", "yes" if k % 2 else "no", s) for k, s in enumerate(MOLS)]))
    store = build_csv(path)
    assert store.meta.target_names == () and "no numeric column" in store.meta.params["note"]
