"""Reports made from a results directory alone (records, config, planning).

``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR] [--readme README.md]``
writes ``report.md`` and its figures (PNG and SVG), ``report.html`` (the same
report as one self-contained page, opening with the answer), and with ``--readme``
rewrites the README's results block (between its ``results:begin`` and
``results:end`` markers) from the same records. Nothing here imports the
harness: a report can be regenerated on any machine from the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench_lib.report import plots
from bench_lib.report.html import answer_html, json_details, markdown_page
from bench_lib.report.names import display_name, file_stem
from bench_lib.report.answer import answer_lines, capacity_sentence
from bench_lib.report.costs import costs_section, projection_section
from bench_lib.report.forest import forest_figure, forest_rows, forest_table
from bench_lib.strategies.budget import VIEWS
from bench_lib.report.ranks import ranks_section
from bench_lib.verdicts import MARGIN, MIN_TIMED_S
from bench_lib.report.tables import (decide, compile_table, curve_points, details_table, fairness_table, in_view, latest,
                                     describe_metric, main_table, metric_of, stats_table, summarise, truthy)

__all__ = ["write_report", "readme_block", "update_readme", "Results", "file_stem", "display_name"]

BEGIN, END = "<!-- results:begin", "<!-- results:end -->"
INTERVALS = ("graphs/s is the median of every timed repeat of every seed, with a 95% bootstrap interval in brackets "
             "(seeds resampled, then repeats within each); steps and time to target are the smallest value by which at "
             "least half of the seeds had reached the target (the median of an odd number of seeds, the faster of "
             "two; a seed that missed it, or whose cell failed, counts as never reaching it), with the "
             "fastest-slowest range and how many seeds reached it (fewer than half: *not reached*); other columns "
             "are medians over seeds. *vs leader*: each strategy against the leader of the column, from the ratio "
             "of their rates over the paired turns (the cells took turns, window by window) or of their steps and "
             "times to target seed by seed (a missed seed censored, compared by sign): *faster*/*slower* when the "
             "interval of the ratio excludes 1, *equivalent* when it lies within the margin (two one-sided tests), "
             "else *undecided* with about how many more turns or seeds would decide it; every interval is at a "
             "Bonferroni share of 5% for each pair of strategies in the table, so that a table holds no false "
             "*faster* in 95% of runs (`bench_lib/verdicts.py`). A value is in bold only where it is decided "
             "ahead of every other strategy (graphs/s, steps and time to target) or its interval overlaps no other "
             "and both say something: exact for what follows from the plan, at least three seeds for a median over "
             "seeds.")


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else the folder's name alone."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().name


@dataclass
class Results:
    """What a results directory holds: the latest record per cell, and its side files."""

    path: Path
    records: pd.DataFrame
    config: dict
    environment: dict
    planning: dict

    @classmethod
    def read(cls, path: Path | str) -> "Results":
        path = Path(path)
        records_path = path / "records.csv"
        if not records_path.exists():
            raise FileNotFoundError(f"{records_path} not found: is {path} a bench_lib results directory?")
        load = lambda name: json.loads((path / name).read_text()) if (path / name).exists() else {}  # noqa: E731
        return cls(path, with_arms(latest(pd.read_csv(records_path))), load("config.json"),
                   load("environment.json"), load("planning.json"))

    @property
    def ran(self) -> pd.DataFrame:
        """Cells that ran or failed; skipped cells (the model does not apply) are left out."""
        return self.records[self.records.status != "skipped"]

    @property
    def interleaved(self) -> bool:
        return bool(self.config.get("interleave", True))

    @property
    def margin(self) -> float:
        """The equivalence margin m of the suite's verdicts (``margin`` in its ``[suite]`` table)."""
        return float(self.config.get("margin", MARGIN))

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.records.dataset))

    def dataset_settings(self, dataset: str) -> dict:
        return {d["name"]: d for d in self.config.get("datasets", [])}.get(dataset, {})

    def groups(self, dataset: str):
        """``(model, view, records)`` of every table of ``dataset``, failed cells included."""
        sub = self.ran[self.ran.dataset == dataset]
        for model in dict.fromkeys(sub.model):
            for view in VIEWS:
                g = in_view(sub[sub.model == model], view)
                if len(g):
                    yield model, view, g


