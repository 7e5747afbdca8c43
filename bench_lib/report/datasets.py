"""A dataset's section of the report: its target, then per model and view the budget, the answer in
words, the tables, and the dataset's figures (forest plot, throughput and memory, padding
efficiency, validation curves, sizes and batch fill, efficiency against capacity)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench_lib.report import plots
from bench_lib.report.answer import answer_lines, capacity_sentence
from bench_lib.report.forest import forest_figure, forest_rows, forest_table
from bench_lib.report.names import display_name, file_stem
from bench_lib.report.results import Results
from bench_lib.report.plots import curve_points
from bench_lib.report.tables import (decide, details_table, fairness_table, main_table, metric_of,
                                     summarise)
from bench_lib.verdicts import off_budget_text

__all__ = ["dataset_section", "goal_text", "view_text"]


def view_text(view: str, g: pd.DataFrame) -> str:
    """What ``view`` held equal in the records ``g``: the budget the cells ran at, or none."""

    def values(col):
        vals = sorted({int(v) for v in pd.to_numeric(g[col], errors="coerce").dropna()})
        return "/".join(f"{v:,}" for v in vals) or "?"

    if view == "equal-padded-budget":
        return (
            f"The budget is {values('node_slots_budget')} node slots and "
            f"{values('edge_slots_budget')} edge slots per step (edge slots: node slots times the "
            f"split's edges per node unless set; one per seed where they differ; static shapes add "
            f"one node slot for the padding graph); unpadded batches meet it on their mean, and "
            f"the budget check below says what each strategy got; padding costs real graphs.")
    if view == "equal-real-graphs":
        got = pd.to_numeric(g.get("graphs_per_step_mean", pd.Series(dtype=float)),
                            errors="coerce").dropna()
        carried = (f"; the strategies carried {got.min():.1f} to {got.max():.1f} (first epoch)"
                   if len(got) else "")
        off = "".join(f" {off_budget_text(s, *c)}."
                      for s, c in g.attrs.get("off_budget", {}).items())
        return (f"The budget is {values('graphs_per_step_budget')} real graphs per step on "
                f"average{carried}; padding costs memory and compute.{off}")
    return ("Parameters set by hand (a strategy without `for_budget`, or fixed in the suite's "
            "[strategies]); not budget-matched.")


def _model_text(model: str, g: pd.DataFrame) -> str:
    """The model's parameters as the cells ran them, and what its settings mean for batching."""
    params = {}
    for text in dict.fromkeys(g.get("model_params", pd.Series(dtype=object)).dropna()):
        params.update(json.loads(text) if isinstance(text, str) else {})
    shown = ", ".join(f"{k} {v}" for k, v in params.items()) or "its defaults"
    notes = []
    if params.get("norm") == "batch":
        notes.append("BatchNorm over real nodes only (as OGB's GIN baselines): in training a "
                     "graph's output depends on the other real graphs of its batch, never on "
                     "padding")
    if params.get("virtual_node"):
        notes.append("a virtual node per graph (OGB's gin-virtual), which padding never reaches")
    return f"Model `{model}`: {shown}" + "".join(f"; {n}" for n in notes) + "."


def _params(g: pd.DataFrame) -> dict[str, str]:
    return {s: f"`{rows.strategy_params.iloc[0]}`" for s, rows in g.groupby("strategy", sort=False)}


def goal_text(rows: pd.DataFrame) -> str | None:
    """``validation ROC-AUC 0.75`` (the metric and target value of records of one dataset), None
    when no target value was set."""
    _, label, _ = metric_of(rows)
    goals = sorted(set(pd.to_numeric(rows.get("goal", pd.Series(dtype=float)),
                                     errors="coerce").dropna()))
    return f"validation {label} {', '.join(f'{g:g}' for g in goals)}" if goals else None


