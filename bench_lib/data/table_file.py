"""Reading a local table file: a CSV, TSV or semicolon-separated table
(``.gz``, ``.bz2``, ``.xz``, ``.zip`` read by extension) as strings, with
each row's 1-based file line and the rows left out for having more fields
than the header. :mod:`bench_lib.data.local_files` turns such a table into
molecule graphs.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import warnings
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["read_table"]

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


def _sample(path: Path, size: int = 1 << 16) -> bytes:
    """The first ``size`` bytes of the file, decompressed by extension (all of them with -1)."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"{path}: a zip archive must hold exactly one table (holds "
                                 f"{len(names)})")
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
    path = _existing(path)
    text = _text(path)
    if sep is None:
        sep = _separator(text)
    if len(sep) != 1:
        raise ValueError(f"{path}: the separator must be one character, not {sep!r}")
    header, head_at, line, inputs, extra, cuts, n_rows = _records(path, text, sep)
    _check_header(path, header, sep, extra, n_rows)
    kept, at = [], head_at
    for a, b in cuts:
        kept.append(text[at:a])
        at = b
    kept.append(text[at:])
    del text
    df = _parse(path, kept, sep)
    line, inputs = np.asarray(line, np.int64), np.asarray(inputs, np.int64)
    # pandas and the csv module split the rows differently: count lines as pandas does
    if len(line) != len(df):
        line = np.arange(len(df), dtype=np.int64) + (line[0] if len(line) else 2)
        inputs = np.arange(len(df), dtype=np.int64)
    return df, sep, line, inputs, extra


def _text(path: Path) -> str:
    """The whole file decompressed and decoded (UTF-8, a BOM dropped); an error for an unreadable,
    binary or blank file."""
    try:
        raw = _sample(path, -1)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as err:
        raise ValueError(
            f"{path}: cannot be read as a {path.suffix or 'plain'} file ({err})") from None
    if b"\0" in raw[:1 << 16]:
        raise ValueError(f"{path}: a binary file, not a text table")
    text = raw.decode("utf-8-sig", errors="replace")
    del raw
    if not text.strip():
        raise ValueError(f"{path}: no rows (only blank lines)")
    return text


def _check_header(path: Path, header: list[str], sep: str, extra: list, n_rows: int) -> None:
    """Refuses a column name used twice, and more than half the rows with more fields than the
    header."""
    names = [h for h in header if h.strip()]
    twice = sorted({h for h in names if names.count(h) > 1}, key=names.index)
    if twice:
        raise ValueError(
            f"{path}: column name(s) used twice in the header: {', '.join(map(repr, twice))}; "
            f"rename them so that each column has one name")
    if extra and len(extra) > 0.5 * n_rows:
        counts = sorted({len(f) for _, _, f in extra})
        hint = (" (every row has one field more than the header: a file written with row names? "
                "give that first column a "
                "name in the header)" if len(extra) == n_rows and counts == [len(header) + 1]
                else "")
        raise ValueError(f"{path}: {len(extra):,} of {n_rows:,} rows have more fields than the "
                         f"header ({len(header)} names); the separator ({sep!r}) or the header "
                         f"line looks wrong{hint}")


def _parse(path: Path, kept: list[str], sep: str):
    """The kept pieces of the text (header first) -> a DataFrame of strings, by pandas."""
    import pandas as pd

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
    return df


def _records(path: Path, text: str, sep: str):
    """One csv pass: ``(header fields, offset of the header, first line of each row kept, its record
    index, [(record index, first line, fields)] of the rows with more fields than the header,
    [(start, end)] offsets of those rows in the text, non-blank rows)``."""
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
    """The header line's one delimiter among tab, semicolon and comma; the sniffer's pick when it
    has several."""
    header = next(line for line in text.splitlines() if line.strip())
    found = [s for s in ("\t", ";", ",") if s in header]
    if len(found) <= 1:
        return found[0] if found else ","
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters="".join(found)).delimiter
    except csv.Error:
        return max(found, key=header.count)
