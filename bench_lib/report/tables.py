"""Per-strategy summaries of a results directory's records, and their tables.

A summary turns the records of one dataset, model and fairness view (one
per strategy and seed) into one :class:`~bench_lib.report.stats.Estimate`
per strategy and metric:

- ``graphs_per_s``: the median of every repeat of every seed, with its 95%
  bootstrap interval (seeds resampled, then repeats within each);
- ``steps_to_target`` and ``time_to_target_s``: the censored median over
  seeds (a seed that missed the target counts; fewer than half reaching it
  is "not reached"), with the fastest-slowest range and k/n;
- every other metric: the median over seeds, with the min-max range.

- ``cells_ok``: how many of the strategy's cells (seeds) ran to the end; a
  failed cell is counted, and as a miss in the time to target.

A best value is bolded only where its interval does not overlap the
runner-up's, and only where both intervals say something: values that
follow from the plan alone are exact, graphs/s needs repeats from at least
two seeds (processes), and a median over seeds at least three seeds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from bench_lib.report.stats import (NONE, Estimate, bootstrap_median, censored_median, overlaps,
                                    spread)
from bench_lib.verdicts import ALPHA, MARGIN, Verdict, compare_seeds, compare_turns, pair_count

__all__ = ["decide", "DECIDED", "compile_table", "COMPILE", "latest", "with_scores", "metric_of",
           "describe_metric", "in_view", "json_field", "truthy", "summarise", "best", "main_table",
           "fairness_table", "details_table", "versus", "MAIN", "FAIRNESS", "DETAILS",
           "fmt_estimate"]

#: (metric, label, format, better: "high"/"low"/None) of the main table.
MAIN = [
    ("cells_ok", "cells ok", "", None),
    ("graphs_per_s", "graphs/s [95% CI]", "{:,.0f}", "high"),
    ("graphs_per_step_mean", "graphs/step", "{:.1f}", None),
    ("node_efficiency", "node eff", "{:.3f}", "high"),
    ("edge_efficiency", "edge eff", "{:.3f}", "high"),
    ("padding_mib_per_step", "padding MiB/step", "{:.3f}", "low"),
    ("throughput_rss_mib", "throughput RSS rise MiB", "{:,.0f}", "low"),
    ("train_rss_mib", "training RSS rise MiB", "{:,.0f}", "low"),
    ("steps_to_target", "steps to target", "{:,.0f}", "low"),
    ("time_to_target_s", "time to target s", "{:.1f}", "low"),
    # named and directed per dataset (main_table)
    ("best_val_score", "best val score", "{:.3f}", None),
]
#: The slots each strategy got per step: what makes a view fair, shown rather than asserted.
FAIRNESS = [
    ("node_slots_per_step", "node slots/step", "{:,.1f}", None),
    ("node_slots_per_step_max", "max", "{:,.0f}", None),
    ("edge_slots_per_step", "edge slots/step", "{:,.1f}", None),
    ("edge_slots_per_step_max", "max", "{:,.0f}", None),
    ("graph_slots_per_step", "graph slots/step", "{:,.1f}", None),
]
#: Everything else a record holds (medians over seeds).
DETAILS = [
    ("window_graphs_per_s", "windows' graphs/s median [p10-p90]", "{:,.0f}", None),
    ("graphs_per_s_min", "slowest repeat graphs/s", "{:,.0f}", None),
    ("graphs_per_s_max", "fastest repeat graphs/s", "{:,.0f}", None),
    ("graphs_per_wall_s", "graphs/wall-s", "{:,.0f}", None),
    ("real_nodes_per_s", "real nodes/s", "{:,.0f}", None),
    ("padded_nodes_per_s", "node slots/s", "{:,.0f}", None),
    ("step_s", "step ms", "ms", None),
    ("step_s_p10", "p10 ms", "ms", None),
    ("step_s_p50", "p50 ms", "ms", None),
    ("step_s_p90", "p90 ms", "ms", None),
    ("batch_build_share", "build share", "{:.1%}", None),
    ("batch_build_s", "build ms", "ms", None),
    ("batch_wait_s", "wait for batch ms", "ms", None),
    ("build_hidden_share", "build hidden", "{:.1%}", None),
    ("compiled_graphs", "compiled graphs", "{:.0f}", None),
    ("compile_steps_timed", "timed steps that compiled", "{:.0f}", None),
    ("page_faults_per_step", "page faults/step", "{:,.0f}", None),
    ("prepare_s", "plan s", "{:.3f}", None),
    ("batch_mib_per_step", "batch MiB/step", "{:.3f}", None),
    ("baseline_rss_mib", "baseline RSS MiB", "{:,.0f}", None),
    ("throughput_peak_rss_mib", "throughput peak RSS MiB", "{:,.0f}", None),
    ("train_peak_rss_mib", "training peak RSS MiB", "{:,.0f}", None),
    ("validation_peak_rss_mib", "validation peak RSS MiB", "{:,.0f}", None),
    ("validation_rss_mib", "validation RSS rise MiB", "{:,.0f}", None),
    ("cuda_throughput_peak_mib", "CUDA throughput peak MiB", "{:,.0f}", None),
    ("cuda_train_peak_mib", "CUDA training peak MiB", "{:,.0f}", None),
    ("torch_threads", "threads", "{:.0f}", None),
    ("windows_timed", "windows (all seeds)", "{:.0f}", None),
    ("decided_turns", "turns that decided it", "{:,.0f}", None),
    ("contended_windows", "contended (all seeds)", "{:.0f}", None),
    ("cpu_share_median", "CPU share", "{:.2f}", None),
    ("others_cpus_mean", "other CPUs busy", "{:.2f}", None),
    ("time_to_target_wall_s", "time to target wall s", "{:.1f}", None),
    ("train_steps", "train steps", "{:,.0f}", None),
    ("train_wall_s", "train wall s", "{:.1f}", None),
    ("final_val_score", "final val score", "{:.3f}", None),
]
#: What compiling a step cost and bought (the compile section's table).
COMPILE = [
    ("cells_ok", "cells ok", "", None),
    ("compile_s", "compile s", "{:.1f}", "low"),
    ("compile_warm_s", "warm compile s", "{:.1f}", "low"),
    ("compiles", "compiles", "{:.0f}", None),
    ("recompiles", "recompiles", "{:.0f}", None),
    ("shape_changes", "shape changes", "{:.0f}", None),
    ("frames_not_compiled", "frames run eagerly", "{:.0f}", None),
    ("graph_breaks", "graph breaks", "{:.0f}", None),
    ("distinct_shapes", "shapes", "{:,.0f}", None),
    ("graphs_per_s", "steady graphs/s [95% CI]", "{:,.0f}", "high"),
    ("step_s", "step ms", "ms", "low"),
    ("steps_to_target", "steps to target", "{:,.0f}", "low"),
    ("time_to_target_s", "time to target s", "{:.1f}", "low"),
    ("time_to_target_with_compile_s", "time to target with compile s", "{:.1f}", "low"),
]
_CENSORED = ("steps_to_target", "time_to_target_s", "time_to_target_with_compile_s")
#: Counts that add up over seeds (shown as totals, not medians).
_TOTALS = ("windows_timed", "contended_windows")
#: Metrics that follow from the plan alone: one value is exact, so it may be bolded without an
#: interval.
PLANNED = ("node_efficiency", "edge_efficiency", "graphs_per_step_mean")
#: Seeds both sides need before a measured value may be bolded, by kind of estimate.
MIN_SEEDS = {"ci95": 2, "range": 3, "censored": 3, "total": 3}


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """The last record of each cell (a re-run replaces an earlier failure), with the columns of the
    current schema that records of an earlier one lack (:func:`with_scores`)."""
    return with_scores(df.drop_duplicates("cell_id", keep="last"))


def with_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Records before tasks (schema 4) were regression cells scored by MAE: ``task``, ``metric``,
    ``goal`` (the target value, whatever the metric) and the ``*_val_score`` columns filled in."""
    df = df.copy()
    if "task" not in df:
        df["task"] = "regression"
    if "metric" not in df:
        df["metric"] = "mae"
    df["task"], df["metric"] = df["task"].fillna("regression"), df["metric"].fillna("mae")
    mae = (pd.to_numeric(df["target_mae"], errors="coerce") if "target_mae" in df
           else pd.Series(np.nan, df.index))
    value = (pd.to_numeric(df["target_value"], errors="coerce") if "target_value" in df
             else pd.Series(np.nan, df.index))
    df["goal"] = value.fillna(mae)
    for which in ("best", "final"):
        old = f"{which}_val_mae"
        new = f"{which}_val_score"
        if old in df:
            df[new] = pd.to_numeric(
                df[new], errors="coerce").fillna(pd.to_numeric(df[old], errors="coerce")) \
                if new in df else pd.to_numeric(df[old], errors="coerce")
    return df


