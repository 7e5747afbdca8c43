"""The columns of a molecule table: which holds the SMILES, which the IDs,
which the targets, and the targets' values (numbers, or text labels read as
classes). The rules are in :mod:`bench_lib.data.local_files`' docstring;
the table itself comes from :mod:`bench_lib.data.table_file`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["SMILES_HEADERS", "ID_HEADERS", "MAX_TEXT_CLASSES"]

SMILES_HEADERS = ("smiles", "SMILES", "Smiles", "smi", "SMI", "canonical_smiles", "CanonicalSMILES",
                  "Drug", "drug",
                  "mol", "Molecule", "molecule")
ID_HEADERS = ("id", "ID", "Id", "name", "Name", "Compound ID", "compound_id", "Drug_ID", "mol_id",
              "molecule_chembl_id",
              "zinc_id", "cmpd_id", "CAS")


def _as_list(columns) -> list[str] | None:
    """``"a"`` or ``"a,b"`` or ``["a", "b"]`` -> a list of names (never split into characters)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",") if c.strip()]
    return [str(c) for c in columns]


def _to_float(values, decimal_comma: bool) -> np.ndarray:
    """Strings -> float64 (NaN where not a number); ``1,5`` reads as 1.5 in a semicolon-separated
    file."""
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
_ID_NAMES = ("id", "cid", "sid", "cas", "no", "no.", "index", "idx", "inchikey", "inchi key",
             "cas number",
             "cas no", "chembl id", "pubchem cid", "zinc id")
_SPLIT_NAMES = ("split", "splits", "fold", "folds", "set", "subset", "partition", "scaffold",
                "data split")
_POSITIVE = ("yes", "true", "active", "positive", "pos", "p", "1", "y")
#: A text column with more distinct values than this (and than half its rows) holds names, not class
#: labels.
MAX_TEXT_CLASSES = 20


def _present(values) -> np.ndarray:
    """Stripped strings -> True where a value is given (not empty, na, nan, none, null)."""
    return ((values != "") & ~values.str.lower().isin(_MISSING)).to_numpy()


def _identifier(name: str) -> bool:
    """An identifier column: its header names one (``id``, ``CID``, ``NO.``, ``index``, ``..._id``,
    ``compound id``, ...), whatever its values (a table may repeat an ID). Never a target. A header
    that ends in "index" is a measurement (a retention or refractive index); only ``index`` itself
    is not."""
    low = " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
    return (low in _ID_NAMES or low.endswith((" id", " no", " no.")) or low.startswith("id ")
            or low in {" ".join(h.lower().replace("_", " ").split()) for h in ID_HEADERS})


def _split_column(name: str) -> bool:
    """A column that assigns rows to splits or folds (``split``, ``fold``, ``scaffold_split``...):
    its few text values look like class labels, but it is never a target by default."""
    low = " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
    return low in _SPLIT_NAMES or low.endswith((" split", " fold", " set"))


def _text_column(values, decimal_comma: bool = False) -> bool:
    """Most present values are not numbers."""
    stripped = values.astype(str).str.strip()
    present = _present(stripped)
    text = present & np.isnan(_to_float(stripped, decimal_comma))
    return text.sum() > 0.5 * max(int(present.sum()), 1)


def _label_like(values, decimal_comma: bool = False) -> bool:
    """A text column that looks like class labels: 2 to MAX_TEXT_CLASSES distinct values."""
    stripped = values.astype(str).str.strip()
    return (_text_column(values, decimal_comma)
            and 2 <= stripped[_present(stripped)].nunique() <= MAX_TEXT_CLASSES)


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
        raise ValueError(
            f"{path}: column {name!r} has one class only: {classes[0]!r}; a classification target "
            "needs two (choose another column)")
    if len(classes) > MAX_TEXT_CLASSES and len(classes) > 0.5 * present.sum():
        raise ValueError(
            f"{path}: column {name!r} looks like names or identifiers, not class labels "
            f"({len(classes):,} distinct values in {int(present.sum()):,} rows); choose a column "
            f"of class labels or of numbers")
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
    return (f"target: {name!r} (text labels: {len(classes)} classes: "
            f"{shown}{', ...' if len(classes) > 6 else ''})")



def _smiles_and_id_columns(path: Path, columns: list[str], smiles_column: str | None,
                           id_column: str | None) -> tuple[str, str | None]:
    """The SMILES and ID columns: those named (an error when not in the table), else guessed from
    the usual headers (an error when no SMILES column is found; None when no ID column is)."""
    if smiles_column is None:
        smiles_column = _guess(columns, SMILES_HEADERS)
        if smiles_column is None:
            raise ValueError(
                f"{path}: no SMILES column among {columns}; name it with --smiles-column "
                "(smiles_column=)")
    elif smiles_column not in columns:
        raise ValueError(f"{path}: no column {smiles_column!r}; columns are {columns}")
    if id_column is None:
        id_column = _guess([c for c in columns if c != smiles_column], ID_HEADERS)
    elif id_column not in columns:
        raise ValueError(f"{path}: no ID column {id_column!r}; columns are {columns}")
    return smiles_column, id_column


