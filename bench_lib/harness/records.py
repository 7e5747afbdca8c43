"""The records file of a suite: one CSV row per cell, appended as each cell ends.

:func:`append_record` adds one row with a single ``write`` on a file opened for appending, so a
killed or stopped suite leaves whole rows only; pandas reads the file with no code of ours
(``pd.read_csv``). A file written under an earlier schema (a subset of today's columns) is rewritten
under today's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from bench_lib.schema import ENVIRONMENT_SKIP, RECORD_FIELDS

__all__ = ["record_done", "append_record", "read_records", "rewrite_without"]


def record_done(status: str, error) -> bool:
    """Whether a record ends its cell for good: ok, or skipped for a reason other than the machine
    (an environment skip, such as a missing GPU, and a failure are retried by a later run)."""
    return (status == "ok"
            or (status == "skipped" and not str(error or "").startswith(ENVIRONMENT_SKIP)))


def _cell(value):
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return "" if value is None else value


def append_record(path: Path, record: dict) -> None:
    """Append one row (and the header if the file is new) in one write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unknown = set(record) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"record has fields not in the schema: {sorted(unknown)}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RECORD_FIELDS, lineterminator="\n")
    if path.exists() and path.stat().st_size:
        _check_header(path)  # before opening: an earlier schema's file is replaced by its upgrade
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            writer.writeheader()
        writer.writerow({k: _cell(record.get(k)) for k in RECORD_FIELDS})
        os.write(fd, buf.getvalue().encode())
    finally:
        os.close(fd)


def _check_header(path: Path) -> None:
    """``ValueError`` when ``path`` was written with other columns (another bench_lib version)."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    if header != RECORD_FIELDS and set(header) <= set(RECORD_FIELDS):
        # an earlier schema's columns are a subset of today's: rewritten under it
        rewrite_without(path, set())
    elif header != RECORD_FIELDS:
        raise ValueError(
            f"{path} holds records with other columns (schema of another bench_lib version); "
            "write to a new results directory (--out) or move this one away")


def read_records(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def rewrite_without(path: Path, cell_ids: set[str]) -> None:
    """Drop the rows of ``cell_ids`` (a failed cell about to be recorded again):
    the file is rewritten to a temporary name and renamed over the old one."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["cell_id"] not in cell_ids]
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=RECORD_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(keep)
        os.replace(tmp, path)
    except BaseException:  # a stop or a full disk: the old file stays, no stray temporary one
        Path(tmp).unlink(missing_ok=True)
        raise
