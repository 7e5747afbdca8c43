"""The answer at a glance (issue 41): each cell is its strategy's verdict against the column's
leader, in a few characters, from the records."""

from __future__ import annotations

from bench_lib.report.glance import glance_cell, glance_columns, glance_lines, takeaway
from bench_lib.report.results import Results
from bench_lib.harness.runner import append_record
from tests.report.test_report import fixture_results, record


def test_each_cell_is_the_verdict_against_the_leader(tmp_path):
    res = Results.read(fixture_results(tmp_path))
    [column] = glance_columns(res)
    assert column.label == "nci5k gin"
    lead = column.verdicts["graphs_per_s"][0]
    assert lead == "dynamic"
    value = column.summary["dynamic"]["graphs_per_s"].value
    # not bold: pack-lpfhp is undecided against it, so it is not decided ahead of every other
    assert glance_cell(column, "dynamic", "graphs_per_s") == f"{value:,.0f}"
    assert not column.clear("graphs_per_s")
    pad = column.verdicts["graphs_per_s"][1]["pad"]
    assert pad.word == "slower"
    assert glance_cell(column, "pad", "graphs_per_s") == f"{pad.ratio - 1:+.0%}" == "-70%"
    # pack-lpfhp's seeds disagree more than their turns explain: undecided
    assert column.verdicts["graphs_per_s"][1]["pack-lpfhp"].word == "undecided"
    assert glance_cell(column, "pack-lpfhp", "graphs_per_s") == "?"
    # pad missed the target in both seeds: counted, not dropped
    assert glance_cell(column, "pad", "time_to_target_s") == "missed"
    assert glance_cell(column, "pyg", "graphs_per_s") == "·"  # not in this view


def test_a_strategy_whose_every_cell_failed_says_so(tmp_path):
    path = fixture_results(tmp_path)
    for seed in (0, 1):
        append_record(path / "records.csv", record("pack-lpfhp", seed, status="failed"))
    [column] = glance_columns(Results.read(path))
    assert glance_cell(column, "pack-lpfhp", "graphs_per_s") == "failed"


def test_the_lines_fit_a_screen_and_name_the_leader(tmp_path):
    res = Results.read(fixture_results(tmp_path))
    lines = glance_lines(res, tmp_path, "glance_forest.png", "From the fixture.")
    assert max(map(len, lines)) <= 120 and len(lines) <= 30
    assert lines[0].startswith("From the fixture. View equal-padded-budget; each column's leader")
    tables = [i for i, line in enumerate(lines) if line.startswith("| real graphs/s |")
              or line.startswith("| time to target, s |")]
    assert len(tables) == 2
    assert "| `pad` | -70% |" in lines
    line = takeaway("nci5k", glance_columns(res))
    # the time-to-target phrase did not fit in 120 characters after the others
    assert line == ("- **nci5k** (gin): most graphs/s `dynamic` (not decided ahead); slower in "
                    "graphs/s `pad` -70%.")
    assert (tmp_path / "glance_forest.png").exists() and (tmp_path / "glance_forest.svg").exists()
    image = lines.index("![Each strategy against its column's leader](glance_forest.png)")
    assert "error bars" in " ".join(lines[image + 2:])  # the report's caption (the README: none)


def test_a_takeaway_keeps_to_its_width(tmp_path):
    res = Results.read(fixture_results(tmp_path))
    columns = glance_columns(res)
    short = takeaway("nci5k", columns, width=60)
    assert len(short) <= 60 and short.startswith("- **nci5k** (gin): ")
    wider = takeaway("nci5k", columns, width=80)
    assert wider == "- **nci5k** (gin): most graphs/s `dynamic` (not decided ahead)."


def test_a_decided_time_to_target_reads_as_more_time_and_an_all_failed_view_draws_nothing(tmp_path):
    from bench_lib.report.glance import glance_figure

    path = fixture_results(tmp_path)
    [column] = glance_columns(Results.read(path))
    lead, against = column.verdicts["time_to_target_s"]
    for s, v in against.items():
        if v.word in ("faster", "slower"):  # a lower-is-better ratio: + is more time
            assert glance_cell(column, s, "time_to_target_s") == f"{v.ratio - 1:+.0%}"
            assert (v.ratio > 1) == (v.word == "slower")
    for strategy in ("pad", "pack-lpfhp", "dynamic"):
        for seed in (0, 1):
            append_record(path / "records.csv", record(strategy, seed, status="failed"))
    res = Results.read(path)
    [column] = glance_columns(res)
    assert {glance_cell(column, s, "graphs_per_s") for s in column.summary} == {"failed"}
    assert glance_figure([column], res.margin, tmp_path) is False
    lines = glance_lines(res, tmp_path, "glance_forest.png")
    assert not any(line.startswith("![") for line in lines)
    assert "| `pad` | failed |" in lines and not any("time to target, s" in x for x in lines)
    assert not (tmp_path / "glance_forest.png").exists()


def test_a_suite_of_one_other_view_shows_that_view(tmp_path):
    path = fixture_results(tmp_path)
    records = path / "records.csv"
    import pandas as pd

    df = pd.read_csv(records)
    df = df[df.status == "ok"]
    df["views"] = '["equal-real-graphs"]'
    df.to_csv(records, index=False)
    res = Results.read(path)
    lines = glance_lines(res, None, None)
    assert lines[0].startswith("View equal-real-graphs;")
