"""A chemist's own files: separators, compression, headers, targets, skipped records with their
lines."""

from __future__ import annotations

import bz2
import gzip
import zipfile

import numpy as np
import pytest

from bench_lib.cli.data import main as data_main
from bench_lib.data.local_files import build_csv, build_sdf, build_xyz

MOLS = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl"]


def table(sep: str, header=("smiles", "y"), rows=None) -> str:
    rows = rows or [(s, str(k + 0.5)) for k, s in enumerate(MOLS)]
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


@pytest.mark.parametrize("name,sep,opener", [("m.csv", ",", open), ("m.tsv", "\t", open),
                                             ("m.txt", ";", open),
                                             ("m.csv.gz", ",", gzip.open),
                                             ("m.tsv.gz", "\t", gzip.open)])
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
    path.write_text(table(",", ("Drug_ID", "Drug", "logBB"),
                          [(f"m{k}", s, str(k)) for k, s in enumerate(MOLS)]))
    store = build_csv(path, target_columns="logBB")
    assert (store.meta.params["smiles_column"] == "Drug" and store.meta.params["id_column"]
            == "Drug_ID")
    assert store.meta.target_names == ("logBB",) and store.n_graph == len(MOLS)


def test_target_choice_without_a_name(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text(table(",", ("smiles", "label_text", "y"), [(s, "p", "1") for s in MOLS]))
    store = build_csv(one)
    assert (store.meta.target_names == ("y",) and "the only numeric column"
            in store.meta.params["note"])
    several = tmp_path / "several.csv"
    several.write_text(table(",", ("smiles", "measured", "predicted"),
                             [(s, "1", "2") for s in MOLS]))
    with pytest.raises(ValueError, match=r"several columns could be the target: numbers "
                                         r"'measured', 'predicted'; choose one with --target COL"):
        build_csv(several)
    assert build_csv(several, target_columns=["measured"]).meta.target_names == ("measured",)


def test_smiles_only_file_has_no_target(tmp_path):
    path = tmp_path / "zinc.smi.csv"
    path.write_text("smiles\n" + "\n".join(MOLS) + "\n")
    store = build_csv(path)
    assert (store.n_graph == len(MOLS) and store.meta.target_names == () and store.targets.shape
            == (len(MOLS), 0))
    assert "no target" in store.meta.params["note"]


def test_a_row_is_dropped_only_for_its_used_column(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = [(s, "1.0" if k % 2 else "", str(k)) for k, s in enumerate(MOLS)]  # gaps in "other" only
    path.write_text(table(",", ("smiles", "other", "y"), rows))
    store = build_csv(path, target_columns="y")
    assert store.n_graph == len(MOLS) and not store.meta.skipped


def test_text_labels_are_classes_and_stray_text_is_skipped(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(table(",", ("smiles", "p_np"),
                            [(s, "yes" if k % 2 else "no") for k, s in enumerate(MOLS)]))
    store = build_csv(labels, target_columns="p_np")
    assert store.meta.task == "binary" and store.meta.target_classes == {"p_np": ["no", "yes"]}
    assert store.targets[:, 0].tolist() == [0, 1, 0, 1, 0, 1]
    stray = tmp_path / "stray.csv"
    stray.write_text(table(",", ("smiles", "y"),
                           [(s, "n.d." if k == 2 else str(k)) for k, s in enumerate(MOLS)]))
    store = build_csv(stray)
    assert ([(s["line"], s["reason"]) for s in store.meta.skipped]
            == [(4, "non-numeric value 'n.d.' in 'y'")])


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
    # a row-number column, as spreadsheets write
    rows = [(str(k), s, f"{k},5") for k, s in enumerate(MOLS)]
    path.write_text(table(";", ("Unnamed: 0", "smiles", "logS"), rows))
    store = build_csv(path)
    assert (store.meta.target_names == ("logS",) and store.targets[:, 0].tolist()
            == [k + 0.5 for k in range(6)])


def test_a_row_counter_is_never_the_target_by_default(tmp_path):
    path = tmp_path / "bbbp.csv"
    path.write_text(table(",", ("num", "name", "p_np", "smiles"),
                          [(str(k + 1), f"m{k}", "yes" if k % 2 else "no",
                            s) for k, s in enumerate(MOLS)]))
    store = build_csv(path)
    assert store.meta.target_names == ("p_np",) and store.meta.task == "binary"
    assert store.meta.params["note"] == ("target: 'p_np' (text labels: 2 classes, positive 'yes' "
                                         "50.0% of 6 rows), the only column of class labels")


# -- class labels, identifiers and malformed rows: a blood-brain-barrier table
# ------------------------------
BBB_HEADER = ("NO.", "compound_name", "SMILES", "CID", "logBB", "BBB+/BBB-", "group")
BBB_MOLS = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCOC", "CC(C)O", "c1ccncc1",
            "OCCO"]
BAD_SMILES = {5: "C1CC", 23: "xyz"}  # row -> an unparsable SMILES


def bbb_rows(n: int = 40, **columns) -> list[list[str]]:
    """BBB+ the majority (3 in 4), some CIDs empty, logBB mostly empty; ``columns`` replace a
    column's value by ``f(row)``."""
    rows = []
    for k in range(n):
        row = {"NO.": str(k + 1), "compound_name": f"compound {k}",
               "SMILES": BAD_SMILES.get(k, BBB_MOLS[k % 10]),
               "CID": "" if k % 7 == 3 else str(1000 + 17 * k),
               "logBB": f"{k / 10 - 1:.2f}" if k % 10 == 0 else "",
               "BBB+/BBB-": "BBB-" if k % 4 == 1 else "BBB+", "group": "ABC"[k % 3]}
        row.update({c: f(k) for c, f in columns.items()})
        rows.append([row[c] for c in BBB_HEADER])
    return rows


def bbb_tsv(path, header=BBB_HEADER, rows=None):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows
                                                       or bbb_rows()))
    return path


