"""Dataset names as a report shows them and as file names take them; a generated block of a page
replaced between its markers."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

__all__ = ["display_name", "file_stem", "replace_block", "wrap_lines"]


def file_stem(dataset: str) -> str:
    """A file-name-safe stem for ``dataset`` (``csv:/data/ESOL.csv`` -> ``csv-ESOL.csv-<hash>``):
    only letters, digits, ``.``, ``_`` and ``-``; a short hash keeps two files of the same name
    apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", display_name(dataset)).strip("-.") or "dataset"
    if safe == dataset:
        return safe
    return f"{safe}-{hashlib.sha256(dataset.encode()).hexdigest()[:6]}"


def display_name(dataset: str) -> str:
    """``kind:/some/where/file.csv`` -> ``kind:file.csv`` (no machine-specific path in a report)."""
    kind, sep, path = dataset.partition(":")
    if not sep or "/" not in path:
        return dataset
    return f"{kind}:{Path(path.rstrip('/')).name or path}"


def replace_block(page: Path | str, begin: str, end: str, block: str, what: str) -> None:
    """Replace ``page``'s block from the marker ``begin`` to ``end`` (markers included) with
    ``block``; a ``ValueError`` naming ``what`` when the page has none."""
    path = Path(page)
    text = path.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {what} ({begin} ... {end})")
    path.write_text(pattern.sub(lambda _: block, text, count=1))


def wrap_lines(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters for a generated Markdown block, broken only
    at spaces (a link or a code span longer than ``width`` stays whole)."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
