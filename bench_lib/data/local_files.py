"""Generic local files: ``csv:PATH``, ``sdf:PATH`` and ``xyz:PATH``.

- ``csv``: a table (comma, tab or semicolon separated, sniffed; ``.gz``,
  ``.bz2``, ``.xz``, ``.zip`` read by extension) with a SMILES column -> 2D
  bond graphs with OGB-style features. The SMILES and ID columns are guessed
  from the usual headers when not given. The target is the named column(s);
  without a name, the one numeric column, and none when there is none (such a
  file serves throughput and memory cells only; the note names a text column
  of class labels, 2 to 20 distinct values, that ``--target`` could train on).
  An identifier column (a header such as ``id``, ``CID``, ``NO.``,
  ``..._id``, and whole numbers unique per row) is never a target: never
  chosen, an error when named; so is the SMILES column.
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
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import lzma
import warnings
import zipfile
from pathlib import Path

import numpy as np

from bench_lib.data.molecules import ATOM_FEATURES, BOND_FEATURES, feature_dims, mol_to_graph, smiles_to_graphs
from bench_lib.data.neighbours import edge_columns
from bench_lib.data.store import GraphStore, StoreMeta

__all__ = ["build_csv", "build_sdf", "build_xyz", "read_table", "SMILES_HEADERS", "ID_HEADERS", "parse_xyz"]

SMILES_HEADERS = ("smiles", "SMILES", "Smiles", "smi", "SMI", "canonical_smiles", "CanonicalSMILES", "Drug", "drug",
                  "mol", "Molecule", "molecule")
ID_HEADERS = ("id", "ID", "Id", "name", "Name", "Compound ID", "compound_id", "Drug_ID", "mol_id", "molecule_chembl_id",
              "zinc_id", "cmpd_id", "CAS")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _existing(path: Path | str) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    return path


def _as_list(columns) -> list[str] | None:
    """``"a"`` or ``"a,b"`` or ``["a", "b"]`` -> a list of names (never split into characters)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",") if c.strip()]
    return [str(c) for c in columns]


