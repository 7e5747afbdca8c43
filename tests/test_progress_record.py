"""The committed default run's progress lines (results/progress-eta) against what its page and the
docs say."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "results" / "progress-eta"


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


def ratios() -> dict[int, float]:
    """Group number -> true time left / the time left its first line estimated."""
    lines = (RUN / "progress.log").read_text().splitlines()
    end = _seconds(re.search(r"\| (\d+:\d+) elapsed",
                             next(x for x in lines if x.startswith("[200/200]"))).group(1))
    out = {}
    for line in lines:
        m = re.match(r"group (\d+)/15 \S+: \d+ cell\(s\) \| (\d+:\d+) elapsed, ~(\d+:\d+) left",
                     line)
        if m:
            out[int(m.group(1))] = (end - _seconds(m.group(2))) / _seconds(m.group(3))
    return out


def test_the_page_and_the_docs_quote_the_run():
    r = ratios()
    page = (RUN / "benchmark.md").read_text()
    for group, ratio in r.items():
        assert re.search(rf"^\| {group} \| .* \| {ratio:.2f} \|$", page, re.M), group
    assert f"({r[2]:.2f})" in page and f"a factor of {r[3]:.2f}" in page
    assert (f"within {min(r[g] for g in r if g >= 7):.2f} to {max(r[g] for g in r if g >= 7):.2f}"
            in page)
    assert (f"was {r[2]:.2f} of the time the run then took"
            in (ROOT / "docs" / "suites.md").read_text())
    assert 1 / 1.5 <= r[2] <= 1.5  # issue 37: after the first group, within a factor of 1.5