def describe_metric(name) -> tuple[str, str, bool]:
    """``(metric, how a reader names it, higher is better)`` of a record's ``metric`` (a name this
    version does not know is shown as it is, lower is better)."""
    from bench_lib.tasks import METRICS

    name = "mae" if name != name or name is None else str(name)
    m = METRICS.get(name)
    return (name, m.label, m.higher_is_better) if m else (name, name, False)


def metric_of(rows: pd.DataFrame) -> tuple[str, str, bool]:
    """:func:`describe_metric` of records of one dataset (their first metric)."""
    return describe_metric(rows["metric"].dropna().iloc[0] if "metric" in rows
                           and rows["metric"].notna().any()
                           else "mae")


def truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def json_field(value, default):
    """A record's JSON column parsed, ``default`` when empty."""
    return json.loads(value) if isinstance(value, str) and value else default


def in_view(df: pd.DataFrame, view: str) -> pd.DataFrame:
    """The records whose cell serves ``view``."""
    return df[[view in json_field(v, []) for v in df["views"]]]


def _numbers(g: pd.DataFrame, col: str) -> list[float]:
    if col not in g:
        return []
    return [float(x) for x in pd.to_numeric(g[col], errors="coerce")]


def throughput(rows: pd.DataFrame) -> Estimate:
    """graphs/s of records ``rows`` (one per seed): the median of their timed repeats and its
    bootstrap interval (each record's ``graphs_per_s`` when none kept its repeats)."""
    per_seed = [json_field(v, []) for v in rows.get("repeat_graphs_per_s", [])]
    if not any(per_seed):
        per_seed = [[v] for v in _numbers(rows, "graphs_per_s")]
    return bootstrap_median(per_seed)