def _sample(path: Path, size: int = 1 << 16) -> bytes:
    """The first ``size`` bytes of the file, decompressed by extension (all of them with -1)."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"{path}: a zip archive must hold exactly one table (holds {len(names)})")
            with z.open(names[0]) as f:
                return f.read(size)
    with _OPENERS.get(suffix, open)(path, "rb") as f:
        return f.read(size)


def read_table(path: Path | str, sep: str | None = None):
    """A CSV/TSV/semicolon table as strings -> ``(DataFrame, sep)``; blank lines kept
    as empty rows, rows with more fields than the header left out (:func:`_read`
    gives each row's file line and the rows left out)."""
    df, sep, _, _, _ = _read(path, sep)
    return df, sep


def _read(path: Path | str, sep: str | None = None):
    """The table -> ``(DataFrame, sep, line, input, extra)``.

    The file is read twice over its decompressed text: once with the csv
    module (the separator, quotes honoured), which finds the header (its first
    non-blank line), refuses a column name used twice, and leaves out every
    row with more fields than the header (an unquoted separator inside a
    value: pandas would shift the columns or stop); then by pandas
    (``index_col=False``) on the rows kept. ``line[i]`` and ``input[i]`` are
    the 1-based file line and the record index (from 0, blank rows counted,
    the header not) of DataFrame row ``i``; ``extra`` is one ``(input, line,
    fields)`` per row left out. More than half the rows with more fields than
    the header is an error: the separator or the header is wrong.
    """
    import pandas as pd

    path = _existing(path)
    try:
        raw = _sample(path, -1)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as err:
        raise ValueError(f"{path}: cannot be read as a {path.suffix or 'plain'} file ({err})") from None
    if b"\0" in raw[:1 << 16]:
        raise ValueError(f"{path}: a binary file, not a text table")
    text = raw.decode("utf-8-sig", errors="replace")
    del raw
    if not text.strip():
        raise ValueError(f"{path}: no rows (only blank lines)")
    if sep is None:
        sep = _separator(text)
    if len(sep) != 1:
        raise ValueError(f"{path}: the separator must be one character, not {sep!r}")
    header, head_at, line, inputs, extra, cuts, n_rows = _records(path, text, sep)
    names = [h for h in header if h.strip()]
    twice = sorted({h for h in names if names.count(h) > 1}, key=names.index)
    if twice:
        raise ValueError(f"{path}: column name(s) used twice in the header: {', '.join(map(repr, twice))}; rename "
                         "them so that each column has one name")
    if extra and len(extra) > 0.5 * n_rows:
        counts = sorted({len(f) for _, _, f in extra})
        hint = (" (every row has one field more than the header: a file written with row names? give that "
                "first column a name in the header)" if len(extra) == n_rows and counts == [len(header) + 1]
                else "")
        raise ValueError(f"{path}: {len(extra):,} of {n_rows:,} rows have more fields than the header "
                         f"({len(header)} names); the separator ({sep!r}) or the header line looks wrong{hint}")
    kept, at = [], head_at
    for a, b in cuts:
        kept.append(text[at:a])
        at = b
    kept.append(text[at:])
    del text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = pd.read_csv(io.StringIO("".join(kept)), sep=sep, dtype=str, keep_default_na=False,
                             skip_blank_lines=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: no rows") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise ValueError(f"{path}: not a readable table ({str(err).strip()})") from None
    if len(df.columns) and all(str(c).startswith("Unnamed: ") for c in df.columns):
        raise ValueError(f"{path}: the first line is not a header")
    line, inputs = np.asarray(line, np.int64), np.asarray(inputs, np.int64)
    if len(line) != len(df):  # pandas and the csv module split the rows differently: count lines as pandas does
        line = np.arange(len(df), dtype=np.int64) + (line[0] if len(line) else 2)
        inputs = np.arange(len(df), dtype=np.int64)
    return df, sep, line, inputs, extra


def _records(path: Path, text: str, sep: str):
    """One csv pass: ``(header fields, offset of the header, first line of each row kept, its record index,
    [(record index, first line, fields)] of the rows with more fields than the header, [(start, end)] offsets
    of those rows in the text, non-blank rows)``."""
    at = 0

    def lines():
        nonlocal at
        for piece in io.StringIO(text, newline=""):
            at += len(piece)
            yield piece

    reader = csv.reader(lines(), delimiter=sep)
    header, head_at, line, inputs, extra, cuts, n_rows = None, 0, [], [], [], [], 0
    last_line, last_at, record = 0, 0, 0
    try:
        for fields in reader:
            first = last_line + 1
            if header is None:
                if any(f.strip() for f in fields):
                    header, head_at = fields, last_at
            else:
                n_rows += any(f.strip() for f in fields)
                if len(fields) > len(header):
                    extra.append((record, first, fields))
                    cuts.append((last_at, at))
                else:
                    line.append(first)
                    inputs.append(record)
                record += 1
            last_line, last_at = reader.line_num, at
    except csv.Error as err:
        raise ValueError(f"{path}: not a readable table (line {reader.line_num}: {err})") from None
    return header or [], head_at, line, inputs, extra, cuts, n_rows


def _separator(text: str) -> str:
    """The header line's one delimiter among tab, semicolon and comma; the sniffer's pick when it has several."""
    header = next(line for line in text.splitlines() if line.strip())
    found = [s for s in ("\t", ";", ",") if s in header]
    if len(found) <= 1:
        return found[0] if found else ","
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters="".join(found)).delimiter
    except csv.Error:
        return max(found, key=header.count)


def _to_float(values, decimal_comma: bool) -> np.ndarray:
    """Strings -> float64 (NaN where not a number); ``1,5`` reads as 1.5 in a semicolon-separated file."""
    import pandas as pd

    text = values.astype(str).str.strip()
    if decimal_comma:
        text = text.str.replace(r"^([-+]?\d*),(\d+)$", r"\1.\2", regex=True)
    return pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(np.float64)


def _index_column(name: str) -> bool:
    """A row-number column that pandas or a spreadsheet wrote (never a target by default)."""
    return name.startswith("Unnamed: ") or name.strip().lower() in ("", "index", "row", "#")


def _counts_rows(values: np.ndarray) -> bool:
    """Values 0, 1, 2, ... or 1, 2, 3, ... row after row: a row counter, not a measurement."""
    return len(values) > 2 and bool(np.all(np.diff(values) == 1)) and values[0] in (0.0, 1.0)


def _guess(columns, candidates) -> str | None:
    return next((c for c in candidates if c in columns), None)


_MISSING = ("nan", "na", "n/a", "none", "null")
_ID_NAMES = ("id", "cid", "sid", "cas", "no", "no.", "index")
_POSITIVE = ("yes", "true", "active", "positive", "pos", "p", "1", "y")
#: A text column with more distinct values than this (and than half its rows) holds names, not class labels.
MAX_TEXT_CLASSES = 20


def _present(values) -> np.ndarray:
    """Stripped strings -> True where a value is given (not empty, na, nan, none, null)."""
    return ((values != "") & ~values.str.lower().isin(_MISSING)).to_numpy()


def _identifier(name: str, values) -> bool:
    """An identifier column: its header looks like one (``id``, ``CID``, ``NO.``, ``..._id``, ...) and its
    present values are whole numbers, unique per row. Never a target."""
    low = name.strip().lower()
    if not (low in _ID_NAMES or low.endswith(("_id", " id", "-id")) or low.startswith("id_")
            or low in {h.lower() for h in ID_HEADERS}):
        return False
    stripped = values.astype(str).str.strip()
    num = _to_float(stripped[_present(stripped)], False)
    return len(num) > 0 and bool(np.all(np.isfinite(num))) and bool(np.all(num == np.round(num))) \
        and len(np.unique(num)) == len(num)


def _text_column(values, decimal_comma: bool = False) -> bool:
    """Most present values are not numbers."""
    stripped = values.astype(str).str.strip()
    present = _present(stripped)
    text = present & np.isnan(_to_float(stripped, decimal_comma))
    return text.sum() > 0.5 * max(int(present.sum()), 1)


def _label_like(values, decimal_comma: bool = False) -> bool:
    """A text column that looks like class labels: 2 to MAX_TEXT_CLASSES distinct values."""
    stripped = values.astype(str).str.strip()
    return _text_column(values, decimal_comma) and 2 <= stripped[_present(stripped)].nunique() <= MAX_TEXT_CLASSES


def _numeric(values, name: str, decimal_comma: bool = False):
    """Strings -> floats; (values, reason per row or None)."""
    stripped = values.str.strip()
    present = stripped != ""
    num = _to_float(stripped, decimal_comma)
    missing = stripped.str.lower().isin(_MISSING).to_numpy()
    text = present.to_numpy() & np.isnan(num) & ~missing
    reasons = np.full(len(num), None, dtype=object)
    reasons[~present.to_numpy() | (np.isnan(num) & ~text)] = f"missing value in {name!r}"
    reasons[text] = [f"non-numeric value {v!r} in {name!r}" for v in stripped[text]]
    reasons[np.isinf(num)] = f"non-finite value in {name!r}"
    return num, reasons


def _positive(label: str) -> bool:
    low = label.strip().lower()
    return low.endswith("+") or low in _POSITIVE


def _classes(values, name: str, path: Path):
    """Text labels -> (class index per row as float, reason per row or None, class names by index).

    Each distinct stripped text is a class, in sorted order; with two classes
    index 1 is the positive one (``BBB+``, ``yes``, ``active``...; when both or
    neither look positive, the less frequent one; on a tie, the sorted second).
    """
    stripped = values.astype(str).str.strip()
    present = _present(stripped)
    counts = stripped[present].value_counts()
    classes = sorted(counts.index)
    if len(classes) == 1:
        raise ValueError(f"{path}: column {name!r} has one class only: {classes[0]!r}; a classification target "
                         "needs two (choose another column)")
    if len(classes) > MAX_TEXT_CLASSES and len(classes) > 0.5 * present.sum():
        raise ValueError(f"{path}: column {name!r} looks like names or identifiers, not class labels "
                         f"({len(classes):,} distinct values in {int(present.sum()):,} rows); choose a column of "
                         "class labels or of numbers")
    if len(classes) == 2:
        a, b = classes
        if _positive(a) != _positive(b):
            positive = a if _positive(a) else b
        else:
            positive = a if counts[a] < counts[b] else b
        classes = [b, a] if positive == a else [a, b]
    index = {c: k for k, c in enumerate(classes)}
    num = stripped.map(index).to_numpy(np.float64, na_value=np.nan)  # NaN where no label
    reasons = np.where(present, None, f"missing value in {name!r}").astype(object)
    return num, reasons, classes


def _class_note(name: str, classes: list[str], y: np.ndarray) -> str:
    counts = np.bincount(y.astype(np.int64), minlength=len(classes))
    if len(classes) == 2:
        return (f"target: {name!r} (text labels: 2 classes, positive {classes[1]!r} "
                f"{100 * counts[1] / max(len(y), 1):.1f}% of {len(y):,} rows)")
    shown = ", ".join(f"{c!r} {n:,}" for c, n in zip(classes[:6], counts[:6]))
    return f"target: {name!r} (text labels: {len(classes)} classes: {shown}{', ...' if len(classes) > 6 else ''})"


def build_csv(path: Path | str, smiles_column: str | None = None, target_columns=None,
              id_column: str | None = None, sep: str | None = None) -> GraphStore:
    """A molecule table -> 2D bond graphs (see the module docstring for the rules)."""
    path = _existing(path)
    df, sep, line, inputs, extra = _read(path, sep)
    columns = [str(c) for c in df.columns]
    blank = df.apply(lambda col: col.str.strip() == "").all(axis=1).to_numpy()
    if blank.all() and not extra:
        raise ValueError(f"{path}: no rows")
    if smiles_column is None:
        smiles_column = _guess(columns, SMILES_HEADERS)
        if smiles_column is None:
            raise ValueError(f"{path}: no SMILES column among {columns}; name it with --smiles-column "
                             "(smiles_column=)")
    elif smiles_column not in columns:
        raise ValueError(f"{path}: no column {smiles_column!r}; columns are {columns}")
    if id_column is None:
        id_column = _guess([c for c in columns if c != smiles_column], ID_HEADERS)
    elif id_column not in columns:
        raise ValueError(f"{path}: no ID column {id_column!r}; columns are {columns}")
    rows_df = df.loc[~blank]
    targets = _as_list(target_columns)
    classes: dict[str, list[str]] = {}
    if targets is None:
        others = [c for c in columns if c not in (smiles_column, id_column) and not _index_column(c)
                  and not _identifier(c, rows_df[c])]
        numeric = [c for c in others if np.mean(~np.isnan(_to_float(rows_df[c], sep == ";"))) > 0.5
                   and not _counts_rows(_to_float(rows_df[c], sep == ";"))]
        if len(numeric) > 1:
            raise ValueError(f"{path}: several numeric columns ({', '.join(numeric)}); choose the target with "
                             "--target COL (target_columns=)")
        targets = numeric
        note = f"target: {numeric[0]!r}, the only numeric column" if numeric else \
            "no numeric column: no target (throughput and memory only)"
        labels = [c for c in others if not numeric and _label_like(rows_df[c], sep == ";")]
        if len(labels) == 1:
            note += f"; {labels[0]!r} holds class labels: --target {labels[0]!r} trains on it"
        elif labels:
            note += f"; {', '.join(map(repr, labels))} hold class labels: --target COL trains on one"
    else:
        missing = [c for c in targets if c not in columns]
        if missing:
            raise ValueError(f"{path}: no target column(s) {missing}; columns are {columns}")
        for c in targets:
            if c == smiles_column:
                raise ValueError(f"{path}: {c!r} is the SMILES column: it holds the molecules, not labels; choose "
                                 f"the target among the other columns {[o for o in columns if o != c]}")
            if _identifier(c, rows_df[c]):
                raise ValueError(f"{path}: column {c!r} looks like an identifier (integers, unique per row), not "
                                 "a measurement; choose another target column")
        text = [c for c in targets if _text_column(rows_df[c], sep == ";")]
        if text and len(targets) > 1:
            raise ValueError(f"{path}: column(s) {', '.join(map(repr, text))} hold text labels; text labels are "
                             "read as classes only when a single target column is named: name one column alone "
                             "(--target COL) or map the labels to numbers")
        note = f"target: {', '.join(map(repr, targets))}"
    values = np.zeros((len(df), len(targets)), np.float32)
    reasons = np.full(len(df), None, dtype=object)
    for k, c in enumerate(targets):
        if _text_column(rows_df[c], sep == ";"):
            values[:, k], why, classes[c] = _classes(df[c], c, path)
        else:
            values[:, k], why = _numeric(df[c].astype(str), c, decimal_comma=sep == ";")
        reasons = np.where(reasons == None, why, reasons)  # noqa: E711 (first reason per row)
    smiles = df[smiles_column].astype(str).str.strip()
    ids = df[id_column].astype(str).str.strip().tolist() if id_column else [""] * len(df)
    reasons[(smiles == "").to_numpy() & (reasons == None)] = "empty SMILES"  # noqa: E711
    skipped = [{"input": int(inputs[i]), "line": int(line[i]), "id": ids[i], "smiles": smiles[i][:80],
                "reason": reasons[i]} for i in np.flatnonzero((reasons != None) & ~blank)]  # noqa: E711
    n_fields = len(columns)
    at = {c: columns.index(c) for c in (smiles_column, id_column) if c}
    skipped += [{"input": int(k), "line": int(ln),
                 "id": fields[at[id_column]].strip() if id_column else "",
                 "smiles": fields[at[smiles_column]].strip()[:80],
                 "reason": f"line has {len(fields)} fields, the header has {n_fields} (an unquoted separator "
                           "inside a value?)"} for k, ln, fields in extra]
    rows = np.flatnonzero((reasons == None) & ~blank)  # noqa: E711
    graphs, bad = smiles_to_graphs(smiles[rows].tolist(), values[rows], [ids[i] for i in rows])
    skipped += [{**s, "input": int(inputs[rows[s["input"]]]), "line": int(line[rows[s["input"]]])} for s in bad]
    if not graphs:
        first = min(skipped, key=lambda s: s["line"]) if skipped else {}
        raise ValueError(f"{path}: no usable row ({len(skipped)} skipped; first: line {first.get('line')}: "
                         f"{first.get('reason')})")
    atom_dims, bond_dims = feature_dims()
    if not targets:
        for g in graphs:
            g["targets"] = np.zeros(0, np.float32)
    task = None
    if classes:
        name, names = next(iter(classes.items()))
        task = "binary" if len(names) == 2 else "multiclass"
        note = _class_note(name, names, np.array([g["targets"][0] for g in graphs]))
    meta = StoreMeta(name=f"csv:{path}", source=str(path), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims, edge_feature_dims=bond_dims,
                     target_names=tuple(targets), n_input=int((~blank).sum()) + len(extra),
                     params={"smiles_column": smiles_column, "id_column": id_column, "separator": sep, "note": note},
                     skipped=tuple(sorted(skipped, key=lambda s: s["input"])), task=task, target_classes=classes)
    return GraphStore.from_graphs(graphs, meta)


def _atomic_numbers(symbols: list[str], where: str) -> np.ndarray:
    from rdkit import Chem, rdBase

    table, out = Chem.GetPeriodicTable(), []
    with rdBase.BlockLogs():
        for s in symbols:
            try:
                out.append(table.GetAtomicNumber(s.strip().capitalize()))
            except RuntimeError:
                raise ValueError(f"{where}: unknown element symbol {s!r}") from None
    return np.array(out, dtype=np.int64)


def _store_3d(name: str, source: str, n_node, z, pos, targets, target_names, n_input, skipped, cutoff,
              max_neighbors, note: str = "", edges: str = "stored") -> GraphStore:
    n_node = np.asarray(n_node, dtype=np.int64)
    columns, neighbours = edge_columns(n_node, np.asarray(pos, np.float32), edges, cutoff, max_neighbors)
    params = {"cutoff": cutoff, "max_neighbors": max_neighbors, "note": note}
    meta = StoreMeta(name=name, source=source, node_feature_names=("atomic_number",),
                     node_feature_dims=(int(z.max(initial=1)) + 1,), target_names=tuple(target_names),
                     params=params if edges == "stored" else {**params, "edges": edges}, n_input=n_input,
                     skipped=tuple(skipped), neighbours=neighbours)
    return GraphStore(n_node=n_node, **columns, node_features=z[:, None],
                      targets=np.asarray(targets, np.float32).reshape(len(n_node), len(target_names)), meta=meta,
                      positions=np.asarray(pos, np.float32))


def parse_xyz(path: Path) -> tuple[list[tuple[list[str], np.ndarray, float, int]], list[dict], int]:
    """Frames ``(symbols, positions [n, 3], energy or nan, line of the count)``,
    skipped frames, frames seen. Lines are 1-based."""
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: a binary file, not an XYZ text file") from None
    frames, skipped, seen, i = [], [], 0, 0
    while i < len(lines):
        head = lines[i].strip()
        if not head:
            i += 1
            continue
        if not head.isdigit():
            raise ValueError(f"{path}:{i + 1}: expected an atom count, found {head[:40]!r}")
        n, seen, start = int(head), seen + 1, i
        comment = lines[i + 1] if i + 1 < len(lines) else ""
        body = lines[i + 2:i + 2 + n]
        atoms = [b.split() for b in body]
        good = [len(a) >= 4 and not a[0].lstrip("-").isdigit() for a in atoms]
        if n == 0 or len(atoms) < n or not all(good):
            # The frame ends at its first line that is not an atom line.
            n_atoms = good.index(False) if False in good else len(atoms)
            j = i + 2 + n_atoms
            skipped.append({"input": seen - 1, "line": start + 1, "id": f"{path.name}:{start + 1}",
                            "reason": f"frame says {n} atoms but has {n_atoms} atom lines"})
            i = j
            continue
        try:
            pos = np.array([[float(x) for x in a[1:4]] for a in atoms], dtype=np.float32)
        except ValueError:
            skipped.append({"input": seen - 1, "line": start + 1, "id": f"{path.name}:{start + 1}",
                            "reason": "non-numeric coordinate"})
            i += 2 + n
            continue
        numbers = []
        for tok in comment.split():
            try:
                numbers.append(float(tok))
            except ValueError:
                pass
        energy = numbers[-1] if numbers else float("nan")
        if not np.isfinite(energy) and numbers:
            skipped.append({"input": seen - 1, "line": start + 2, "id": f"{path.name}:{start + 1}",
                            "reason": "non-finite energy on the comment line"})
        else:
            frames.append(([a[0] for a in atoms], pos, energy, start + 1))
        i += 2 + n
    return frames, skipped, seen


def build_xyz(path: Path | str, cutoff: float = 6.0, max_neighbors: int | None = 28,
              edges: str = "stored") -> GraphStore:
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text))
    else:
        p = Path(text).expanduser()
        files = sorted(p.glob("*.xyz")) if p.is_dir() else [_existing(p)]
    if not files:
        raise FileNotFoundError(f"no .xyz file matches {text}")
    frames, skipped, seen = [], [], 0
    for f in files:
        fr, sk, n = parse_xyz(_existing(f))
        skipped += [{**s, "input": s["input"] + seen, "file": f.name} for s in sk]
        frames += [(*x, f.name, seen + k) for k, x in enumerate(fr)]
        seen += n
    if not frames:
        raise ValueError(f"{text}: no usable frame ({len(skipped)} skipped"
                         + (f"; first: line {skipped[0]['line']}: {skipped[0]['reason']})" if skipped else ")"))
    energies = np.array([fr[2] for fr in frames], dtype=np.float32)
    has_energy = ~np.isnan(energies)
    if has_energy.any() and not has_energy.all():
        for fr in (fr for fr, ok in zip(frames, has_energy) if not ok):
            skipped.append({"input": fr[5], "line": fr[3] + 1, "file": fr[4], "id": f"{fr[4]}:{fr[3]}",
                            "reason": "missing target (no energy on the comment line)"})
        frames = [fr for fr, ok in zip(frames, has_energy) if ok]
        energies = energies[has_energy]
    target_names = ("energy",) if has_energy.any() else ()
    z = _atomic_numbers([s for fr in frames for s in fr[0]], text)
    pos = np.concatenate([fr[1] for fr in frames])
    targets = energies[:, None] if target_names else np.zeros((len(frames), 0), np.float32)
    note = "target: 'energy' (the comment line's last number)" if target_names else \
        "no energy on any comment line: no target (throughput and memory only)"
    return _store_3d(f"xyz:{text}", ";".join(map(str, files)), [len(fr[0]) for fr in frames], z, pos, targets,
                     target_names, seen, sorted(skipped, key=lambda s: s["input"]), cutoff, max_neighbors, note,
                     edges)