def _balance(rows: pd.DataFrame) -> str:
    """The class balance of a classification target, from the records."""
    values = [v for v in rows.get("class_balance", pd.Series(dtype=object)).dropna()]
    if not values:
        return ""
    value = values[0]
    if isinstance(value, str) and value.startswith("["):
        return f"; class shares of the training split {value}"
    positive = next(iter(rows.get("positive_class", pd.Series(dtype=object)).dropna()), None)
    who = f"positive class `{positive}`" if positive is not None else "positive labels"
    return f"; {who}: {float(value):.1%} of the training split's labels"


def _target_text(res: Results, dataset: str, d: dict) -> str:
    """The target the cells trained on (from the records): its column, task, metric, class balance,
    goal."""
    rows = res.records[res.records.dataset == dataset]
    targets = [str(t) for t in dict.fromkeys(rows.get("target", pd.Series(dtype=object)).dropna())]
    if not targets:
        return "no target: throughput and memory only (time to accuracy needs a target column)"
    task = next(iter(rows["task"].dropna()), "regression")
    name, label, higher = metric_of(rows)
    sources = [s for s in dict.fromkeys(rows.get("metric_source",
                                                 pd.Series(dtype=object)).dropna())]
    by = f", computed by the {sources[0]}" if sources and sources[0] != "bench_lib" else ""
    shown = f"every label column (the first `{targets[0]}`)" if task == "multilabel" else \
        f"target `{', '.join(targets)}`"
    what = (f"{shown} ({task}), scored by validation {label} (`{name}`, "
            f"{'higher' if higher else 'lower'} is better{by}){_balance(rows)}")
    goal = goal_text(rows)
    if goal is None:
        return what + f"; no target value was set, so time to accuracy did not run"
    return what + f"; goal: {goal}"


def dataset_section(res: Results, dataset: str, out: Path, answers: list) -> list[str]:
    """The dataset's tables and figures; appends ``(dataset, model, view, sentences)`` to
    ``answers``."""
    d = res.dataset_settings(dataset)
    lines = [f"## {display_name(dataset)}", ""]
    packs = (f"Packs of {d['pack_nodes']} nodes" if d.get("pack_nodes")
             else "Packs of the default size")
    lines += [f"{packs}; {_target_text(res, dataset, d)}.", ""]
    curves, summaries = {}, {}
    groups = [(model, view, g, summary, decide(g, summary, res.margin, res.interleaved))
              for model, view, g in res.groups(dataset) for summary in [summarise(g)]]
    lines += _forest(dataset, groups, res.margin, out)
    for model, view, g, summary, verdicts in groups:
        summaries[f"{model}, {view}"] = summary
        curves[f"{model}, {view}"] = curve_points(g)
        sentences = answer_lines(summary, view, goal_text(g), res.interleaved, verdicts)
        answers.append((display_name(dataset), model, view, sentences))
        lines += [f"### `{model}`, {view}", "", view_text(view, g), "", _model_text(model, g), ""]
        lines += [f"- {s}" for s in sentences] + [""]
        lines += [main_table(summary, metric_of(g), verdicts), "",
                  "Slots per step, as each strategy got them (first epoch):", "",
                  fairness_table(summary, _params(g)), "", "Details:", "", details_table(summary),
                  ""]
    lines += _figures(res, dataset, summaries, curves, d, out)
    return lines


def _forest(dataset: str, groups: list, margin: float, out: Path) -> list[str]:
    """The dataset's forest plot (each strategy against the leader, interval, verdict) and its
    table."""
    panels = {f"{model}, {view}": rows for model, view, _, summary, verdicts in groups
              for rows in [forest_rows(verdicts, list(summary))] if rows}
    if not panels:
        return []
    stem, shown = f"{file_stem(dataset)}_forest", display_name(dataset)
    plots.save_figure(forest_figure(panels, margin, f"{shown}: each strategy against the leader"),
                      out, stem)
    return [f"![{shown}: each strategy against the leader, with its interval and "
            f"verdict]({stem}.png)", "",
            f"Each strategy's real graphs/s and steps to target as a ratio to the leader's (log "
            f"scale); error bars: the interval its verdict rests on (paired turns, or seeds with "
            f"misses censored, at the table's family-wise 95%); the band is the equivalence margin "
            f"(±{margin:.0%}). The same numbers:",
            "", forest_table(panels), ""]