def _view_text(view: str, g: pd.DataFrame) -> str:
    def values(col):
        vals = sorted({int(v) for v in pd.to_numeric(g[col], errors="coerce").dropna()})
        return "/".join(f"{v:,}" for v in vals) or "?"

    if view == "equal-padded-budget":
        return (f"The budget is {values('node_slots_budget')} node slots and {values('edge_slots_budget')} edge "
                "slots per step (edge slots: node slots times the split's edges per node unless set; one per seed "
                "where they differ; static shapes add one node slot for the padding graph); unpadded batches meet "
                "it on their mean, and the budget check below says what each strategy got; padding costs real graphs.")
    if view == "equal-real-graphs":
        got = pd.to_numeric(g.get("graphs_per_step_mean", pd.Series(dtype=float)), errors="coerce").dropna()
        carried = f"; the strategies carried {got.min():.1f} to {got.max():.1f} (first epoch)" if len(got) else ""
        return (f"The budget is {values('graphs_per_step_budget')} real graphs per step on average{carried}; "
                "padding costs memory and compute.")
    return "Parameters set by hand (a strategy without `for_budget`, or fixed in the suite's [strategies]); not " \
           "budget-matched."


def _model_text(model: str, g: pd.DataFrame) -> str:
    """The model's parameters as the cells ran them, and what its settings mean for batching."""
    params = {}
    for text in dict.fromkeys(g.get("model_params", pd.Series(dtype=object)).dropna()):
        params.update(json.loads(text) if isinstance(text, str) else {})
    shown = ", ".join(f"{k} {v}" for k, v in params.items()) or "its defaults"
    notes = []
    if params.get("norm") == "batch":
        notes.append("BatchNorm over real nodes only (as OGB's GIN baselines): in training a graph's output depends "
                     "on the other real graphs of its batch, never on padding")
    if params.get("virtual_node"):
        notes.append("a virtual node per graph (OGB's gin-virtual), which padding never reaches")
    return f"Model `{model}`: {shown}" + "".join(f"; {n}" for n in notes) + "."


def _clocks(records: pd.DataFrame) -> str:
    names = {"cpu": "the process's CPU clock (one thread per cell)", "wall": "the wall clock"}
    clocks = [c for c in dict.fromkeys(records.get("step_clock", pd.Series(dtype=str)).dropna())]
    return " and ".join(names.get(c, str(c)) for c in clocks) or "an unrecorded clock"


def _threads(records: pd.DataFrame, config: dict) -> str:
    """The thread count the cells ran with (as torch reported it), else the configured one."""
    used = sorted({int(v) for v in pd.to_numeric(records.get("torch_threads", pd.Series(dtype=float)),
                                                  errors="coerce").dropna()})
    if used:
        return "/".join(map(str, used)) + " torch thread(s)"
    return f"{config.get('threads', '?')} thread(s) (configured; no cell recorded its count)"


def _params(g: pd.DataFrame) -> dict[str, str]:
    return {s: f"`{rows.strategy_params.iloc[0]}`" for s, rows in g.groupby("strategy", sort=False)}