def line_of(path, text: str) -> int:
    """1-based line of the file that holds ``text``."""
    return next(k for k, ln in enumerate(path.read_text().splitlines(), start=1) if text in ln)


def test_bbb_table_without_a_target_lists_the_candidates_class_columns_first(tmp_path):
    path = bbb_tsv(tmp_path / "B3DB_classification.tsv")
    # CID (repeated or not: an identifier by its header) and NO. are never candidates; logBB is
    # mostly empty
    with pytest.raises(ValueError, match=r"B3DB_classification.tsv: several columns could be the "
                                         r"target: class labels 'BBB\+/BBB-', 'group'; choose one "
                                         r"with --target COL \(target_columns=\) \('NO.', 'CID' "
                                         r"left aside: identifier"):
        build_csv(path)


def test_the_one_class_column_of_a_bbb_table_is_its_target_and_every_row_is_kept(tmp_path):
    header = tuple(c for c in BBB_HEADER if c != "group")
    # CIDs repeat: still an identifier
    rows = [r[:-1] for r in bbb_rows(CID=lambda k: str(1000 + k % 5))]
    store = build_csv(bbb_tsv(tmp_path / "bbb.tsv", header=header, rows=rows))
    assert store.meta.target_names == ("BBB+/BBB-",) and store.meta.task == "binary"
    assert store.n_graph == 40 - len(BAD_SMILES)  # rows without a CID are kept
    assert [(s["line"], s["smiles"]) for s in store.meta.skipped] == [(7, "C1CC"), (25, "xyz")]
    assert store.meta.params["note"].endswith("the only column of class labels ('NO.', 'CID' left "
                                              "aside: identifier, row-number or split columns)")