def _summary_figures(summaries: dict, shown: str, stem: str, out: Path) -> list[str]:
    """The figures of the measured strategies (throughput and memory, efficiency, throughput against
    memory) and the lines that show them."""
    plots.save_figure(plots.bar_figure(summaries, [("graphs_per_s", "real graphs/s (95% CI)"),
                                                   ("throughput_rss_mib",
                                                    "throughput RSS rise (MiB)"),
                                                   ("padding_mib_per_step",
                                                    "padding MiB/step")],
                                       f"{shown}: throughput and memory"), out,
                      f"{stem}_throughput_memory")
    plots.save_figure(plots.bar_figure(summaries, [("node_efficiency", "node efficiency"),
                                                   ("edge_efficiency", "edge efficiency")],
                                       f"{shown}: padding efficiency"), out,
                      f"{stem}_efficiency")
    plots.save_figure(plots.memory_figure(summaries, f"{shown}: throughput against memory"),
                      out,
                      f"{stem}_throughput_vs_memory")
    return [f"![throughput and memory]({stem}_throughput_memory.png)", "",
              "Error bars: 95% bootstrap interval of the median for graphs/s, min-max over "
              "seeds otherwise.", "",
              f"![efficiency]({stem}_efficiency.png)", "",
              "Share of node and edge slots that real nodes and edges filled, per strategy and "
              "view; error bars: min-max over seeds.", "",
              f"![throughput against memory]({stem}_throughput_vs_memory.png)", "",
              "Real graphs/s against the RSS rise while timed, one marker per strategy "
              "(colour) and view (shape); error bars: 95% bootstrap interval of the median in "
              "y, min-max over seeds in x.", ""]


def _figures(res: Results, dataset: str, summaries: dict, curves: dict, d: dict,
             out: Path) -> list[str]:
    lines, stem, shown = [], file_stem(dataset), display_name(dataset)
    if summaries:
        lines += _summary_figures(summaries, shown, stem, out)
    if any(curves.values()):
        rows = res.ran[res.ran.dataset == dataset]
        _, label, higher = metric_of(rows)
        goals = pd.to_numeric(rows["goal"], errors="coerce").dropna()
        plots.save_figure(plots.curves_figure({k: v for k, v in curves.items() if v},
                                              float(goals.iloc[0]) if len(goals) else None,
                                              f"{shown}: validation {label}",
                                              ylabel=f"validation {label}",
                                              log=not higher), out, f"{stem}_curves")
        lines += [f"![validation curves]({stem}_curves.png)", "",
                  f"Validation {label} ({'higher' if higher else 'lower'} is better) against "
                  "training time (left) and steps (right); every seed's curve, one thin line "
                  "each, so no error bars.",
                  ""]
    p = res.planning.get(dataset)
    if p:
        view = next(iter(p["fill"]), None)
        if view:
            plots.save_figure(plots.sizes_figure(p, view, f"{shown}: sizes and batch fill"), out,
                              f"{stem}_sizes_fill")
            lines += [f"![sizes and fill]({stem}_sizes_fill.png)", "",
                      f"Nodes per graph of the training split (left) and each strategy's node "
                      f"slots filled per batch in the {view} view (right), from planning alone: no "
                      f"error bars.", ""]
        plots.save_figure(plots.capacity_figure(p["capacity_sweep"],
                                                f"{shown}: efficiency vs capacity"),
                          out, f"{stem}_capacity")
        lines += [f"![efficiency against capacity]({stem}_capacity.png)", "",
                  "Node and edge efficiency against pack (or budget) capacity, from planning alone "
                  "(no error bars): pick the smallest capacity where your packer's curve "
                  "flattens.", ""]
        sentence = capacity_sentence(shown, p["capacity_sweep"])
        if sentence:
            lines += [sentence, ""]
    return lines