def _target_columns(path: Path, columns: list[str], rows, target_columns, smiles_column: str,
                    id_column: str | None, decimal_comma: bool) -> tuple[list[str], str]:
    """The target columns and the store's note on them: those named (checked), else the one numeric
    column.

    ``rows``: the table's non-blank rows (a DataFrame of strings)."""
    targets = _as_list(target_columns)
    if targets is None:
        return _default_targets(path, columns, rows, smiles_column, id_column, decimal_comma)
    _check_named_targets(path, columns, rows, targets, smiles_column, decimal_comma)
    return targets, f"target: {', '.join(map(repr, targets))}"


def _default_targets(path: Path, columns: list[str], rows, smiles_column: str,
                     id_column: str | None,
                     decimal_comma: bool) -> tuple[list[str], str]:
    """No target named: the candidates are the numeric columns and the text columns of class labels,
    never the SMILES, ID or index column, an identifier (by its header) nor a row counter. One
    candidate is the target (the note says so); several are an error that lists them, class columns
    first; none: no target."""
    others = [c for c in columns if c not in (smiles_column, id_column) and not _index_column(c)
              and not _identifier(c) and not _split_column(c)]
    numeric = [c for c in others if np.mean(~np.isnan(_to_float(rows[c], decimal_comma))) > 0.5
               and not _counts_rows(_to_float(rows[c], decimal_comma))]
    labels = [c for c in others if c not in numeric and _label_like(rows[c], decimal_comma)]
    left = [c for c in columns if c not in (smiles_column, id_column) and c not in others]
    aside = (f" ({', '.join(map(repr, left))} left aside: identifier, row-number or split columns)"
             if left else "")
    if len(labels) + len(numeric) > 1:
        kinds = ([f"class labels {', '.join(map(repr, labels))}"] if labels else []) + \
                ([f"numbers {', '.join(map(repr, numeric))}"] if numeric else [])
        raise ValueError(f"{path}: several columns could be the target: {'; '.join(kinds)}; choose "
                         f"one with --target COL (target_columns=){aside}")
    if numeric:
        return numeric, f"target: {numeric[0]!r}, the only numeric column{aside}"
    if labels:
        return labels, f"target: {labels[0]!r}, the only column of class labels{aside}"
    return [], f"no numeric or class-label column: no target (throughput and memory only){aside}"


def _check_named_targets(path: Path, columns: list[str], rows, targets: list[str],
                         smiles_column: str,
                         decimal_comma: bool) -> None:
    """Named targets: each a column of the table, not the SMILES column nor an identifier column; a
    column of text labels only when it is named alone."""
    missing = [c for c in targets if c not in columns]
    if missing:
        raise ValueError(f"{path}: no target column(s) {missing}; columns are {columns}")
    for c in targets:
        if c == smiles_column:
            raise ValueError(f"{path}: {c!r} is the SMILES column: it holds the molecules, not "
                             f"labels; choose the target among the other columns "
                             f"{[o for o in columns if o != c]}")
        if _identifier(c):
            raise ValueError(
                f"{path}: column {c!r} is named like an identifier, not a measurement; choose "
                "another target column (or rename it if it is a measurement)")
    text = [c for c in targets if _text_column(rows[c], decimal_comma)]
    if text and len(targets) > 1:
        raise ValueError(
            f"{path}: column(s) {', '.join(map(repr, text))} hold text labels; text labels are "
            f"read as classes only when a single target column is named: name one column alone "
            f"(--target COL) or map the labels to numbers")


def _target_values(path: Path, df, rows, targets: list[str], decimal_comma: bool):
    """Every row's target values -> ``(values [rows, targets] float32, the first reason per row to
    skip it or None, class names by index per text column)``; a column of text labels holds class
    indices.

    ``df``: the whole table (blank rows too); ``rows``: its non-blank rows, which decide a column's
    kind."""
    classes: dict[str, list[str]] = {}
    values = np.zeros((len(df), len(targets)), np.float32)
    reasons = np.full(len(df), None, dtype=object)
    for k, c in enumerate(targets):
        if _text_column(rows[c], decimal_comma):
            values[:, k], why, classes[c] = _classes(df[c], c, path)
        else:
            values[:, k], why = _numeric(df[c].astype(str), c, decimal_comma=decimal_comma)
        reasons = np.where(reasons == None, why, reasons)  # noqa: E711 (first reason per row)
    return values, reasons, classes
