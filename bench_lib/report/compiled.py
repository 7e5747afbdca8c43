"""The report's compiled-steps section: what ``torch.compile`` cost and bought, per dataset,
strategy and execution, with validation curves that include the compile seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench_lib.report import plots
from bench_lib.report.names import display_name, file_stem
from bench_lib.report.results import Results
from bench_lib.report.routes import break_even
from bench_lib.report.plots import curve_points
from bench_lib.report.tables import (compile_table, fill_untimed, json_field, metric_of,
                                     summarise)

__all__ = ["compile_section"]


def compile_section(res: Results, out: Path) -> list[str]:
    """Compile costs and what they buy, per dataset, strategy and execution (when any cell was
    compiled)."""
    ran = res.ran
    if "execution" not in ran or not (ran.execution != "eager").any():
        return []
    caches = (sorted(set(ran.loc[ran.execution != "eager", "compile_cache"].dropna()))
              if "compile_cache" in ran else [])
    cache = {("cold",): "a cold inductor cache per cell (a first run)",
             ("shared",): "the process's shared inductor cache (possibly warm: less than a first "
                          "run pays)"}.get(
        tuple(caches), f"inductor caches: {', '.join(caches) or 'not recorded'}")
    lines = ["## Compiled steps", "",
             f"What `torch.compile` costs and buys, per strategy and execution (median over "
             f"seeds). Compile s: wall seconds of the steps that compiled, less a steady step "
             f"each, from {cache}. Compiles counts dynamo frame compilations; recompiles those "
             f"after the first step (a new shape or a failed guard); shapes: distinct batch shapes "
             f"of an epoch. Warm compile s: the same step compiled again in a new process from the "
             f"cell's cache once filled (a user's second run). Break-even steps: compile seconds "
             f"over the step time saved against the same strategy's eager arm (never: the "
             f"compiled step is not faster). Time to target with compile adds the compile seconds "
             f"to the steady-rate time to target. Each compiled cell's record holds what it passed "
             f"(`compile_args`: `torch.compile`'s arguments, `mark_dynamic`'s bounds) and its "
             f"graph breaks' reasons.", ""]
    lines += _what_ran(ran[ran.execution != "eager"])
    routes = set(ran.execution) - {"eager"}
    if len(routes) > 1:  # the pad-or-mark question: every route's arms in one table
        from bench_lib.report.routes import routes_table

        lines += ["### Pad or mark dynamic: every route", "",
                  f"Routes compared: {', '.join(f'`{r}`' for r in sorted(routes))}. vs own eager: "
                  f"steady graphs/s over the same strategy's eager arm; vs leader: the suite's "
                  f"graphs/s verdict against the table's fastest arm.", "", routes_table(res), ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            summary = summarise(g)
            lines += [f"### {display_name(dataset)}, `{model}`, {view}", "",
                      compile_table(summary, break_even(fill_untimed(g), summary)), ""]
            # One colour per strategy, one line style per execution.
            curves = {x: curve_points(rows, with_compile=True, key="strategy_name")
                      for x, rows in g.groupby("execution", sort=False)}
            curves = {x: c for x, c in curves.items() if c}
            if curves:
                stem = f"{file_stem(dataset)}_{model}_{view}_compile_curves"
                _, label, higher = metric_of(g)
                goals = pd.to_numeric(g["goal"], errors="coerce").dropna()
                plots.save_figure(plots.curves_figure(curves,
                                                      float(goals.iloc[0]) if len(goals) else None,
                                                      f"{display_name(dataset)}: validation "
                                                      f"{label}, compile included",
                                                      time_label=("compile s + steps x steady "
                                                                  "step s"),
                                                      ylabel=f"validation {label}", log=not higher),
                                  out, stem)
                lines += [f"![validation {label} against time including compile]({stem}.png)", "",
                          f"Validation {label} against compile seconds plus steps at the measured "
                          f"steady step time (left; eager arms start at 0) and against steps "
                          f"(right); one colour per strategy, one line style per execution, one "
                          f"line per seed, so no error bars.", ""]
    return lines


def _what_ran(compiled: pd.DataFrame) -> list[str]:
    """What each route passed (``compile_args``; the marked bounds are each cell's, in its record),
    the graph breaks' reasons where any, and the warm-cache runs that fell short
    (``compile_warm_error``, ``compile_warm_compiles``)."""
    lines = []
    if "compile_args" in compiled:
        for execution, g in compiled.groupby("execution", sort=False):
            args = [json_field(a, {}) for a in g.compile_args]
            kwargs = sorted({json.dumps(a.get("torch.compile", {}), sort_keys=True) for a in args})
            marked = sorted({d for a in args for d in a.get("mark_dynamic", {})})
            bounds = (f", mark_dynamic on the {', '.join(marked)} dimension(s) within each cell's "
                      f"planned bounds (its record's `compile_args`)" if marked else "")
            lines.append(f"- `{execution}`: torch.compile({'; '.join(kwargs)}){bounds}")
    reasons: dict[str, int] = {}
    for text in compiled.get("graph_break_reasons", []):
        for reason, n in json_field(text, {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(n)
    lines += [f"- graph break ({n}x): {reason}" for reason, n in sorted(reasons.items())]
    if "compile_warm_error" in compiled:
        errors = compiled.compile_warm_error.astype(object).fillna("").astype(str)
        short = compiled[errors.str.len() > 0]
        lines += [f"- warm compile of `{r.strategy}` on {display_name(r.dataset)}: "
                  f"{r.compile_warm_error} ({r.compile_warm_compiles} compile(s) counted)"
                  for r in short.itertuples()]
    return (["What the compiled cells passed and met:", "", *lines, ""]) if lines else []