def _header(res: Results) -> list[str]:
    env, config = res.environment, res.config
    name = config.get("name", res.path.name)
    shown = _shown_path(res.path)
    lines = [f"# bench_lib report: {name}", "", f"Made from the results folder `{shown}` alone "
                                                f"(`python -m bench_lib.report {shown}` from where it lies).", ""]
    if env:
        pk = env.get("packages", {})
        lines += ["## Where it was measured", "",
                  f"- machine: {env.get('cpu')}, {env.get('cpu_count')} CPUs, GPU: {env.get('gpu') or 'none'}; "
                  f"{_threads(res.records, config)} per cell",
                  f"- {env.get('platform')}, Python {env.get('python')}",
                  "- " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
                  f"- git commit: {env.get('git_commit') or 'unknown'}"] + _machines(res.records, env) + [""]
    if config:
        t = config.get("train", {})
        lines += ["## Settings", "",
                  f"- device `{config.get('device')}`, backend `{config.get('backend')}`, seeds {config.get('seeds')}"
                  + _timed_seeds(config) + f", fairness views that ran: {', '.join(_views_ran(res.ran)) or 'none'}",
                  f"- {_seeds_vary(config)}",
                  f"- throughput: {t.get('warmup_steps')} warm-up steps, then {config.get('repeats')} repeats of "
                  f"{t.get('windows')} windows of at least {t.get('window_s')} s each; "
                  + ("the cells of one dataset and seed take turns window by window, so load on the machine falls "
                     "on every strategy alike" if res.interleaved else "each cell timed alone, one after another "
                     "(not interleaved): load on the machine may favour some strategies")
                  + f"; steps timed on {_clocks(res.records)}; graphs/s counts real graphs per second of batch "
                  "building + training step",
                  f"- time to accuracy: Adam, constant lr {t.get('lr')}, validation every {t.get('eval_every')} steps, "
                  f"at most {t.get('max_steps')} steps (safety limit {t.get('train_time_limit_s')} s); time to target "
                  "= steps to target x the step time measured in the timed turns (a seed that was not timed: its "
                  "strategy's median over the timed seeds)",
                  f"- {INTERVALS}"] + _decide_text(config) + _short_timing(res) + [""]
    if res.planning:
        lines += ["## Datasets", "", "Sizes of each dataset's training split (first seed), which the budgets are "
                  "derived from:", "", stats_table(res.planning), ""]
    return lines


def _timed_seeds(config: dict) -> str:
    timed, seeds = config.get("timed_seeds"), config.get("seeds") or []
    if timed is None or timed >= len(seeds):
        return ""
    return (f" (the first {timed} timed; the others train to the target only, their time to target at the step "
            "time their strategy measured in the timed seeds)")


def _timed_seeds_short(config: dict) -> str:
    timed, seeds = config.get("timed_seeds"), config.get("seeds") or []
    if timed is None or timed >= len(seeds):
        return f" x {config.get('repeats')} repeats"
    return f" (the first {timed} timed, {config.get('repeats')} repeats each; the others trained to the target only)"


def _seeds_vary(config: dict) -> str:
    """What a seed varied, per dataset (``data_seed``: fixed data, or each seed its own)."""
    fixed = [d["name"] for d in config.get("datasets", []) if d.get("data_seed", "seed") != "seed"]
    own = [d["name"] for d in config.get("datasets", []) if d.get("data_seed", "seed") == "seed"]
    parts = ["a seed varies the initial weights and the order of the batches"]
    if fixed:
        parts.append(f"the graphs and their split are the same in every seed for {', '.join(map(display_name, fixed))}")
    if own:
        parts.append(f"each seed has its own graphs (subset or generated stand-in) and split for "
                     f"{', '.join(map(display_name, own))}")
    return "; ".join(parts)


def _short_timing(res: "Results") -> list[str]:
    """A warning when timed cells got less than :data:`MIN_TIMED_S` of timed windows each."""
    ran = res.ran[res.ran.status == "ok"] if "status" in res.ran else res.ran
    if "windows_timed" not in ran or "window_s" not in ran:
        return []
    windows = pd.to_numeric(ran["windows_timed"], errors="coerce")
    seconds = windows * pd.to_numeric(ran["window_s"], errors="coerce")
    short = ran[(windows > 0) & (seconds < MIN_TIMED_S) & (pd.to_numeric(ran["window_s"], errors="coerce") > 0)]
    if short.empty:
        return []
    least = float(seconds[short.index].min())
    return [f"- **timed for less than {MIN_TIMED_S:g} s per cell** ({len(short)} cell(s), the least "
            f"{least:.2f} s of windows): below that, strategy ratios did not hold on a busy machine "
            "(benchmarks/noise.py); read the graphs/s verdicts as provisional, or rerun with more windows"]


def _decide_text(config: dict) -> list[str]:
    if not config.get("decide"):
        return []
    return [f"- measured until decided: after the fixed turns, a group added as many turns again while a verdict "
            f"was undecided, up to {config.get('decide_looks')} looks or {config.get('decide_budget_s')} s of added "
            f"turns; each look at a Bonferroni share 5%/{config.get('decide_looks')} (alpha spent equally over a "
            "fixed set of looks), the share the verdicts here use"]