def test_bbb_labels_are_a_binary_target_with_the_positive_class_at_index_1(tmp_path):
    path = bbb_tsv(tmp_path / "bbb.tsv")
    store = build_csv(path, target_columns="BBB+/BBB-")
    assert (store.meta.task == "binary" and store.meta.target_classes
            == {"BBB+/BBB-": ["BBB-", "BBB+"]})
    kept = [k for k in range(40) if k not in BAD_SMILES]
    assert store.targets[:, 0].tolist() == [0.0 if k % 4 == 1 else 1.0 for k in kept]
    assert [(s["line"], s["input"]) for s in store.meta.skipped] == [(7, 5), (25, 23)]
    assert store.meta.params["note"] == ("target: 'BBB+/BBB-' (text labels: 2 classes, positive "
                                         "'BBB+' 76.3% of 38 rows)")


def test_a_column_of_three_labels_is_multiclass(tmp_path):
    store = build_csv(bbb_tsv(tmp_path / "bbb.tsv"), target_columns="group")
    assert (store.meta.task == "multiclass" and store.meta.target_classes
            == {"group": ["A", "B", "C"]})
    assert store.meta.params["note"] == ("target: 'group' (text labels: 3 classes: 'A' 14, 'B' 13, "
                                         "'C' 11)")
    assert sorted(set(store.targets[:, 0].tolist())) == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("labels,classes", [
    (("yes", "no"), ["no", "yes"]),
    (("active", "inactive"), ["inactive", "active"]),
    (("P", "N"), ["N", "P"]),
    (("toxic+", "toxic-"), ["toxic-", "toxic+"]),
    (("b", "a", "a"), ["a", "b"]),  # neither looks positive: the rarer one is index 1
    (("a", "b"), ["a", "b"]),  # ... on a tie, the sorted second
    (("pos", "Positive", "neg"), None),  # 3 classes: sorted
])
def test_class_order(tmp_path, labels, classes):
    path = tmp_path / "c.csv"
    path.write_text(table(",", ("smiles", "label"),
                          [(s, labels[k % len(labels)]) for k, s in enumerate(MOLS)]))
    store = build_csv(path, target_columns="label")
    names = store.meta.target_classes["label"]
    assert names == (classes or sorted(set(labels)))
    assert ([names[int(y)] for y in store.targets[:, 0]]
            == [labels[k % len(labels)] for k in range(len(MOLS))])


