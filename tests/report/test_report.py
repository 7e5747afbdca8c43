"""Reports regenerate from a results directory alone, and say only what the records support."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench_lib.config import parse_config
from bench_lib.schema import METRIC_FIELDS, CellSpec
from bench_lib.cells import plan_suite
from bench_lib.harness.planning import planning_summary
from bench_lib.harness.runner import append_record
from bench_lib.report import readme_block, update_readme
from bench_lib.report.stats import Estimate, bootstrap_median, censored_median, overlaps
from bench_lib.report.plots import curve_points
from bench_lib.report.tables import COMPILE, DETAILS, FAIRNESS, MAIN, best, summarise

ROOT = Path(__file__).resolve().parents[2]
PADDED = ("equal-padded-budget",)

# strategy -> (repeat graphs/s per seed, steps to target per seed (None: missed), node slots per
# step)
CELLS = {
    "pad": ([[900, 950, 1000], [920, 980, 990]], [None, None], 513.0),
    "pack-lpfhp": ([[3000, 3100, 3200], [3050, 3150, 3300]], [300, 350], 513.0),
    "dynamic": ([[3100, 3250, 3400], [2900, 3000, 3350]], [250, None], 505.0),
}


def record(strategy: str, seed: int, views=PADDED, status: str = "ok") -> dict:
    spec = CellSpec(dataset="nci5k", strategy=strategy, model="gin", seed=seed, views=views,
                    node_slots_budget=512 if views == PADDED else None,
                    edge_slots_budget=1056 if views == PADDED
                    else None, graphs_per_step_budget=None if views == PADDED else 32,
                    target_mae=20.0)
    rec = {"schema_version": 2, "cell_id": spec.cell_id, "status": status,
           **json.loads(spec.to_json())}
    if status != "ok":
        rec["error"] = "timeout: the cell ran past its limit of 1 s and was killed"
        return rec
    repeats, steps, node_slots = CELLS[strategy]
    rates = repeats[seed]
    reached = steps[seed] is not None
    rec.update({m: 1.0 for m in METRIC_FIELDS
                if m not in ("curve", "repeat_graphs_per_s", "step_clock", "train_stop",
                             "reached_target")})
    rec.update(step_clock="cpu", graphs_per_s=sorted(rates)[1], graphs_per_s_min=min(rates),
               graphs_per_s_max=max(rates), repeat_graphs_per_s=rates,
               node_slots_per_step=node_slots,
               # four windows per repeat, the same turn-by-turn wobble in every cell (the machine's
               # load)
               window_graphs_per_s=[r * f for r in rates for f in (0.9, 1.05, 1.0, 1.1)],
               edge_slots_per_step=1056.0, node_efficiency={"pad": 0.13}.get(strategy, 0.97),
               throughput_rss_mib=100 + seed, step_s=0.01, reached_target=reached,
               steps_to_target=steps[seed],
               time_to_target_s=steps[seed] * 0.01 if reached else None,
               train_stop="target" if reached
               else "max_steps", train_steps=steps[seed] or 400,
               best_val_mae=15.0 if reached else 25.0,
               curve=[[0, 0.0, 50.0], [100, 1.0, 25.0], [200, 2.0, 15.0 + seed]])
    return rec


def fixture_results(tmp_path: Path) -> Path:
    """A results directory in the real schema: 3 strategies x 2 seeds, a failed cell, missed
    targets."""
    res = tmp_path / "results" / "fixture"
    res.mkdir(parents=True)
    cfg = parse_config({"suite": {"name": "fixture", "strategies": ["pad", "pack-lpfhp", "dynamic"],
                                  "fairness": ["equal-padded-budget"]},
                        "datasets": {"nci5k": {"n_graphs": 60, "models": ["gin"], "node_slots": 256,
                                               "pack_nodes": 128, "target_mae": 20.0}}})
    (res / "config.json").write_text(json.dumps(cfg.to_json()))
    (res / "environment.json").write_text(json.dumps({"cpu": "test cpu", "cpu_count": 2,
                                                      "git_commit": "abc1234def",
                                                      "packages": {"torch": "x"}}))
    (res / "planning.json").write_text(json.dumps(planning_summary(plan_suite(cfg).datasets)))
    for seed in (0, 1):
        for strategy in CELLS:
            append_record(res / "records.csv", record(strategy, seed))
    append_record(res / "records.csv", record("pad", 0, views=("equal-real-graphs",),
                                              status="failed"))
    return res


@pytest.mark.slow
def test_report_has_every_table_and_figure(tmp_path):
    res = fixture_results(tmp_path)
    out = tmp_path / "reports" / "fixture"
    proc = subprocess.run([sys.executable, "-m", "bench_lib.report", str(res), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    text = (out / "report.md").read_text()
    assert "## Datasets" in text and "| nci5k |" in text and "test cpu" in text
    assert "### `gin`, equal-padded-budget" in text
    assert "512 node slots and 1,056 edge slots per step" in text
    # pack-lpfhp and dynamic overlap: no bold graphs/s; pad's efficiency is clearly worst,
    # lpfhp/dynamic tie.
    assert "**3," not in text
    # Turn by turn: pad is decided slower; pack-lpfhp is ahead of dynamic in seed 0 and behind in
    # seed 1, more than their turns explain: undecided, and more seeds (not turns) would decide it.
    assert ("against `dynamic`: `pad` 70% slower [67%-72%]; `pack-lpfhp` undecided (ratio 0.99"
            in text)
    assert "the 2 seeds disagree more than their turns explain" in text
    assert "| `pad` | 2/2 | 965 [910-995] | 70% slower [67%-72%] |" in text
    assert "| `pack-lpfhp` | 2/2 | 3,125 [3,025-3,250] | undecided (seeds disagree) |" in text
    # each fixture cell says it timed one window of 0.05 s: far below what held under load
    assert "**timed for less than 4 s per cell** (6 cell(s), the least 0.05 s of windows)" in text
    assert "| `pad` | 2/2 | 965 [" in text and "not reached (0/2)" in text
    # dynamic reached the target in 1 of 2 seeds: shown (at least half) with 1/2; lpfhp over 2/2.
    assert "250 [250-∞] (1/2)" in text and "300 [300-350] (2/2)" in text
    assert ("Did not reach it (step budget, safety limit or a failed cell): `pad` in 2 of 2, "
            "`dynamic` in 1 of 2") in text
    # Two seeds are too few to bold a median over seeds (steps, memory), however far apart.
    assert "**300" not in text and "**250" not in text
    assert "Budget check: node slots per step 505-513 (1.6% apart)" in text
    assert "**failed**: nci5k / `pad` / gin / equal-real-graphs / seed 0: timeout" in text
    assert "never reached MAE 20: nci5k / `pad` / gin / equal-padded-budget / seed 0" in text
    for stem in ("throughput_memory", "efficiency", "curves", "sizes_fill", "capacity"):
        for ext in ("png", "svg"):
            path = out / f"nci5k_{stem}.{ext}"
            assert path.exists() and path.stat().st_size > 1000, path
        assert f"nci5k_{stem}.png" in text


def test_every_recorded_metric_is_reported():
    from bench_lib.report.costs import COLUMNS as COSTS
    from bench_lib.report.ranks import RANKS

    shown = {m for m, *_ in MAIN + FAIRNESS + DETAILS + COMPILE + RANKS} | set(COSTS)
    # Used otherwise: the repeats feed graphs/s's interval, the curve the figure, the clock the
    # settings, the stop reason and reached flag the missed-target lines, the compile cache the
    # compile section's text.
    elsewhere = {"repeat_graphs_per_s", "curve", "step_clock", "train_stop", "reached_target",
                 "peak_reset_ok", "compile_cache",
                 "class_balance", "positive_class", "metric_source",  # the target's sentence
                 "best_val_mae", "final_val_mae",  # the score columns hold them too
                 "turn_group", "decide_looks",  # the verdicts' pairing and their share of alpha
                 "retried",  # the cells to look at (test_flags_name_a_cell_that_ran_twice)
                 # the compile section's list of what the compiled cells passed and met
                 "compile_args", "graph_break_reasons", "compile_warm_error",
                 "compile_warm_compiles"}
    assert set(METRIC_FIELDS) - shown - elsewhere == set()


def test_bold_only_where_intervals_do_not_overlap():
    def e(v, lo, hi, n=3, kind="range"):
        return Estimate(v, lo, hi, n, n, kind, n)
    summary = {"a": {"x": e(10, 9, 11)}, "b": {"x": e(8, 7, 8.5)}, "c": {"x": e(5, 4, 6)}}
    assert best(summary, "x", "high") == ("a", "b", True)
    summary["b"]["x"] = e(8, 7, 9.5)
    assert best(summary, "x", "high") == ("a", "b", False)  # overlap: no winner
    summary = {"a": {"x": e(10, 10, 10, n=2)}, "b": {"x": e(8, 8, 8, n=2)}}
    assert best(summary, "x", "high") == ("a", "b", False)  # a range over two seeds says too little
    summary = {"a": {"x": e(10, 9.5, 10.5, n=2, kind="ci95")},
               "b": {"x": e(8, 7.5, 8.5, n=2, kind="ci95")}}
    # a bootstrap over repeats of two seeds may decide
    assert best(summary, "x", "high") == ("a", "b", True)
    summary = {"a": {"node_efficiency": e(0.9, 0.9, 0.9, n=1)},
               "b": {"node_efficiency": e(0.5, 0.5, 0.5, n=1)}}
    assert best(summary, "node_efficiency", "high") == ("a", "b", True)  # planned: exact
    # A third strategy with a lower median but a wide interval reaching past the leader: no clear
    # leader, although the runner-up's interval is clear of the leader's.
    summary = {"a": {"x": e(10, 9, 11)}, "b": {"x": e(8, 7, 8.5)}, "c": {"x": e(6, 2, 12)}}
    assert best(summary, "x", "high") == ("a", "b", False)


def test_censored_median_counts_misses():
    # Kaplan-Meier: the smallest value by which at least half of the seeds had reached the target.
    assert censored_median([100, 200], [True, True]).value == 100
    one = censored_median([100, None], [True, False])
    assert one.value == 100 and one.k == 1 and math.isinf(one.hi)  # half reached: shown, with k/n
    # a minority: not reached
    assert math.isnan(censored_median([100, None, None], [True, False, False]).value)
    assert censored_median([100, 300, None], [True, True, False]).value == 300
    assert censored_median([300, 100, 200], [True, True, True]).value == 200
    assert math.isnan(censored_median([None], [False]).value)
    # The same rule with or without a miss: a seed that missed never ranks a strategy ahead.
    assert (censored_median([225, None], [True, False]).value
            == censored_median([225, 250], [True, True]).value)


def test_bootstrap_interval_contains_the_median_and_is_repeatable():
    x = [[10, 12, 11], [13, 9, 30]]
    a, b = bootstrap_median(x), bootstrap_median(x)
    assert a == b and a.lo <= a.value <= a.hi and a.value == 11.5 and a.seeds == 2
    assert bootstrap_median([[5.0]]).lo == 5.0 and overlaps(a, bootstrap_median([[11, 12]]))


def test_bootstrap_resamples_seeds_so_a_process_effect_widens_the_interval():
    tight = [[100, 101, 99, 100], [100, 99, 101, 100]]
    # the second process runs 20% faster throughout
    apart = [[100, 101, 99, 100], [120, 119, 121, 120]]
    t, a = bootstrap_median(tight), bootstrap_median(apart)
    assert t.hi - t.lo < 3 and a.hi - a.lo > 15


def test_summary_pools_every_repeat_of_every_seed(tmp_path):
    df = pd.read_csv(fixture_results(tmp_path) / "records.csv")
    s = summarise(df[df.status == "ok"])
    assert s["pad"]["graphs_per_s"].n == 6 and s["pad"]["graphs_per_s"].value == pytest.approx(965)
    curves = curve_points(df[df.status == "ok"])
    # a curve for every seed
    assert {k: len(v) for k, v in curves.items()} == {"pad": 2, "pack-lpfhp": 2, "dynamic": 2}


def test_readme_block_is_made_from_records(tmp_path):
    res = fixture_results(tmp_path)
    block = readme_block(res, "reports/fixture", "python -m bench_lib.report X --readme R",
                         results_link="results/fixture")
    assert block.startswith("<!-- results:begin") and block.endswith("<!-- results:end -->")
    assert "| real graphs/s | nci5k gin |" in block and "| `pack-lpfhp` |" in block
    assert "commit abc1234" in " ".join(block.split())
    assert "(reports/fixture/glance_forest.png)" in block
    lines = block.splitlines()
    assert len(lines) <= 30 and max(map(len, lines)) <= 120, (len(lines), max(map(len, lines)))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold\n<!-- results:end -->\noutro\n")
    update_readme(readme, block)
    text = readme.read_text()
    assert (text.startswith("intro\n<!-- results:begin")
            and text.endswith("<!-- results:end -->\noutro\n"))
    assert "\nold\n" not in text
    (tmp_path / "bare.md").write_text("no markers")
    with pytest.raises(ValueError, match="has no results block"):
        update_readme(tmp_path / "bare.md", block)


@pytest.mark.slow
def test_a_failed_seed_is_counted_not_dropped(tmp_path):
    res = fixture_results(tmp_path)
    failed = record("pack-lpfhp", 1) | {"status": "failed", "error": "timeout: ... (during finish)",
                                        "reached_target": None, "steps_to_target": None}
    append_record(res / "records.csv", failed)  # the seed's cell is re-run and fails while training
    df = pd.read_csv(res / "records.csv").drop_duplicates("cell_id", keep="last")
    s = summarise(df[(df.status != "skipped") & df.views.str.contains("padded")])
    assert (s["pack-lpfhp"]["cells_ok"].k, s["pack-lpfhp"]["cells_ok"].n) == (1, 2)
    assert s["pack-lpfhp"]["steps_to_target"].k == 1  # the failed seed is a miss
    # its throughput, measured before it failed, still counts
    assert s["pack-lpfhp"]["graphs_per_s"].seeds == 2
    text = (tmp_path / "out" / "report.md")
    from bench_lib.report import write_report

    write_report(res, tmp_path / "out")
    assert ("Cells that failed (see *Cells to look at*; a failed cell counts as a miss above): "
            "`pack-lpfhp` 1 of 2.") \
        in text.read_text()


@pytest.mark.slow
def test_report_needs_a_results_dir(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench_lib.report", str(tmp_path / "nothing")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "records.csv not found" in proc.stderr
    # nothing created
    assert not (tmp_path / "nothing").exists() and not (ROOT / "reports" / "nothing").exists()


def test_the_data_parallel_table_censors_missed_seeds():
    """Two ranks reached the target in 1 of 3 seeds: not reached (as the main tables say), not the
    median of the one seed that reached it; a failed cell counts as a miss too."""
    import pandas as pd

    from bench_lib.report.ranks import ranks_rows

    rows = []
    for ranks, reached, status in ((1, [True, True, True], ["ok"] * 3),
                                   (2, [True, False, False], ["ok"] * 3),
                                   (4, [True, True, False], ["ok", "ok", "failed"])):
        for seed, (r, st) in enumerate(zip(reached, status)):
            rows.append({"strategy_name": "dynamic", "strategy": "dynamic", "ranks": ranks,
                         "execution": "eager",
                         "prefetch": 0, "seed": seed, "status": st,
                         "reached_target": r and st == "ok",
                         "steps_to_target": 100 + 10 * seed if r and st == "ok" else None,
                         "time_to_target_s": 1.0 + seed if r and st == "ok" else None,
                         "repeat_graphs_per_s": "[100.0, 110.0]", "step_clock": "wall"})
    out = {r["ranks"]: r for r in ranks_rows(pd.DataFrame(rows))}
    assert out[2]["steps_to_target_1"] == 110 and math.isnan(out[2]["steps_to_target_n"])
    # 2 of 3 reached (the failed seed a miss): the 2nd fastest
    assert out[4]["steps_to_target_n"] == 110


def test_loader_only_cells_neither_reach_nor_miss_a_target():
    import pandas as pd

    from bench_lib.report.tables import summarise, with_scores

    rows = with_scores(pd.DataFrame({"strategy": ["pad", "pad"], "status": ["ok", "ok"],
                                     "seed": [0, 1],
                                     "model": ["none", "none"], "target_mae": [12.0, 12.0],
                                     "reached_target": [False, False],
                                     "graphs_per_s": [10.0, 11.0]}))
    assert summarise(rows)["pad"]["steps_to_target"].n == 0  # no estimate, not "not reached (0/2)"


@pytest.mark.slow
def test_a_cell_timed_apart_from_its_group_is_marked_and_compared_unpaired(tmp_path):
    from bench_lib.report import write_report

    res = fixture_results(tmp_path)
    df = pd.read_csv(res / "records.csv")
    df["turn_group"] = "first"
    apart = (df.strategy == "pack-lpfhp") & (df.seed == 0)
    # re-run on resume: its windows took no turns with the others'
    df.loc[apart, "turn_group"] = "rerun"
    df.to_csv(res / "records.csv", index=False)
    text = write_report(res, tmp_path / "out").read_text()
    assert ("timed apart from its group (re-run on resume or with --rerun-failed): nci5k / "
            "`pack-lpfhp` / gin / equal-padded-budget / seed 0: its graphs/s is compared "
            "unpaired") in text
    # Unpaired, the turn-by-turn wobble the two shared no longer cancels: the same windows,
    # undecided.
    from bench_lib.report.tables import decide

    wobble = np.random.default_rng(0).normal(0, 0.3, 40)
    rows = pd.DataFrame({"strategy": ["a", "b"], "seed": [0, 0], "status": ["ok", "ok"],
                         "model": ["gin", "gin"],
                         "turn_group": ["g", "g"], "window_graphs_per_s": [
                             json.dumps(list(1000 * np.exp(wobble))),
                             json.dumps(list(950 * np.exp(wobble)))]})
    summary = summarise(rows.assign(graphs_per_s=[1000, 950]))
    assert decide(rows, summary)["graphs_per_s"][1]["b"].word == "slower"
    rows.loc[1, "turn_group"] = "rerun"
    assert decide(rows, summary)["graphs_per_s"][1]["b"].word == "undecided"


@pytest.mark.slow
def test_cells_measured_on_other_machines_say_so(tmp_path):
    """Cluster tasks each record their own machine; the report names them, not the submitting host
    alone."""
    from bench_lib.report import write_report

    res = fixture_results(tmp_path)
    df = pd.read_csv(res / "records.csv")
    df["environment"] = [json.dumps({"host": f"node{k % 2}", "cpu": "cluster cpu", "cpu_count": 32,
                                     "gpu": None})
                         for k in range(len(df))]
    df.to_csv(res / "records.csv", index=False)
    text = write_report(res, tmp_path / "out").read_text()
    assert ("- the cells ran on node0 (cluster cpu, 32 CPUs, GPU: none): 4 cell(s); node1 (cluster "
            "cpu, 32 CPUs, GPU: none): 3 cell(s) (each record's own environment)") in text


def test_flags_name_a_cell_that_ran_twice():
    from bench_lib.report.flags import flags_section

    records = pd.DataFrame([{"status": "ok", "dataset": "nci5k", "strategy": "pad", "model": "gin",
                             "views": '["equal-real-graphs"]', "seed": 0, "error": "", "ranks": 2,
                             "retried": "lost a rank (another rank died or stopped answering; "
                                        "...): RuntimeError\nx"},
                            {"status": "ok", "dataset": "nci5k", "strategy": "dynamic",
                             "model": "gin",
                             "views": '["equal-real-graphs"]', "seed": 0, "error": "", "ranks": 2,
                             "retried": None}])
    text = "\n".join(flags_section(records))
    assert ("- ran twice: nci5k / `pad` / gin / equal-real-graphs / seed 0: its first attempt "
            "failed for a reason of timing (lost a rank (another rank died or stopped answering; "
            "...): RuntimeError); the record is the second's (ok)") in text
    assert "`dynamic`" not in text


def test_a_strategy_off_the_real_graphs_budget_leaves_the_verdicts_with_a_sentence(tmp_path):
    """The approved-drugs case: the packer carried 39.2 graphs per step against a budget of 32 (its
    packs hold the largest molecule) and led on that; it leaves the view's verdicts, in the report
    and in advise."""
    from types import SimpleNamespace

    from bench_lib.advise.cost_model import ranked
    from bench_lib.report.datasets import view_text
    from bench_lib.report.results import Results

    res = fixture_results(tmp_path)
    real = ("equal-real-graphs",)
    carried = {"dynamic": 31.6, "pad": 32.1, "pack-lpfhp": 39.2}
    for seed in (0, 1):
        for strategy, mean in carried.items():
            append_record(res / "records.csv",
                          {**record(strategy, seed, views=real), "graphs_per_step_mean": mean})
    groups = {view: g for model, view, g in Results.read(res).groups("nci5k")}
    g = groups["equal-real-graphs"]
    # pad's failed cell in this view stays: failures are counted
    assert set(g.strategy) == {"dynamic", "pad"}
    assert set(g.attrs["off_budget"]) == {"pack-lpfhp"}
    assert ("`pack-lpfhp` carried 39.2 real graphs per step against the budget of 32 (+22.5%, "
            "outside ±5%): it is left out of this view's tables and verdicts") in view_text(
                "equal-real-graphs", g)
    # graphs per step differ there by design
    assert set(groups["equal-padded-budget"].strategy) == set(CELLS)
    rows = [{"scale": 1.0, "graphs_per_step_mean": mean, "predicted_graphs_per_s": 1000 * mean,
             "spec": SimpleNamespace(strategy=s, views=real,
                                     graphs_per_step_budget=32)} for s, mean in carried.items()]
    advice = SimpleNamespace(rows=rows)
    assert [r["spec"].strategy for r in ranked(advice, "equal-real-graphs")] == ["pad", "dynamic"]
    assert ([r["spec"].strategy for r in ranked(advice, "equal-real-graphs", off=True)]
            == ["pack-lpfhp"])


@pytest.mark.slow
def test_on_a_wide_size_distribution_only_strategies_within_the_budget_get_verdicts(tmp_path):
    """Sizes as wide as a table of approved drugs (up to 295 atoms), planned as the suite and advise
    plan them in the equal-real-graphs view at 32 graphs per step: packs that must hold the largest
    graph carry more than 32, and those strategies leave the view's verdicts; every one that stays
    carries within 5%."""
    from types import SimpleNamespace

    from bench_lib.advise import plan_cells
    from bench_lib.advise.cost_model import ranked
    from bench_lib.verdicts import BUDGET_SHARE, off_budget

    rng = np.random.default_rng(0)
    sizes = np.clip(rng.lognormal(np.log(24), 0.5, 600).astype(int), 3, 120)
    sizes[:3] = [295, 240, 180]
    path = tmp_path / "drugs.csv"
    path.write_text("smiles,y\n" + "\n".join(f"{'C' * int(k)},{k / 10}" for k in sizes) + "\n")
    cfg = parse_config({"suite": {"strategies": ["pad", "dynamic", "dynamic-budget", "pack-lpfhp",
                                                 "pack-ffd"],
                                  "fairness": ["equal-real-graphs"], "backend": "torch"},
                        "datasets": {f"csv:{path}": {"graphs_per_step": 32, "models": ["gin"]}}})
    # the suite's own cells and plans (advise plans the same)
    rows, _, _ = plan_cells(cfg, scales=(1.0,))
    carried = {r["spec"].strategy: r["graphs_per_step_mean"] for r in rows}
    # the case: its packs hold the 295-atom graph
    assert carried["pack-lpfhp"] > 32 * (1 + BUDGET_SHARE)
    view = "equal-real-graphs"
    kept = {s for s, c in carried.items() if not off_budget(view, c, 32)}
    assert kept and all(abs(carried[s] / 32 - 1) <= BUDGET_SHARE for s in kept)
    for r in rows:
        # more graphs per step, more graphs/s
        r["predicted_graphs_per_s"] = 1000.0 * r["graphs_per_step_mean"]
    advice = SimpleNamespace(rows=rows)
    assert {r["spec"].strategy for r in ranked(advice, view)} == kept
    assert {r["spec"].strategy for r in ranked(advice, view, off=True)} == set(carried) - kept
