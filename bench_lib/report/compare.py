"""Two runs side by side: ``python -m bench_lib.report compare A B``.

Cells of run A and run B are matched on the columns that say what a cell
is (dataset, model, strategy, fairness views, seed, execution, ranks: those
both runs record), so that runs of two configurations, two versions or two
machines line up. For every matched cell:

* graphs/s of A and of B, each the median of its timed repeats with a 95%
  bootstrap interval, and B/A with the interval ``[B lo / A hi, B hi / A lo]``;
  a change is flagged when the two intervals do not overlap;
* peak RSS while timed (one measurement per cell, so a ratio without an
  interval, never flagged);
* steps to the validation target, a miss shown as such, not dropped;
* the settings the two cells differ in (budgets, clock, threads...), so that
  a reader can judge whether the pair is a fair comparison.

Cells that ran in only one run, and cells that failed in either, are listed.

Example::

    python -m bench_lib.report compare results/default-reference results/default --out reports/compare.md

(``--out FILE.html`` writes the same as a self-contained page with sortable tables.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench_lib.report.stats import Estimate, overlaps
from bench_lib.report.tables import _json, describe_metric, latest, throughput, truthy

__all__ = ["Comparison", "compare_runs", "comparison_markdown", "MATCH"]

#: Columns that identify a cell across runs (those present in both runs are used).
MATCH = ("dataset", "model", "strategy", "views", "seed", "execution", "ranks")
#: Settings a matched pair may differ in; each difference is shown, so that a reader can judge the pair.
SETTINGS = ("n_graphs", "dataset_options", "strategy_params", "model_params", "node_slots_budget", "edge_slots_budget",
            "graphs_per_step_budget", "target", "task", "metric", "goal", "device", "backend", "threads", "clock",
            "compile_options", "prefetch", "repeats", "lr", "max_steps", "torch_threads")


@dataclass
class Comparison:
    """Matched cells (one dict each), and what did not match or did not run."""

    a: str
    b: str
    match: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[dict]:
        return [r for r in self.rows if r["changed"]]


def _records(path: Path) -> pd.DataFrame:
    file = Path(path) / "records.csv"
    if not file.exists():
        raise FileNotFoundError(f"{file} not found: compare takes two results directories (with records.csv)")
    return latest(pd.read_csv(file))


def _label(row, match) -> str:
    parts = []
    for col in match:
        value = row[col]
        if col == "views":
            value = "+".join(_json(value, []))
        elif col == "seed":
            value = f"seed{int(value)}"
        elif col == "ranks":
            value = f"{int(value)}ranks"
        parts.append(str(value))
    return "/".join(parts)


def _steps(row) -> float | None:
    """Steps to target; None when the cell missed it (or had none)."""
    if "reached_target" in row and not truthy(row["reached_target"]):
        return None
    value = pd.to_numeric(row.get("steps_to_target"), errors="coerce")
    return None if pd.isna(value) else float(value)


def compare_runs(a: Path | str, b: Path | str, match: tuple[str, ...] | None = None) -> Comparison:
    """Match the cells of results directories ``a`` and ``b`` and compare them (see the module docstring)."""
    ra, rb = _records(Path(a)), _records(Path(b))
    match = tuple(c for c in (match or MATCH) if c in ra.columns and c in rb.columns)
    if not match:
        raise ValueError("the two runs share none of the columns to match cells on")
    out = Comparison(str(a), str(b), match)
    la = {_label(r, match): r for _, r in ra.iterrows()}
    lb = {_label(r, match): r for _, r in rb.iterrows()}
    out.only_a = sorted(set(la) - set(lb))
    out.only_b = sorted(set(lb) - set(la))
    for key in sorted(set(la) & set(lb)):
        x, y = la[key], lb[key]
        bad = [f"{name} ({r['status']})" for name, r in (("A", x), ("B", y)) if r["status"] != "ok"]
        if bad:
            out.failed.append(f"{key}: {', '.join(bad)}")
            continue
        ta, tb = throughput(pd.DataFrame([x])), throughput(pd.DataFrame([y]))
        ratio = tb.value / ta.value
        ratio_lo = tb.lo / ta.hi if ta.hi > 0 else math.nan
        ratio_hi = tb.hi / ta.lo if ta.lo > 0 else math.inf
        mem_a = pd.to_numeric(x.get("throughput_peak_rss_mib"), errors="coerce")
        mem_b = pd.to_numeric(y.get("throughput_peak_rss_mib"), errors="coerce")
        sa, sb = _steps(x), _steps(y)
        differ = [col for col in SETTINGS if col in x and col in y and str(x[col]) != str(y[col])]
        out.rows.append({
            "differs": differ,
            "cell": key, "graphs_per_s_a": ta, "graphs_per_s_b": tb, "ratio": ratio,
            "ratio_interval": (ratio_lo, ratio_hi), "changed": not overlaps(ta, tb),
            "peak_rss_a": float(mem_a), "peak_rss_b": float(mem_b), "peak_rss_ratio": float(mem_b / mem_a),
            "steps_a": sa, "steps_b": sb, "goal": _goal(x),
            "steps_ratio": None if sa is None or sb is None else sb / sa,
        })
    return out


def _goal(row) -> str:
    """``ROC-AUC >= 0.75``: the metric, its direction and the target value of a cell, or ``-``."""
    goal = pd.to_numeric(row.get("goal"), errors="coerce")
    if goal != goal:
        return "-"
    _, label, higher = describe_metric(row.get("metric"))
    return f"{label} {'>=' if higher else '<='} {goal:g}"


def _est(e: Estimate) -> str:
    return f"{e.value:,.0f} [{e.lo:,.0f}-{e.hi:,.0f}]" if e.n > 1 else f"{e.value:,.0f}"


def _steps_text(v: float | None) -> str:
    return "missed" if v is None else f"{v:,.0f}"


def comparison_markdown(c: Comparison) -> str:
    lines = [f"# {Path(c.b).name} against {Path(c.a).name}", "",
             f"A = `{c.a}`, B = `{c.b}`; cells matched on {', '.join(c.match)}. graphs/s: median of the timed "
             "repeats [95% bootstrap interval]; B/A [B lo / A hi - B hi / A lo]; **changed**: the two intervals "
             "do not overlap. Peak RSS: one measurement per cell (no interval). Steps to target: steps until the "
             "validation score reached A's target (its metric and direction in the target column); a miss is "
             "shown as such.", ""]
    if c.rows:
        changed = c.changed
        lines.append(f"{len(changed)} of {len(c.rows)} matched cells changed in graphs/s"
                     + (": " + "; ".join(f"{r['cell']} {r['ratio']:.2f}x" for r in changed) if changed else "")
                     + ".")
        lines += ["", "| cell | graphs/s A | graphs/s B | B/A | changed | peak RSS MiB A | B | B/A "
                  "| target | steps to target A | B | B/A | settings that differ |",
                  "|---|---:|---:|---:|:-:|---:|---:|---:|---|---:|---:|---:|---|"]
        for r in c.rows:
            lo, hi = r["ratio_interval"]
            steps = "-" if r["steps_ratio"] is None else f"{r['steps_ratio']:.2f}"
            lines.append(
                f"| {r['cell']} | {_est(r['graphs_per_s_a'])} | {_est(r['graphs_per_s_b'])} | "
                f"{r['ratio']:.2f} [{lo:.2f}-{hi:.2f}] | {'**yes**' if r['changed'] else 'no'} | "
                f"{r['peak_rss_a']:,.0f} | {r['peak_rss_b']:,.0f} | {r['peak_rss_ratio']:.2f} | "
                f"{r['goal']} | {_steps_text(r['steps_a'])} | {_steps_text(r['steps_b'])} | {steps} | "
                f"{', '.join(r['differs']) or 'none'} |")
    else:
        lines.append("No cell ran in both runs.")
    for title, items in (("Only in A", c.only_a), ("Only in B", c.only_b), ("Failed (not compared)", c.failed)):
        lines += ["", f"## {title} ({len(items)})", ""] + ([f"- {i}" for i in items] or ["none"])
    return "\n".join(lines) + "\n"