def _machines(records: pd.DataFrame, env: dict) -> list[str]:
    """The machines the cells ran on when they are not the one ``environment.json`` names (cluster tasks)."""
    if "environment" not in records:
        return []
    seen: dict[tuple, int] = {}
    for value in records["environment"]:
        e = _json_obj(value)
        if not e:
            continue
        key = (e.get("host"), e.get("cpu"), e.get("cpu_count"), json.dumps(e.get("gpu"), sort_keys=True))
        seen[key] = seen.get(key, 0) + 1
    main = (env.get("host"), env.get("cpu"), env.get("cpu_count"), json.dumps(env.get("gpu"), sort_keys=True))
    if not seen or set(seen) == {main}:
        return []
    return ["- the cells ran on " + "; ".join(
        f"{host or 'a host'} ({cpu}, {n} CPUs, GPU: {json.loads(gpu) or 'none'}): {count} cell(s)"
        for (host, cpu, n, gpu), count in seen.items()) + " (each record's own environment)"]


def _json_obj(value) -> dict:
    try:
        out = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _views_ran(records: pd.DataFrame) -> list[str]:
    return [v for v in VIEWS if len(in_view(records, v))]


def goal_text(rows: pd.DataFrame) -> str | None:
    """``validation ROC-AUC 0.75`` (the metric and target value of records of one dataset), None when no
    target value was set."""
    _, label, _ = metric_of(rows)
    goals = sorted(set(pd.to_numeric(rows.get("goal", pd.Series(dtype=float)), errors="coerce").dropna()))
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
    """The target the cells trained on (from the records): its column, task, metric, class balance, goal."""
    rows = res.records[res.records.dataset == dataset]
    targets = [str(t) for t in dict.fromkeys(rows.get("target", pd.Series(dtype=object)).dropna())]
    if not targets:
        return "no target: throughput and memory only (time to accuracy needs a target column)"
    task = next(iter(rows["task"].dropna()), "regression")
    name, label, higher = metric_of(rows)
    sources = [s for s in dict.fromkeys(rows.get("metric_source", pd.Series(dtype=object)).dropna())]
    by = f", computed by the {sources[0]}" if sources and sources[0] != "bench_lib" else ""
    shown = f"every label column (the first `{targets[0]}`)" if task == "multilabel" else \
        f"target `{', '.join(targets)}`"
    what = (f"{shown} ({task}), scored by validation {label} (`{name}`, "
            f"{'higher' if higher else 'lower'} is better{by}){_balance(rows)}")
    goal = goal_text(rows)
    if goal is None:
        return what + f"; no target value was set, so time to accuracy did not run"
    return what + f"; goal: {goal}"


def _dataset_section(res: Results, dataset: str, out: Path, answers: list) -> list[str]:
    """The dataset's tables and figures; appends ``(dataset, model, view, sentences)`` to ``answers``."""
    d = res.dataset_settings(dataset)
    lines = [f"## {display_name(dataset)}", ""]
    packs = f"Packs of {d['pack_nodes']} nodes" if d.get("pack_nodes") else "Packs of the default size"
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
        lines += [f"### `{model}`, {view}", "", _view_text(view, g), "", _model_text(model, g), ""]
        lines += [f"- {s}" for s in sentences] + [""]
        lines += [main_table(summary, metric_of(g), verdicts), "",
                  "Slots per step, as each strategy got them (first epoch):", "",
                  fairness_table(summary, _params(g)), "", "Details:", "", details_table(summary), ""]
    lines += _figures(res, dataset, summaries, curves, d, out)
    return lines


def _forest(dataset: str, groups: list, margin: float, out: Path) -> list[str]:
    """The dataset's forest plot (each strategy against the leader, interval, verdict) and its table."""
    panels = {f"{model}, {view}": rows for model, view, _, summary, verdicts in groups
              for rows in [forest_rows(verdicts, list(summary))] if rows}
    if not panels:
        return []
    stem, shown = f"{file_stem(dataset)}_forest", display_name(dataset)
    plots.save_figure(forest_figure(panels, margin, f"{shown}: each strategy against the leader"), out, stem)
    return [f"![{shown}: each strategy against the leader, with its interval and verdict]({stem}.png)", "",
            f"Each strategy's real graphs/s and steps to target as a ratio to the leader's (log scale); error bars: "
            f"the interval its verdict rests on (paired turns, or seeds with misses censored, at the table's "
            f"family-wise 95%); the band is the equivalence margin (±{margin:.0%}). The same numbers:",
            "", forest_table(panels), ""]