def fill_untimed(g: pd.DataFrame) -> pd.DataFrame:
    """Records of train-only seeds (``repeats`` 0: steps to the target, no throughput) get their
    time to target as steps x the median step time of their strategy's timed records in ``g``."""
    if "repeats" not in g or "time_to_target_s" not in g:
        return g
    g = g.copy()
    untimed = pd.to_numeric(g["repeats"], errors="coerce") == 0
    if not untimed.any():
        return g
    step = (pd.to_numeric(g["step_s"], errors="coerce") if "step_s" in g
            else pd.Series(np.nan, g.index))
    ok = (g["status"] == "ok") if "status" in g else pd.Series(True, index=g.index)
    medians = step[~untimed & ok].groupby(g.loc[~untimed & ok, "strategy"]).median()
    steps = pd.to_numeric(g["steps_to_target"], errors="coerce")
    time = pd.to_numeric(g["time_to_target_s"], errors="coerce")
    fill = untimed & time.isna() & steps.notna()
    if fill.any():  # (an empty assignment of another dtype is an error on pandas 3)
        g.loc[fill, "time_to_target_s"] = (steps[fill] * g.loc[fill, "strategy"].map(medians)
                                           ).astype(float)
    return g


def summarise(g: pd.DataFrame) -> dict[str, dict[str, Estimate]]:
    """strategy -> metric -> :class:`Estimate`, over the records ``g`` (one per seed)."""
    g = fill_untimed(g)
    out = {}
    for strategy, rows in g.groupby("strategy", sort=False):
        est: dict[str, Estimate] = {}
        ok = int((rows.status == "ok").sum()) if "status" in rows else len(rows)
        est["cells_ok"] = Estimate(float(ok), float(ok), float(ok), len(rows), ok, "count",
                                   len(rows))
        est["graphs_per_s"] = throughput(rows)
        windows = [x for v in rows.get("window_graphs_per_s", []) for x in json_field(v, [])]
        est["window_graphs_per_s"] = (Estimate(*(float(q)
                                                 for q in np.percentile(windows, [50, 10, 90])),
                                               len(windows),
                                               len(windows), "quantiles",
                                               len(rows)) if windows else NONE)
        # a loader-only cell (model none) trains nothing: it neither reaches nor misses a target
        trains = ([str(m) != "none" for m in rows["model"]] if "model" in rows
                  else [True] * len(rows))
        has_target = [t == t and tr
                      for t, tr in zip(_numbers(rows, "goal" if "goal" in rows else "target_mae"),
                                                     trains)]
        reached = [truthy(r) for r, t in zip(rows.get("reached_target", [False] * len(rows)),
                                             has_target) if t]
        for col in _CENSORED:
            vals = [v for v, t in zip(_numbers(rows, col), has_target) if t]
            est[col] = censored_median(vals, reached) if vals else NONE
        for col in _TOTALS:
            vals = [v for v in _numbers(rows, col) if v == v]
            est[col] = Estimate(float(sum(vals)), float(sum(vals)), float(sum(vals)), len(vals),
                                len(vals), "total",
                                len(vals)) if vals else NONE
        for col, *_ in MAIN + FAIRNESS + DETAILS + COMPILE:
            est.setdefault(col, spread(_numbers(rows, col)))
        out[strategy] = est
    return out


