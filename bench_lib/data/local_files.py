"""Generic local files: ``csv:PATH``, ``sdf:PATH`` and ``xyz:PATH``.

- ``csv``: a table (comma, tab or semicolon separated, sniffed; ``.gz``,
  ``.bz2``, ``.xz``, ``.zip`` read by extension) with a SMILES column -> 2D
  bond graphs with OGB-style features. The SMILES and ID columns are guessed
  from the usual headers when not given. The target is the named column(s).
  Without a name, the candidates are the numeric columns and the text columns
  of class labels (2 to 20 distinct values): one candidate is the target (the
  note says why), several are an error that lists them (class columns first),
  none leaves the file without a target (throughput and memory cells only).
  An identifier column (its header names one: ``id``, ``CID``, ``NO.``,
  ``index``, ``..._id``, ``compound id``..., whatever its values) is never a
  target: never a candidate, an error when named; so is the SMILES column.
  A named target whose values are mostly text (one named column only) is a
  class column: each distinct label is a class, stored as its class index
  (float32), with ``meta.target_classes[col]`` the names by index and
  ``meta.task`` ``"binary"`` or ``"multiclass"``. Classes are sorted, but of
  two the positive one (``BBB+``, ``yes``, ``active``, ``1``...; else the
  less frequent) is index 1. One class only, or a column of names (more
  than 20 distinct values and more than half its rows), is an error. A
  numeric column keeps ``meta.task`` None, and its stray text rows are
  skipped. A row is skipped only for a missing, non-numeric or non-finite
  value in a column that is used, or for more fields than the header has
  (an unquoted separator inside a value); more than half the rows so is an
  error, as is a column name used twice in the header.
- ``sdf``: molecules with 3D conformers -> atoms, positions and a radius
  graph; targets from numeric SD properties. A file whose molecules are all
  flat (every z = 0, or flagged 2D) has no 3D positions: it becomes 2D bond
  graphs like a SMILES table.
- ``xyz``: a multi-frame XYZ file, a directory or a glob of them -> atoms,
  positions and a radius graph; the energy is read from the comment line
  when it holds a number (the last one, e.g. ``Ord_Energy -15.94``).

Every skipped record is kept in ``meta.skipped`` with its 1-based file
``line``, its ``id`` and its ``reason`` (``python -m bench_lib.data stats
NAME --skipped`` lists them). A file that is unusable as a whole (missing,
empty, binary, no SMILES column, a target that cannot be one) is a
``ValueError`` (``FileNotFoundError`` when missing) naming the file.

Here: ``build_csv``, the table's rows -> graphs. A table is read by
:mod:`bench_lib.data.table_file`, its SMILES, ID and target columns chosen
by :mod:`bench_lib.data.table_columns`; SD and XYZ files are built by
:mod:`bench_lib.data.coordinate_files` (all importable from here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench_lib.data.coordinate_files import build_sdf, build_xyz, parse_xyz
from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, smiles_to_graphs
from bench_lib.data.store import GraphStore, StoreMeta
from bench_lib.data.table_columns import MAX_TEXT_CLASSES  # noqa: F401 (still importable from here)
from bench_lib.data.table_columns import (ID_HEADERS, SMILES_HEADERS, _class_note,
                                          _smiles_and_id_columns,
                                          _target_columns, _target_values)
from bench_lib.data.table_file import _existing, _read, read_table

__all__ = ["build_csv", "build_sdf", "build_xyz", "read_table", "SMILES_HEADERS", "ID_HEADERS",
           "parse_xyz"]


def build_csv(path: Path | str, smiles_column: str | None = None, target_columns=None,
              id_column: str | None = None, sep: str | None = None) -> GraphStore:
    """A molecule table -> 2D bond graphs (see the module docstring for the rules)."""
    path = _existing(path)
    df, sep, line, inputs, extra = _read(path, sep)
    columns = [str(c) for c in df.columns]
    blank = df.apply(lambda col: col.str.strip() == "").all(axis=1).to_numpy()
    if blank.all() and not extra:
        raise ValueError(f"{path}: no rows")
    smiles_column, id_column = _smiles_and_id_columns(path, columns, smiles_column, id_column)
    rows_df = df.loc[~blank]
    decimal_comma = sep == ";"
    targets, note = _target_columns(path, columns, rows_df, target_columns, smiles_column,
                                    id_column, decimal_comma)
    values, reasons, classes = _target_values(path, df, rows_df, targets, decimal_comma)
    smiles = df[smiles_column].astype(str).str.strip()
    ids = df[id_column].astype(str).str.strip().tolist() if id_column else [""] * len(df)
    reasons[(smiles == "").to_numpy() & (reasons == None)] = "empty SMILES"  # noqa: E711
    skipped = [{"input": int(inputs[i]), "line": int(line[i]), "id": ids[i],
                "smiles": smiles[i][:80],
                "reason": reasons[i]}
               for i in np.flatnonzero((reasons != None) & ~blank)]  # noqa: E711
    skipped += _skipped_long_rows(extra, columns, smiles_column, id_column)
    rows = np.flatnonzero((reasons == None) & ~blank)  # noqa: E711
    graphs, bad = smiles_to_graphs(smiles[rows].tolist(), values[rows], [ids[i] for i in rows])
    skipped += [{**s, "input": int(inputs[rows[s["input"]]]),
                 "line": int(line[rows[s["input"]]])} for s in bad]
    if not graphs:
        first = min(skipped, key=lambda s: s["line"]) if skipped else {}
        raise ValueError(f"{path}: no usable row ({len(skipped)} skipped; first: line "
                         f"{first.get('line')}: {first.get('reason')})")
    params = {"smiles_column": smiles_column, "id_column": id_column, "separator": sep,
              "note": note}
    return _csv_store(path, graphs, targets, classes, params, int((~blank).sum()) + len(extra),
                      skipped)


def _skipped_long_rows(extra: list, columns: list[str], smiles_column: str,
                       id_column: str | None) -> list[dict]:
    """A skipped record per row left out for more fields than the header (``extra`` from the table's
    reading)."""
    n_fields = len(columns)
    at = {c: columns.index(c) for c in (smiles_column, id_column) if c}
    return [{"input": int(k), "line": int(ln),
             "id": fields[at[id_column]].strip() if id_column else "",
             "smiles": fields[at[smiles_column]].strip()[:80],
             "reason": (f"line has {len(fields)} fields, the header has {n_fields} (an unquoted "
                        f"separator inside a value?)")} for k, ln, fields in extra]


def _csv_store(path: Path, graphs: list[dict], targets: list[str], classes: dict[str, list[str]],
               params: dict,
               n_input: int, skipped: list[dict]) -> GraphStore:
    """The table's graphs as a store: an empty target row each when there is no target; a column of
    text labels makes the task binary or multiclass, and its note counts the classes."""
    atom_dims, bond_dims = feature_dims()
    if not targets:
        for g in graphs:
            g["targets"] = np.zeros(0, np.float32)
    task = None
    if classes:
        name, names = next(iter(classes.items()))
        task = "binary" if len(names) == 2 else "multiclass"
        # how it was chosen, when it was not named
        chosen = params["note"][len(f"target: {name!r}"):]
        params = {**params, "note": _class_note(name, names,
                                                np.array([g["targets"][0] for g in graphs]))
                  + chosen}
    meta = StoreMeta(name=f"csv:{path}", source=str(path), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims,
                     edge_feature_dims=bond_dims,
                     target_names=tuple(targets), n_input=n_input, params=params,
                     skipped=tuple(sorted(skipped, key=lambda s: s["input"])), task=task,
                     target_classes=classes)
    return GraphStore.from_graphs(graphs, meta)
