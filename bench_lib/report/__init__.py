"""Reports made from a results directory alone (records, config, planning).

``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR]`` writes
``report.md`` and its figures (PNG and SVG). Nothing here imports the
harness: a report can be regenerated on any machine from the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench_lib.report import plots
from bench_lib.report.tables import curve_points, latest, stats_table, summary_table, to_markdown

__all__ = ["write_report"]

VIEW_TEXT = {
    "equal-padded-budget": "every strategy gets the same node slots per step ({budget}); padding costs real graphs",
    "equal-real-graphs": "every strategy carries the same mean real graphs per step ({budget}); padding costs memory",
    "manual": "parameters set by hand (a plugin or an override); not budget-matched",
}


def _read(results: Path):
    records_path = results / "records.csv"
    if not records_path.exists():
        raise FileNotFoundError(f"{records_path} not found: is {results} a bench_lib results directory?")
    records = latest(pd.read_csv(records_path))
    load = lambda name: json.loads((results / name).read_text()) if (results / name).exists() else {}  # noqa: E731
    return records, load("config.json"), load("environment.json"), load("planning.json")


def write_report(results_dir: Path | str, report_dir: Path | str) -> Path:
    """Write ``report.md`` and figures for ``results_dir``; returns the report path."""
    results, out = Path(results_dir), Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    records, config, env, planning = _read(results)
    name = config.get("name", results.name)
    lines = [f"# bench_lib report: {name}", "",
             f"Made from `{results}` alone (`python -m bench_lib.report {results}`).", ""]
    if env:
        pk = env.get("packages", {})
        lines += ["## Where it was measured", "",
                  f"- machine: {env.get('cpu')}, {env.get('cpu_count')} CPUs, torch threads {env.get('torch_threads')},"
                  f" GPU: {env.get('gpu') or 'none'}",
                  f"- {env.get('platform')}, Python {env.get('python')}",
                  "- " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
                  f"- git commit: {env.get('git_commit') or 'unknown'}", ""]
    if config:
        t = config.get("train", {})
        lines += ["## Settings", "",
                  f"- device `{config.get('device')}`, backend `{config.get('backend')}`, seeds {config.get('seeds')},"
                  f" {config.get('repeats')} timed repeats of {t.get('timed_steps')} steps after"
                  f" {t.get('warmup_steps')} warm-up steps",
                  f"- time to accuracy: Adam, constant lr {t.get('lr')}, validation every {t.get('eval_every')} steps,"
                  f" at most {t.get('max_steps')} steps or {t.get('train_time_limit_s')} s of training",
                  "- throughput counts real graphs per second of (batch building + training step); the median over"
                  " repeats and seeds is shown, with min-max in brackets", ""]
    if planning:
        lines += ["## Datasets", "", stats_table(planning), ""]
    budgets = {d["name"]: d for d in config.get("datasets", [])}
    ok = records[records.status == "ok"]
    for dataset in dict.fromkeys(records.dataset):
        d = budgets.get(dataset, {})
        lines += [f"## {dataset}", ""]
        if d:
            lines += [f"Node budget {d.get('node_budget')} slots per step (equal-padded-budget), "
                      f"{d.get('graphs_per_step')} real graphs per step (equal-real-graphs), packs of "
                      f"{d.get('pack_nodes') or 'the largest graph'} nodes; target `{d.get('target') or 'first'}`,"
                      f" validation MAE target {d.get('target_mae')}.", ""]
        sub = ok[ok.dataset == dataset]
        curves, summaries = {}, {}
        for model in dict.fromkeys(sub.model):
            for view in dict.fromkeys(sub[sub.model == model].fairness):
                g = sub[(sub.model == model) & (sub.fairness == view)]
                summary = summary_table(g)
                summaries[f"{model}, {view}"] = summary
                budget = int(g.node_budget.iloc[0])
                lines += [f"### `{model}`, {view}", "", VIEW_TEXT.get(view, view).format(budget=budget) + ".", "",
                          to_markdown(summary), ""]
                curves[f"{model}, {view}"] = curve_points(g)
        if summaries:
            plots.save_figure(plots.bar_figure(summaries, [("graphs_per_s", "real graphs/s"),
                                                           ("train_rss_mib", "training RSS above baseline (MiB)"),
                                                           ("padding_mib_per_step", "padding MiB/step")],
                                               f"{dataset}: throughput and memory"), out, f"{dataset}_throughput_memory")
            plots.save_figure(plots.bar_figure(summaries, [("node_efficiency", "node efficiency"),
                                                           ("edge_efficiency", "edge efficiency")],
                                               f"{dataset}: padding efficiency"), out, f"{dataset}_efficiency")
            lines += [f"![throughput and memory]({dataset}_throughput_memory.png)", "",
                      f"![efficiency]({dataset}_efficiency.png)", ""]
        if any(curves.values()):
            plots.save_figure(plots.curves_figure({k: v for k, v in curves.items() if v}, d.get("target_mae"),
                                                  f"{dataset}: validation MAE"), out, f"{dataset}_curves")
            lines += [f"![validation curves]({dataset}_curves.png)", ""]
        if dataset in planning:
            p = planning[dataset]
            view = next(iter(p["fill"]), None)
            if view:
                plots.save_figure(plots.sizes_figure(p, view, f"{dataset}: sizes and batch fill"), out,
                                  f"{dataset}_sizes_fill")
                lines += [f"![sizes and fill]({dataset}_sizes_fill.png)", ""]
            plots.save_figure(plots.capacity_figure(p["capacity_sweep"], f"{dataset}: efficiency vs capacity"),
                              out, f"{dataset}_capacity")
            lines += [f"![efficiency against capacity]({dataset}_capacity.png)", "",
                      "Node and edge efficiency against pack (or budget) capacity, from planning alone: pick the "
                      "smallest capacity where your packer's curve flattens.", ""]
    lines += _flags(records)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _flags(records: pd.DataFrame) -> list[str]:
    lines = ["## Cells to look at", ""]
    bad = records[records.status != "ok"]
    for _, r in bad.iterrows():
        reason = str(r.error).splitlines()[0] if isinstance(r.error, str) else ""
        lines.append(f"- **{r.status}**: {r.dataset} / `{r.strategy}` / {r.model} / {r.fairness} / seed {r.seed}: "
                     f"{reason}")
    ok = records[records.status == "ok"]
    if "reached_target" in ok and "target_mae" in ok:
        missed = ok[ok.target_mae.notna() & (ok.reached_target.astype(str) != "True")]
        for _, r in missed.iterrows():
            lines.append(f"- never reached MAE {r.target_mae}: {r.dataset} / `{r.strategy}` / {r.model} / "
                         f"{r.fairness} / seed {r.seed} (best {r.best_val_mae:.3g} in {int(r.train_steps)} steps)")
    if len(lines) == 2:
        lines.append("None: every cell ran and reached its target.")
    return lines + [""]