def _figures(res: Results, dataset: str, summaries: dict, curves: dict, d: dict, out: Path) -> list[str]:
    lines, stem, shown = [], file_stem(dataset), display_name(dataset)
    if summaries:
        plots.save_figure(plots.bar_figure(summaries, [("graphs_per_s", "real graphs/s (95% CI)"),
                                                       ("throughput_rss_mib", "throughput RSS rise (MiB)"),
                                                       ("padding_mib_per_step", "padding MiB/step")],
                                           f"{shown}: throughput and memory"), out, f"{stem}_throughput_memory")
        plots.save_figure(plots.bar_figure(summaries, [("node_efficiency", "node efficiency"),
                                                       ("edge_efficiency", "edge efficiency")],
                                           f"{shown}: padding efficiency"), out, f"{stem}_efficiency")
        plots.save_figure(plots.memory_figure(summaries, f"{shown}: throughput against memory"), out,
                          f"{stem}_throughput_vs_memory")
        lines += [f"![throughput and memory]({stem}_throughput_memory.png)", "",
                  "Error bars: 95% bootstrap interval of the median for graphs/s, min-max over seeds otherwise.", "",
                  f"![efficiency]({stem}_efficiency.png)", "",
                  "Share of node and edge slots that real nodes and edges filled, per strategy and view; error "
                  "bars: min-max over seeds.", "",
                  f"![throughput against memory]({stem}_throughput_vs_memory.png)", "",
                  "Real graphs/s against the RSS rise while timed, one marker per strategy (colour) and view "
                  "(shape); error bars: 95% bootstrap interval of the median in y, min-max over seeds in x.", ""]
    if any(curves.values()):
        rows = res.ran[res.ran.dataset == dataset]
        _, label, higher = metric_of(rows)
        goals = pd.to_numeric(rows["goal"], errors="coerce").dropna()
        plots.save_figure(plots.curves_figure({k: v for k, v in curves.items() if v},
                                              float(goals.iloc[0]) if len(goals) else None,
                                              f"{shown}: validation {label}", ylabel=f"validation {label}",
                                              log=not higher), out, f"{stem}_curves")
        lines += [f"![validation curves]({stem}_curves.png)", "",
                  f"Validation {label} ({'higher' if higher else 'lower'} is better) against training time (left) "
                  "and steps (right); every seed's curve, one thin line each, so no error bars.", ""]
    p = res.planning.get(dataset)
    if p:
        view = next(iter(p["fill"]), None)
        if view:
            plots.save_figure(plots.sizes_figure(p, view, f"{shown}: sizes and batch fill"), out,
                              f"{stem}_sizes_fill")
            lines += [f"![sizes and fill]({stem}_sizes_fill.png)", "",
                      f"Nodes per graph of the training split (left) and each strategy's node slots filled per "
                      f"batch in the {view} view (right), from planning alone: no error bars.", ""]
        plots.save_figure(plots.capacity_figure(p["capacity_sweep"], f"{shown}: efficiency vs capacity"),
                          out, f"{stem}_capacity")
        lines += [f"![efficiency against capacity]({stem}_capacity.png)", "",
                  "Node and edge efficiency against pack (or budget) capacity, from planning alone (no error "
                  "bars): pick the smallest capacity where your packer's curve flattens.", ""]
        sentence = capacity_sentence(shown, p["capacity_sweep"])
        if sentence:
            lines += [sentence, ""]
    return lines


def _views(value) -> str:
    return "+".join(json.loads(value)) if isinstance(value, str) and value.startswith("[") else str(value)