#: The columns that get a verdict against their leader (:func:`decide`), and how a ratio of them is
#: named.
DECIDED = {"graphs_per_s": "", "steps_to_target": "steps", "time_to_target_s": "time"}


def decide(g: pd.DataFrame, summary: dict[str, dict[str, Estimate]], margin: float = MARGIN,
           paired: bool = True) -> dict[str, tuple[str | None, dict[str, Verdict]]]:
    """col -> ``(leader, {strategy: verdict against the leader})`` for the columns of
    :data:`DECIDED`, over the records ``g`` of one table (one per strategy and seed) summarised in
    ``summary``.

    The leader is the best estimate of the column; graphs/s is compared turn by turn within each
    seed (``paired``: the suite interleaved its cells; a cell re-run apart from its group, another
    ``turn_group``, is compared unpaired), the times to target seed by seed, a missed seed censored.
    Every verdict is at the family-wise level of the table's pairs
    (:func:`~bench_lib.verdicts.pair_count`), and of the looks a ``decide`` suite took
    (``decide_looks``).
    """
    out: dict[str, tuple[str | None, dict[str, Verdict]]] = {}
    g = fill_untimed(g)
    alpha = _alpha(g)
    by = _by_strategy(g)
    for col in DECIDED:
        ranked = sorted(((e[col].value, s) for s, e in summary.items() if e[col].ok and s in by),
                        reverse=col == "graphs_per_s")
        if not ranked:
            out[col] = (None, {})
            continue
        lead = ranked[0][1]
        pairs = pair_count(len(ranked))
        verdicts = {}
        for s in by:
            if s == lead:
                continue
            v = _versus(by[s], by[lead], col, pairs, margin, paired, alpha)
            if v is not None:
                verdicts[s] = v
        out[col] = (lead, verdicts)
    return out


def _alpha(g: pd.DataFrame) -> float:
    """The family-wise level of ``g``'s verdicts: 5% shared over the looks a ``decide`` suite
    took."""
    looks = (pd.to_numeric(g["decide_looks"], errors="coerce").max() if "decide_looks" in g
             else float("nan"))
    return ALPHA / (int(looks) if looks == looks and looks >= 1 else 1)


def versus(g: pd.DataFrame, strategy: str, lead: str, col: str, margin: float = MARGIN,
           paired: bool = True, summary: dict | None = None) -> Verdict | None:
    """The verdict of ``strategy`` against ``lead`` (any strategy of ``g``, not only its leader) on
    ``col`` of :data:`DECIDED`, at the family-wise level :func:`decide` gives ``g``'s table (None:
    one of them did not run, or nothing to compare); ``summary``: ``g``'s :func:`summarise`, when
    the caller has it."""
    if strategy not in set(g.strategy) or lead not in set(g.strategy):
        return None
    # as many pairs as decide() counts: the strategies with an estimate of the column
    ranked = sum(1 for e in (summary or summarise(g)).values() if e[col].ok)
    g = fill_untimed(g)
    by = _by_strategy(g)
    return _versus(by[strategy], by[lead], col, pair_count(ranked), margin, paired, _alpha(g))


