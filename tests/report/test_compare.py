"""``python -m bench_lib.report compare A B``: a synthetic regression is flagged, an unchanged
run is not, and cells in one run only or failed are listed, not dropped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from bench_lib.report.__main__ import main
from bench_lib.report.compare import compare_runs, comparison_markdown

REF = Path(__file__).resolve().parents[2] / "results" / "default-reference"


def copy_run(tmp_path: Path, name: str, edit=None) -> Path:
    out = tmp_path / name
    shutil.copytree(REF, out)
    if edit is not None:
        df = pd.read_csv(out / "records.csv")
        edit(df)
        df.to_csv(out / "records.csv", index=False)
    return out


def test_a_synthetic_regression_is_flagged_and_nothing_else(tmp_path, capsys):
    records = pd.read_csv(REF / "records.csv")
    slow = records.index[(records.strategy == "pack-lpfhp") & (records.status == "ok")][0]
    gone = records.index[records.strategy == "pad"][0]

    def regress(df):
        repeats = json.loads(df.at[slow, "repeat_graphs_per_s"])
        df.at[slow, "repeat_graphs_per_s"] = json.dumps([0.6 * v for v in repeats])  # 40% slower
        df.at[slow, "throughput_peak_rss_mib"] *= 1.5

    def drop(df):
        df.drop(index=gone, inplace=True)

    a, b = copy_run(tmp_path, "a", drop), copy_run(tmp_path, "b", regress)
    c = compare_runs(a, b)
    assert len(c.rows) == records.status.eq("ok").sum() - (records.at[gone, "status"] == "ok")
    assert [r["cell"] for r in c.changed] == [r["cell"] for r in c.rows if r["ratio"] < 0.7]
    (flagged,) = c.changed
    assert flagged["cell"].startswith(f"{records.at[slow, 'dataset']}/{records.at[slow, 'model']}/pack-lpfhp/")
    assert abs(flagged["ratio"] - 0.6) < 0.02 and flagged["ratio_interval"][1] < 1
    assert abs(flagged["peak_rss_ratio"] - 1.5) < 1e-9
    assert len(c.only_b) == 1 and "/pad/" in c.only_b[0] and not c.only_a
    text = comparison_markdown(c)
    assert "1 of " in text and "**yes**" in text and "## Only in B (1)" in text
    # the CLI prints and writes the same table
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp.md")]) == 0
    assert (tmp_path / "cmp.md").read_text() == capsys.readouterr().out.rstrip("\n") + "\n"


def test_the_same_run_twice_changes_nothing_and_misses_stay_visible(tmp_path):
    c = compare_runs(REF, REF)
    assert c.rows and not c.changed and not c.only_a and not c.only_b
    assert all(abs(r["ratio"] - 1) < 1e-12 and r["differs"] == [] for r in c.rows)
    missed = pd.read_csv(REF / "records.csv").reached_target.map(str).str.lower().eq("false").sum()
    assert sum(r["steps_a"] is None for r in c.rows) == missed
    assert comparison_markdown(c).count("| missed |") == missed


def test_two_committed_runs_line_up_on_their_common_cells(tmp_path, capsys):
    ddp = REF.parent / "ddp-reference"
    assert main(["compare", str(REF), str(ddp)]) == 0
    out = capsys.readouterr().out
    assert "matched cells changed in graphs/s" in out and "## Only in A" in out
    assert "clock" in out  # the reference timed on the CPU clock, the data-parallel run on the wall clock
    assert main(["compare", str(REF), str(tmp_path)]) == 2  # no records.csv: an error, not a traceback