def _flags(records: pd.DataFrame) -> list[str]:
    lines = ["## Cells to look at", ""]
    for _, r in records[records.status != "ok"].iterrows():
        reason = str(r.error).splitlines()[0] if isinstance(r.error, str) else ""
        lines.append(f"- **{r.status}**: {display_name(r.dataset)} / `{r.strategy}` / {r.model} / {_views(r.views)} / "
                     f"seed {r.seed}: {reason}")
    ok = records[records.status == "ok"]
    if "reached_target" in ok and "goal" in ok:
        trained = pd.to_numeric(ok.get("train_steps", pd.Series(np.nan, ok.index)), errors="coerce").notna()
        missed = ok[ok.goal.notna() & trained & ~ok.reached_target.map(truthy)]  # loader-only cells train nothing
        for _, r in missed.iterrows():
            label = describe_metric(r.metric)[1]
            lines.append(f"- never reached {label} {r.goal:g}: {display_name(r.dataset)} / `{r.strategy}` / {r.model} "
                         f"/ {_views(r.views)} / seed {r.seed} (best {r.best_val_score:.3g} in {int(r.train_steps)} "
                         f"steps; stopped by {r.train_stop})")
    if "peak_reset_ok" in ok:
        for _, r in ok[~ok.peak_reset_ok.map(truthy)].iterrows():
            lines.append(f"- memory peak not reset after setup: {display_name(r.dataset)} / `{r.strategy}` / {r.model} / "
                         f"{_views(r.views)} / seed {r.seed}: its peak RSS columns include setup and imports")
    if "turn_group" in ok:
        for _, g in ok[ok.turn_group.notna()].groupby(["dataset", "model", "seed"]):
            main = g.turn_group.value_counts().index[0]
            for _, r in g[g.turn_group != main].iterrows():
                lines.append(f"- timed apart from its group (re-run on resume or with --rerun-failed): "
                             f"{display_name(r.dataset)} / `{r.strategy}` / {r.model} / {_views(r.views)} / seed "
                             f"{r.seed}: its graphs/s is compared unpaired (its windows did not take turns with "
                             "the others')")
    if len(lines) == 2:
        lines.append("None: every cell ran and reached its target.")
    return lines + [""]


def with_arms(df: pd.DataFrame) -> pd.DataFrame:
    """Rows keyed by how the step ran as well as by strategy: ``strategy`` becomes
    ``pack-lpfhp`` (eager, built inline), ``pack-lpfhp+compile``,
    ``dynamic+prefetch2``...; the registry name stays in ``strategy_name``.
    Records from before the execution axis are eager and inline."""
    df = df.copy()
    df["strategy_name"] = df["strategy"]
    execution = df["execution"].fillna("eager") if "execution" in df else pd.Series("eager", index=df.index)
    prefetch = pd.to_numeric(df["prefetch"], errors="coerce").fillna(0).astype(int) if "prefetch" in df \
        else pd.Series(0, index=df.index)
    df["execution"] = execution
    ranks = pd.to_numeric(df["ranks"], errors="coerce").fillna(1).astype(int) if "ranks" in df \
        else pd.Series(1, index=df.index)
    # The same tags as CellSpec.label's (bench_lib.harness.cell.execution_tags), written here: no harness import.
    df["strategy"] = [s + ("" if x == "eager" else f"+{x}") + (f"+prefetch{p}" if p else "")
                      + (f"+{r}ranks" if r > 1 else "")
                      for s, x, p, r in zip(df["strategy_name"], execution, prefetch, ranks)]
    return df