def _by_strategy(g: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """strategy -> its records of ``g``, in seed order."""
    return {s: rows.sort_values("seed") if "seed" in rows else rows
            for s, rows in g.groupby("strategy", sort=False)}


def _versus(rows: pd.DataFrame, lead: pd.DataFrame, col: str, pairs: int, margin: float,
            paired: bool,
            alpha: float = ALPHA):
    """The verdict of ``rows`` (one strategy's records) against the leader's, on the seeds both
    ran."""
    def ok(r):
        return r[r.status == "ok"] if "status" in r else r
    if col == "graphs_per_s":
        a, b = ok(rows), ok(lead)
        seeds = [s for s in a["seed"] if s in set(b["seed"])] if "seed" in a else []
        if not seeds or "window_graphs_per_s" not in a:
            return None
        def one(r, s, c):
            return r[r.seed == s][c].iloc[0]
        def per(r):
            return [json_field(one(r, s, "window_graphs_per_s"), []) for s in seeds]
        together = [paired and ("turn_group" not in a or str(one(a, s, "turn_group"))
                                == str(one(b, s, "turn_group")))
                    for s in seeds]
        return compare_turns(per(a), per(b), paired=together, pairs=pairs, alpha=alpha,
                             margin=margin)
    if "seed" not in rows:
        return None
    def trains(r):
        return r[r["model"].astype(str) != "none"] if "model" in r else r
    a, b = trains(rows), trains(lead)
    seeds = [s for s in a["seed"] if s in set(b["seed"])]
    if not seeds:
        return None

    def values(r):
        r = r.set_index("seed").loc[seeds]
        reached = [truthy(x) and st == "ok"
                   for x, st in zip(r.get("reached_target", [False] * len(r)),
                                                              r.get("status", ["ok"] * len(r)))]
        return list(
            pd.to_numeric(
                r[col], errors="coerce")) if col in r else [float("nan")] * len(r), reached

    (x, rx), (y, ry) = values(a), values(b)
    # a time to target is steps x the step time the timed seeds measured: its ratio carries that
    # measurement's error (the graphs/s ratio's, graphs per step being planned), which the seeds do
    # not show
    rate = (_versus(rows, lead, "graphs_per_s", pairs, margin, paired, alpha) if col
            == "time_to_target_s" else None)
    return compare_seeds(x, rx, y, ry, pairs=pairs, alpha=alpha, margin=margin,
                         extra_se=rate.se if rate is not None else 0.0)


def best(summary: dict[str, dict[str, Estimate]], col: str, better: str | None,
         verdicts: dict | None = None) -> tuple[str | None, str | None, bool]:
    """``(leader, runner-up, clear)`` of ``col``: ``clear`` is True when the
    leader's interval overlaps no other strategy's (not only the runner-up's:
    a third with a wider interval may reach past it) and the leader and the
    runner-up have the seeds their kind of estimate needs. For a column with
    ``verdicts`` (:func:`decide`), ``clear`` is True when the leader is decided
    ahead of every other strategy."""
    if better is None:
        return None, None, False
    ranked = sorted(((e[col].value, s) for s, e in summary.items() if e[col].ok),
                    reverse=better == "high")
    if not ranked:
        return None, None, False
    if len(ranked) == 1:
        return ranked[0][1], None, False
    lead, second = ranked[0][1], ranked[1][1]
    if verdicts and col in verdicts and verdicts[col][0] == lead:
        vs = verdicts[col][1]
        behind = "slower"
        return lead, second, bool(vs) and all(s in vs and vs[s].word == behind
                                              for _, s in ranked[1:])
    a, b = summary[lead][col], summary[second][col]
    too_few = col not in PLANNED and min(a.seeds, b.seeds) < MIN_SEEDS.get(a.kind, 3)
    return lead, second, not too_few and not any(overlaps(a,
                                                          summary[s][col]) for _, s in ranked[1:])


def _fmt(fmt: str, value: float) -> str:
    return f"{value * 1e3:.2f}" if fmt == "ms" else fmt.format(value)


def fmt_estimate(e: Estimate, fmt: str, with_interval: bool = False) -> str:
    """``value``, ``value [lo-hi]``, ``k/n``, or for a time to target ``value [lo-hi] (k/n)`` /
    ``not reached (k/n)``."""
    if e.kind == "count":
        return f"{e.k}/{e.n}"
    if e.kind == "censored":
        if e.n == 0:
            return "-"
        if not e.ok:
            return f"not reached ({e.k}/{e.n})"
        hi = "∞" if math.isinf(e.hi) else _fmt(fmt, e.hi)
        return f"{_fmt(fmt, e.value)} [{_fmt(fmt, e.lo)}-{hi}] ({e.k}/{e.n})"
    if not e.ok:
        return "-"
    text = _fmt(fmt, e.value)
    if with_interval and e.n > 1:
        text += f" [{_fmt(fmt, e.lo)}-{_fmt(fmt, e.hi)}]"
    return text


def _table(summary, columns, extra_header: tuple[str, ...] = (),
           extra: dict[str, list[str]] | None = None, verdicts: dict | None = None) -> str:
    """Markdown: one row per strategy, columns with any value, best values bolded where clear; a
    column with ``verdicts`` (:func:`decide`) is followed by each strategy's verdict against its
    leader."""
    cols = [c for c in columns if any(e[c[0]].ok or e[c[0]].n for e in summary.values())]
    verdicts = verdicts or {}
    judged = {c[0] for c in cols if verdicts.get(c[0], (None, {}))[0] is not None}
    header = ["strategy"]
    for col, label, _, _ in cols:
        header += [label] + (["vs leader"] if col in judged else [])
    header += list(extra_header)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    bold = {col: best(summary, col, better, verdicts) for col, _, _, better in cols}
    for strategy, est in summary.items():
        cells = [f"`{strategy}`"]
        for col, _, fmt, _ in cols:
            text = fmt_estimate(est[col], fmt,
                                with_interval=col in ("graphs_per_s", "window_graphs_per_s"))
            lead, _, clear = bold[col]
            cells.append(f"**{text}**" if clear and lead == strategy else text)
            if col in judged:
                leader, vs = verdicts[col]
                cells.append("leader" if strategy == leader else vs[strategy].short(DECIDED[col])
                             if strategy in vs else "-")
        if extra:
            cells += extra[strategy]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main_table(summary, metric: tuple[str, str, bool] | None = None,
               verdicts: dict | None = None) -> str:
    """Throughput, efficiency, memory and time to accuracy per strategy; ``metric``
    (:func:`metric_of`) names the validation score's column and which way is better; ``verdicts``
    (:func:`decide`) add each strategy's verdict against the leader of graphs/s and of steps and
    time to target."""
    spec = MAIN
    if metric is not None:
        spec = [(c, f"best val {metric[1]} ({'higher' if metric[2] else 'lower'} is better)", f,
                 "high" if metric[2]
                 else "low") if c == "best_val_score" else (c, label, f,
                                                            better) for c, label, f, better in MAIN]
    return _table(summary, spec, verdicts=verdicts)


def fairness_table(summary, params: dict[str, str]) -> str:
    """Slots per step per strategy, with its resolved parameters."""
    return _table(summary, FAIRNESS, ("parameters",), {s: [params.get(s, "")] for s in summary})


def details_table(summary) -> str:
    return _table(summary, DETAILS)


def compile_table(summary, extra: dict[str, list[str]] | None = None) -> str:
    """Compile seconds (cold and warm cache), compiles, recompiles, shapes, steady rate and time to
    target with and without compile; ``extra``: each arm's break-even steps, cold and warm
    (:func:`bench_lib.report.routes.break_even`)."""
    if extra is None:
        return _table(summary, COMPILE)
    return _table(summary, COMPILE, extra_header=("break-even steps (cold)",
                                                  "break-even steps (warm)"), extra=extra)