def _sdf_records(path: Path) -> list[tuple[int, str]]:
    """(1-based first line, title) of every record of an SD file."""
    out, start, title = [], 1, None
    with open(path, "rb") as f:
        for k, raw in enumerate(f, start=1):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if title is None:
                title = line.strip()
            if line.strip() == "$$$$":
                out.append((start, title))
                start, title = k + 1, None
    if title is not None and title != "":
        out.append((start, title))
    return out


def _first(skipped: list[dict]) -> str:
    if not skipped:
        return "0 skipped"
    first = min(skipped, key=lambda r: r["input"])
    return f"{len(skipped)} skipped; first: line {first.get('line')}: {first['reason']}"


def _flat(mol) -> bool:
    """2D coordinates: every z is 0 (whatever the file's 2D/3D flag says)."""
    return bool(np.allclose(mol.GetConformer().GetPositions()[:, 2], 0.0))


def build_sdf(path: Path | str, target_columns=None, cutoff: float = 6.0,
              max_neighbors: int | None = 28, edges: str = "stored") -> GraphStore:
    from rdkit import Chem, rdBase

    path = _existing(path)
    with open(path, "rb") as f:
        if b"\0" in f.read(1 << 16):
            raise ValueError(f"{path}: a binary file, not an SD file")
    records = _sdf_records(path)
    mols, skipped = [], []

    def skip(k: int, reason: str) -> None:
        line, title = records[k] if k < len(records) else (None, "")
        skipped.append({"input": k, "line": line, "id": title, "reason": reason})

    with rdBase.BlockLogs():
        for k, mol in enumerate(Chem.SDMolSupplier(str(path), removeHs=False)):
            if mol is None:
                skip(k, "RDKit could not read the record")
            elif mol.GetNumConformers() == 0:
                skip(k, "no coordinates")
            else:
                mols.append((k, mol))
    n_input = max(len(records), len(mols) + len(skipped))
    if not mols:
        raise ValueError(f"{path}: no usable molecule ({_first(skipped)})")
    flat = [_flat(m) for _, m in mols]
    is_3d = not all(flat)
    if is_3d:
        for (k, _), f in zip(mols, flat):
            if f:
                skip(k, "2D coordinates (all z = 0) in a file of 3D molecules")
        mols = [km for km, f in zip(mols, flat) if not f]
    props = [m.GetPropsAsDict() for _, m in mols]
    targets_given = _as_list(target_columns)
    names = targets_given
    if names is None:
        numeric = sorted(k for k in props[0]
                         if all(isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool) for p in props))
        if len(numeric) > 1:
            raise ValueError(f"{path}: several numeric SD properties ({', '.join(numeric)}); choose the target with "
                             "--target NAME (target_columns=)")
        names = numeric
    elif not any(c in p for p in props for c in names):
        raise ValueError(f"{path}: no SD property {names}; properties are {sorted(props[0])}")
    keep, targets = [], []
    for (k, mol), p in zip(mols, props):
        vals = [p.get(c) for c in names]
        bad = next((c for c, v in zip(names, vals) if not isinstance(v, (int, float))), None)
        if bad is not None:
            v = p.get(bad)
            skip(k, f"missing value in {bad!r}" if v is None or str(v).strip().lower() in ("", "nan", "na", "n/a")
                 else f"non-numeric value {str(v)[:40]!r} in {bad!r}")
        elif not np.all(np.isfinite(vals)):
            skip(k, f"non-finite value in {names[int(np.argmin(np.isfinite(vals)))]!r}")
        else:
            keep.append(mol)
            targets.append(vals)
    if not keep:
        raise ValueError(f"{path}: no usable molecule ({_first(skipped)})")
    skipped.sort(key=lambda s: s["input"])
    note = (f"target: {', '.join(map(repr, names))}" if names else "no numeric SD property: no target "
            "(throughput and memory only)")
    y = np.asarray(targets, np.float32).reshape(len(keep), len(names))
    if not is_3d:
        return _store_2d_from_mols(path, [Chem.RemoveHs(m, sanitize=False) for m in keep], y, names, n_input,
                                   skipped, note + "; 2D coordinates (every z = 0): bond graphs, no positions")
    z = np.concatenate([[a.GetAtomicNum() for a in m.GetAtoms()] for m in keep]).astype(np.int64)
    pos = np.concatenate([m.GetConformer().GetPositions() for m in keep])
    return _store_3d(f"sdf:{path}", str(path), [m.GetNumAtoms() for m in keep], z, pos, y,
                     names, n_input, skipped, cutoff, max_neighbors, note, edges)


def _store_2d_from_mols(path: Path, mols, y, names, n_input, skipped, note) -> GraphStore:
    graphs = []
    for mol, t in zip(mols, y):
        g = mol_to_graph(mol)
        g["targets"] = t
        graphs.append(g)
    atom_dims, bond_dims = feature_dims()
    meta = StoreMeta(name=f"sdf:{path}", source=str(path), node_feature_names=ATOM_FEATURES,
                     edge_feature_names=BOND_FEATURES, node_feature_dims=atom_dims, edge_feature_dims=bond_dims,
                     target_names=tuple(names), n_input=n_input, params={"coordinates": "2D", "note": note},
                     skipped=tuple(skipped))
    return GraphStore.from_graphs(graphs, meta)