def _compile_section(res: Results, out: Path) -> list[str]:
    """Compile costs and what they buy, per dataset, strategy and execution (when any cell was compiled)."""
    ran = res.ran
    if "execution" not in ran or not (ran.execution != "eager").any():
        return []
    caches = sorted(set(ran.loc[ran.execution != "eager", "compile_cache"].dropna())) if "compile_cache" in ran \
        else []
    cache = {("cold",): "a cold inductor cache per cell (a first run)",
             ("shared",): "the process's shared inductor cache (possibly warm: less than a first run pays)"}.get(
        tuple(caches), f"inductor caches: {', '.join(caches) or 'not recorded'}")
    lines = ["## Compiled steps", "",
             "What `torch.compile` costs and buys, per strategy and execution (median over seeds). Compile s: "
             f"wall seconds of the steps that compiled, less a steady step each, from {cache}. Compiles counts "
             "dynamo frame compilations; recompiles those after the first step (a new "
             "shape or a failed guard); shapes: distinct batch shapes of an epoch. Time to target with compile adds "
             "the compile seconds to the steady-rate time to target.", ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            summary = summarise(g)
            lines += [f"### {display_name(dataset)}, `{model}`, {view}", "", compile_table(summary), ""]
            # One colour per strategy, one line style per execution.
            curves = {x: curve_points(rows, with_compile=True, key="strategy_name")
                      for x, rows in g.groupby("execution", sort=False)}
            curves = {x: c for x, c in curves.items() if c}
            if curves:
                stem = f"{file_stem(dataset)}_{model}_{view}_compile_curves"
                _, label, higher = metric_of(g)
                goals = pd.to_numeric(g["goal"], errors="coerce").dropna()
                plots.save_figure(plots.curves_figure(curves, float(goals.iloc[0]) if len(goals) else None,
                                                      f"{display_name(dataset)}: validation {label}, compile included",
                                                      time_label="compile s + steps x steady step s",
                                                      ylabel=f"validation {label}", log=not higher),
                                  out, stem)
                lines += [f"![validation {label} against time including compile]({stem}.png)", "",
                          f"Validation {label} against compile seconds plus steps at the measured steady step time "
                          "(left; eager arms start at 0) and against steps (right); one colour per strategy, one "
                          "line style per execution, one line per seed, so no error bars.", ""]
    return lines


def write_report(results_dir: Path | str, report_dir: Path | str) -> Path:
    """Write ``report.md``, its figures and ``report.html`` for ``results_dir``; returns the Markdown's path."""
    res = Results.read(results_dir)
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines, answers = _header(res), []
    for dataset in res.datasets():
        lines += _dataset_section(res, dataset, out, answers)
    lines += _compile_section(res, out)
    lines += costs_section(res, out)
    lines += projection_section(res)
    lines += ranks_section(res, out)
    lines += _flags(res.records)
    text = "\n".join(lines) + "\n"
    path = out / "report.md"
    path.write_text(text)
    tail = json_details("Configuration (config.json)", res.config) + "\n" + \
        json_details("Environment (environment.json)", res.environment)
    (out / "report.html").write_text(markdown_page(text, out, answer_html(answers), tail))
    return path


def readme_block(results_dir: Path | str, report_link: str, command: str, results_link: str | None = None) -> str:
    """The README's results block: per dataset, the equal-padded-budget table
    and the answer in words for every view, from ``results_dir`` alone.

    ``report_link`` and ``results_link`` (default: ``results_dir`` as given)
    are the paths the block links to, relative to the README."""
    res = Results.read(results_dir)
    env, config = res.environment, res.config
    link = results_link or Path(results_dir).as_posix()
    lines = [f"{BEGIN}: made by `{command}` from the records; do not edit by hand -->",
             f"From [`{link}/records.csv`]({link}/records.csv), measured on {env.get('cpu', '?')} "
             f"({env.get('cpu_count', '?')} CPUs, GPU: {env.get('gpu') or 'none'}), {_threads(res.records, config)} "
             f"per cell, backend `{config.get('backend', '?')}`, seeds {config.get('seeds')}"
             f"{_timed_seeds_short(config)}, "
             f"at commit {str(env.get('git_commit'))[:7]}. {INTERVALS}", ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            summary = summarise(g)
            verdicts = decide(g, summary, res.margin, res.interleaved)
            lines += [f"**{display_name(dataset)}, {model}, {view}.** {_view_text(view, g)}", ""]
            lines += [f"- {s}" for s in answer_lines(summary, view, goal_text(g), res.interleaved, verdicts)] + [""]
            if view == "equal-padded-budget":
                lines += [main_table(summary, metric_of(g), verdicts), ""]
        sentence = capacity_sentence(display_name(dataset),
                                     res.planning.get(dataset, {}).get("capacity_sweep", []))
        if sentence:
            lines += [sentence, "", f"![{display_name(dataset)}: efficiency against capacity]"
                                    f"({report_link}/{file_stem(dataset)}_capacity.png)", ""]
    lines.append(END)
    return "\n".join(lines)


def update_readme(readme: Path | str, block: str) -> None:
    """Replace the README's results block (markers included) with ``block``."""
    path = Path(readme)
    text = path.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no results block ({BEGIN} ... {END})")
    path.write_text(pattern.sub(lambda _: block, text, count=1))