def test_numbers_0_and_1_stay_numeric(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_text(table(",", ("smiles", "active"), [(s, str(k % 2)) for k, s in enumerate(MOLS)]))
    for store in (build_csv(path), build_csv(path, target_columns="active")):
        assert store.meta.task is None and store.meta.target_classes == {}
        assert store.targets[:, 0].tolist() == [0, 1, 0, 1, 0, 1]


def test_a_missing_label_skips_its_row(tmp_path):
    rows = bbb_rows(**{"BBB+/BBB-": lambda k: {8: "",
                                               9: "NA"}.get(k, "BBB-" if k % 4 == 1 else "BBB+")})
    store = build_csv(bbb_tsv(tmp_path / "bbb.tsv", rows=rows), target_columns="BBB+/BBB-")
    assert [(s["line"], s["reason"].split(":")[0]) for s in store.meta.skipped] == [
        (7, "SMILES syntax error"), (10, "missing value in 'BBB+/BBB-'"), (11, "missing value in "
                                                                               "'BBB+/BBB-'"),
        (25, "SMILES syntax error")]


@pytest.mark.parametrize("header,columns,target,match", [
    (BBB_HEADER[:-1] + ("logBB",), {}, None, r"bbb.tsv: column name\(s\) used twice in the header: "
                                             r"'logBB'; rename them so that each column has one "
                                             r"name"),
    (BBB_HEADER, {}, "CID",
     r"bbb.tsv: column 'CID' is named like an identifier, not a measurement"),
    (BBB_HEADER, {"CID": lambda k: str(7 + k % 3)}, "CID",
     r"column 'CID' is named like an identifier"),
    (BBB_HEADER, {}, "NO.", r"column 'NO.' is named like an identifier"),
    (BBB_HEADER, {}, "SMILES", r"bbb.tsv: 'SMILES' is the SMILES column: it holds the molecules, "
                               r"not labels"),
    (BBB_HEADER, {"group": lambda k: "A"}, "group",
     r"bbb.tsv: column 'group' has one class only: 'A'; a classification target needs two"),
    (BBB_HEADER, {}, "compound_name", r"bbb.tsv: column 'compound_name' looks like names or "
                                      r"identifiers, not class labels \(40 distinct values in 40 "
                                      r"rows\)"),
    (BBB_HEADER, {}, ["BBB+/BBB-", "group"], r"hold text labels; .*only when a single target "
                                             r"column is named"),
    (BBB_HEADER[:-1], {}, None, r"bbb.tsv: 40 of 40 rows have more fields than the header \(6 "
                                r"names\); the separator .* or the header line looks wrong"),
])
def test_columns_that_cannot_be_targets_and_broken_headers_are_clear_errors(
        tmp_path, header, columns, target, match):
    path = bbb_tsv(tmp_path / "bbb.tsv", header=header, rows=bbb_rows(**columns))
    with pytest.raises(ValueError, match=match):
        build_csv(path, target_columns=target)


def _write(path, text: str) -> None:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bbb.tsv", text)
    else:
        opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
        with opener(path, "wt") as f:
            f.write(text)


@pytest.mark.parametrize("name", ["bbb.tsv", "bbb.tsv.gz", "bbb.tsv.bz2", "bbb.zip"])
def test_rows_with_an_extra_field_are_skipped_and_every_line_stays_right(tmp_path, name):
    # an unquoted tab inside two names (the first data row among them), a quoted name over two
    # lines, a blank line
    names = {0: "alpha\tbeta", 12: "gamma\tdelta", 15: '"two\nlines"'}
    rows = bbb_rows(compound_name=lambda k: names.get(k, f"compound {k}"))
    text = "\t".join(BBB_HEADER) + "\n" + "".join("\t".join(r) + "\n" + ("\n" if k == 30 else "")
                                                  for k, r in enumerate(rows))
    plain = tmp_path / "plain.tsv"
    plain.write_text(text)
    path = tmp_path / name
    _write(path, text)
    store = build_csv(path, target_columns="BBB+/BBB-")
    reason = "line has 8 fields, the header has 7 (an unquoted separator inside a value?)"
    assert [(s["line"], s["id"], s["reason"].split(":")[0]) for s in store.meta.skipped] == [
        (line_of(plain, "alpha"), "", reason), (7, "", "SMILES syntax error"),
        (line_of(plain, "gamma"), "", reason), (line_of(plain, "\txyz\t"), "",
                                                "SMILES syntax error")]
    assert line_of(plain, "\txyz\t") == 26 and store.meta.skipped[1]["smiles"] == "C1CC"
    assert store.meta.n_input == 40 and store.n_graph == 36
    kept = [k for k in range(40) if k not in BAD_SMILES and k not in (0, 12)]
    assert store.targets[:, 0].tolist() == [0.0 if k % 4 == 1 else 1.0 for k in kept]


def test_a_split_column_and_an_index_measurement_are_told_apart_from_identifiers(tmp_path):
    """MoleculeNet-style files carry a split column (train/valid/test: few text values, not a
    target); a header ending in "index" (a retention index) is a measurement, not a row index."""
    path = tmp_path / "ri.csv"
    rows = [(s, f"{100 + 10 * k}", ("train", "valid", "test")[k % 3]) for k, s in enumerate(MOLS)]
    path.write_text(table(",", ("smiles", "Retention index", "split"), rows))
    store = build_csv(path)
    assert store.meta.target_names == ("Retention index",)
    assert store.meta.params["note"] == ("target: 'Retention index', the only numeric column "
                                         "('split' left aside: identifier, row-number or split "
                                         "columns)")
