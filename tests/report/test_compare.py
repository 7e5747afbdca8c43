"""``python -m bench_lib.report compare A B``: a synthetic regression is flagged, an unchanged
run is not, and cells in one run only or failed are listed, not dropped."""

from __future__ import annotations

import pytest

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


@pytest.mark.slow
def test_a_synthetic_regression_is_flagged_and_nothing_else(tmp_path, capsys):
    records = pd.read_csv(REF / "records.csv")
    slow = records.index[(records.strategy == "pack-lpfhp") & (records.status == "ok")][0]
    gone = records.index[records.strategy == "pad"][0]

    def regress(df):
        for col in ("repeat_graphs_per_s", "window_graphs_per_s"):  # 40% slower
            df.at[slow, col] = json.dumps([0.6 * v for v in json.loads(df.at[slow, col])])
        df.at[slow, "throughput_peak_rss_mib"] *= 1.5

    def drop(df):
        df.drop(index=gone, inplace=True)

    a, b = copy_run(tmp_path, "a", drop), copy_run(tmp_path, "b", regress)
    c = compare_runs(a, b)
    assert len(c.rows) == records.status.eq("ok").sum() - (records.at[gone, "status"] == "ok")
    assert [r["cell"] for r in c.changed] == [r["cell"] for r in c.rows if r["ratio"] < 0.7]
    (flagged,) = c.changed
    assert flagged["cell"].startswith(
        f"{records.at[slow, 'dataset']}/{records.at[slow, 'model']}/pack-lpfhp/")
    assert abs(flagged["ratio"] - 0.6) < 0.02 and flagged["ratio_interval"][1] < 1
    assert abs(flagged["peak_rss_ratio"] - 1.5) < 1e-9
    assert len(c.only_b) == 1 and "/pad/" in c.only_b[0] and not c.only_a
    text = comparison_markdown(c)
    assert "1 of " in text and "| **40% slower [" in text and "## Only in B (1)" in text
    # the CLI prints and writes the same table
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp.md")]) == 0
    assert (tmp_path / "cmp.md").read_text() == capsys.readouterr().out.rstrip("\n") + "\n"


@pytest.mark.slow
def test_the_same_run_twice_changes_nothing_and_misses_stay_visible(tmp_path):
    c = compare_runs(REF, REF)
    assert c.rows and not c.changed and not c.only_a and not c.only_b
    timed = [r for r in c.rows if r["verdict"] is not None]  # train-only seeds' cells have no rate
    assert timed and all(abs(r["ratio"] - 1) < 1e-12 and r["differs"] == [] for r in timed)
    assert all(r["verdict"].word in ("equivalent",
                                     "undecided") and r["verdict"].ratio == 1 for r in timed)
    assert all(r["ratio"] != r["ratio"] and not r["changed"] for r in c.rows
               if r["verdict"] is None)
    # A cell of B that missed its target is shown as missed, not dropped.
    records = pd.read_csv(REF / "records.csv")
    k = records.index[(records.status == "ok")
                      & records.reached_target.map(str).str.lower().eq("true")][0]

    def miss(df):
        df["reached_target"] = df["reached_target"].astype(object)
        df.at[k, "reached_target"] = False
        df.at[k, "steps_to_target"] = None

    c = compare_runs(REF, copy_run(tmp_path, "b", miss))
    (row,) = [r for r in c.rows if r["steps_b"] is None]
    assert row["steps_a"] is not None and row["steps_ratio"] is None
    text = comparison_markdown(c)
    assert f"| {row['steps_a']:,.0f} | missed | - |" in text


@pytest.mark.slow
def test_two_committed_runs_line_up_on_their_common_cells(tmp_path, capsys):
    ddp = REF.parent / "ddp-reference"
    assert main(["compare", str(REF), str(ddp), "--relative-to", "dynamic"]) == 0
    assert "strategy ratios changed" in capsys.readouterr().out
    assert main(["compare", str(REF), str(ddp), "--absolute"]) == 0
    out = capsys.readouterr().out
    assert "matched cells changed in graphs/s" in out and "## Only in A" in out
    # the reference timed on the CPU clock, the data-parallel run on the wall clock
    assert "clock" in out
    # no records.csv: an error, not a traceback
    assert main(["compare", str(REF), str(tmp_path)]) == 2


@pytest.mark.slow
def test_another_machine_compares_ratios_within_each_run(tmp_path, capsys):
    """B ran on a machine twice as fast, and pack-lpfhp lost 30% there relative to the others:
    absolute graphs/s flags nearly every cell, the relative mode only pack-lpfhp's ratios."""
    def faster_machine(df):
        # the timed seeds' cells
        for i in df.index[(df.status == "ok") & df.window_graphs_per_s.notna()]:
            scale = 2.0 * (0.7 if df.at[i, "strategy"] == "pack-lpfhp" else 1.0)
            for col in ("repeat_graphs_per_s", "window_graphs_per_s"):
                df.at[i, col] = json.dumps([scale * v for v in json.loads(df.at[i, col])])

    b = copy_run(tmp_path, "b", faster_machine)
    env = json.loads((b / "environment.json").read_text())
    (b / "environment.json").write_text(json.dumps({**env, "host": "elsewhere",
                                                    "cpu": "another cpu"}))
    absolute = compare_runs(REF, b)
    timed = [r for r in absolute.rows if r["verdict"] is not None]
    # train-only seeds: no rate
    assert len(absolute.changed) >= 0.9 * len(timed) and len(timed) < len(absolute.rows)
    # the machines differ: relative to dynamic by default
    assert main(["compare", str(REF), str(b)]) == 0
    out = capsys.readouterr()
    assert "different machines" in out.err and "Relative to `dynamic`" in out.out
    c = compare_runs(REF, b, relative_to="dynamic")
    flagged = {r["strategy"] for r in c.changed}
    assert flagged == {"pack-lpfhp"}
    assert all(r["word"] == "slower" and 0.65 < r["change"] < 0.75 for r in c.changed)
    assert all(r["word"] in ("unchanged", "undecided") for r in c.relative if r["strategy"]
               != "pack-lpfhp")
    assert main(["compare", str(REF), str(b), "--relative-to", "nope"]) == 2
