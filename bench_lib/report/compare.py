"""Two runs side by side: ``python -m bench_lib.report compare A B``.

Cells of run A and run B are matched on the columns that say what a cell
is (dataset, model, strategy, fairness views, seed, execution, ranks: those
both runs record), so that runs of two configurations, two versions or two
machines line up. For every matched cell:

* graphs/s of A and of B, each the median of its timed repeats with a 95%
  bootstrap interval, and B/A from their timed windows (unpaired: the two
  runs did not take turns) with the verdict words of
  :mod:`bench_lib.verdicts`: *faster* or *slower* (flagged as
  changed), *equivalent* within the margin, or *undecided*;
* peak RSS while timed (one measurement per cell, so a ratio without an
  interval, never flagged);
* steps to the validation target, a miss shown as such, not dropped;
* the settings the two cells differ in (budgets, clock, threads...), so that
  a reader can judge whether the pair is a fair comparison.

Cells that ran in only one run, and cells that failed in either, are listed.

Runs on two machines (or days) differ in absolute graphs/s for reasons that
have nothing to do with batching. With ``relative_to`` (``--relative-to
STRATEGY``, the default when the runs' machines differ) the comparison is of
each strategy's ratio to that strategy *within its own run* (paired turns,
as the report's verdicts), per dataset, model and view: B's ratio over A's,
*changed* (faster or slower relative to the reference), *unchanged* within
the margin, or *undecided*. Steps to target are compared cell by cell in
both modes (they do not depend on the machine).

Example::

    python -m bench_lib.report compare results/default-reference results/default --out
    reports/compare.md

(``--out FILE.html`` writes the same as a self-contained page with sortable tables.)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench_lib.harness.environment import STACK_PACKAGES, stack_text
from bench_lib.report.names import replace_block
from bench_lib.report.stats import Estimate, overlaps
from bench_lib.report.tables import describe_metric, in_view, json_field, latest, throughput, truthy
from bench_lib.schema import VIEWS
from bench_lib.verdicts import MARGIN, Verdict, compare_turns, t_interval

__all__ = ["Comparison", "compare_runs", "comparison_markdown", "MATCH", "same_machine",
           "same_stack", "stacks_sentence", "stacks_block", "update_stacks", "STACKS_BEGIN",
           "STACKS_END"]

STACKS_BEGIN, STACKS_END = "<!-- stacks:begin", "<!-- stacks:end -->"

#: Columns that identify a cell across runs (those present in both runs are used).
MATCH = ("dataset", "model", "strategy", "views", "seed", "execution", "ranks")
#: Settings a matched pair may differ in; each difference is shown, so that a reader can judge the
#: pair.
SETTINGS = ("n_graphs", "dataset_options", "strategy_params", "model_params", "node_slots_budget",
            "edge_slots_budget",
            "graphs_per_step_budget", "target", "task", "metric", "goal", "device", "backend",
            "threads", "clock",
            "compile_options", "prefetch", "repeats", "lr", "max_steps", "torch_threads")


@dataclass
class Comparison:
    """Matched cells (one dict each), and what did not match or did not run."""

    a: str
    b: str
    match: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)
    relative_to: str | None = None
    relative: list[dict] = field(default_factory=list)
    margin: float = MARGIN
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stack_a: str = ""
    stack_b: str = ""

    @property
    def changed(self) -> list[dict]:
        """Cells (absolute mode) or strategy ratios (relative mode) decided faster or slower."""
        return [r for r in (self.relative if self.relative_to else self.rows) if r["changed"]]


def _records(path: Path) -> pd.DataFrame:
    file = Path(path) / "records.csv"
    if not file.exists():
        raise FileNotFoundError(f"{file} not found: compare takes two results directories (with "
                                f"records.csv)")
    return latest(pd.read_csv(file))


def _label(row, match) -> str:
    parts = []
    for col in match:
        value = row[col]
        if col == "views":
            value = "+".join(json_field(value, []))
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


def _environment(path: Path) -> dict:
    file = Path(path) / "environment.json"
    return json.loads(file.read_text()) if file.exists() else {}


def same_machine(a: Path | str, b: Path | str) -> bool:
    """Whether runs ``a`` and ``b`` were measured on one machine: the same host (where both recorded
    it), CPU model, CPU count and GPU."""
    ea, eb = _environment(Path(a)), _environment(Path(b))
    keys = ["cpu", "cpu_count", "gpu"] + (["host"] if "host" in ea and "host" in eb else [])
    return (bool(ea) and bool(eb) and all(ea.get(k) == eb.get(k) for k in keys) and ("host" in ea)
            == ("host" in eb))


def _stack(path: Path) -> dict:
    packages = _environment(Path(path)).get("packages") or {}
    return {p: packages.get(p) for p in STACK_PACKAGES if p in packages}


def same_stack(a: Path | str, b: Path | str) -> bool:
    """Whether runs ``a`` and ``b`` ran on one stack: the same torch, numpy, pandas, PyG, DGL and
    numba, of those both recorded (older runs recorded fewer; runs that recorded none count as the
    same)."""
    sa, sb = _stack(Path(a)), _stack(Path(b))
    return all(sa[k] == sb[k] for k in sa.keys() & sb.keys())


def compare_runs(a: Path | str, b: Path | str, match: tuple[str, ...] | None = None,
                 relative_to: str | None = None, margin: float = MARGIN) -> Comparison:
    """Match the cells of results directories ``a`` and ``b`` and compare them (see the module
    docstring); ``relative_to``: a strategy, for the relative mode."""
    ra, rb = _records(Path(a)), _records(Path(b))
    match = tuple(c for c in (match or MATCH) if c in ra.columns and c in rb.columns)
    if not match:
        raise ValueError("the two runs share none of the columns to match cells on")
    out = Comparison(str(a), str(b), match, relative_to=relative_to, margin=margin)
    if not same_stack(a, b):
        out.stack_a, out.stack_b = stack_text(_stack(Path(a))), stack_text(_stack(Path(b)))
    if relative_to is not None:
        for name, run in (("A", ra), ("B", rb)):
            if relative_to not in set(run.strategy):
                raise ValueError(f"--relative-to {relative_to}: run {name} has no cell of that "
                                 f"strategy; its strategies: "
                                 f"{', '.join(sorted(set(run.strategy)))}")
        out.relative = _relative(ra, rb, relative_to, margin)
    la = {_label(r, match): r for _, r in ra.iterrows()}
    lb = {_label(r, match): r for _, r in rb.iterrows()}
    out.only_a = sorted(set(la) - set(lb))
    out.only_b = sorted(set(lb) - set(la))
    common = sorted(set(la) & set(lb))
    for key in common:
        x, y = la[key], lb[key]
        bad = [f"{name} ({r['status']})" for name, r in (("A", x), ("B", y)) if r["status"] != "ok"]
        if bad:
            out.failed.append(f"{key}: {', '.join(bad)}")
            continue
        ta, tb = throughput(pd.DataFrame([x])), throughput(pd.DataFrame([y]))
        ratio = tb.value / ta.value
        ratio_lo = tb.lo / ta.hi if ta.hi > 0 else math.nan
        ratio_hi = tb.hi / ta.lo if ta.lo > 0 else math.inf
        verdict = compare_turns([json_field(y.get("window_graphs_per_s"), [])],
                                [json_field(x.get("window_graphs_per_s"), [])],
                                paired=False, pairs=max(1, len(common)), margin=margin)
        if verdict is not None:
            ratio_lo, ratio_hi = verdict.lo, verdict.hi
        # a train-only seed's cell has no rate: nothing to compare but its steps
        timed = ta.ok and tb.ok
        mem_a = pd.to_numeric(x.get("throughput_peak_rss_mib"), errors="coerce")
        mem_b = pd.to_numeric(y.get("throughput_peak_rss_mib"), errors="coerce")
        sa, sb = _steps(x), _steps(y)
        differ = [col for col in SETTINGS if col in x and col in y and str(x[col]) != str(y[col])]
        out.rows.append({
            "differs": differ,
            "cell": key, "graphs_per_s_a": ta, "graphs_per_s_b": tb, "ratio": ratio,
            "ratio_interval": (ratio_lo, ratio_hi), "verdict": verdict,
            "changed": verdict.word in ("faster",
                                        "slower") if verdict is not None else timed
                         and not overlaps(ta, tb),
            "peak_rss_a": float(mem_a), "peak_rss_b": float(mem_b),
                         "peak_rss_ratio": float(mem_b / mem_a),
            "steps_a": sa, "steps_b": sb, "goal": _goal(x),
            "steps_ratio": None if sa is None or sb is None else sb / sa,
        })
    return out


def _relative(ra: pd.DataFrame, rb: pd.DataFrame, reference: str, margin: float) -> list[dict]:
    """Per dataset, model, view and strategy: its rate over ``reference``'s within A and within B
    (paired turns over the seeds both ran), and B's ratio over A's with its verdict."""
    rows = []
    keys = [c for c in ("dataset", "model", "execution", "ranks") if c in ra and c in rb]
    def ok(df):
        return df[df.status == "ok"] if "status" in df else df
    ra, rb = ok(ra), ok(rb)
    tables = sorted({tuple(str(v) for v in t) for t in ra[keys].itertuples(index=False)}
                    & {tuple(str(v) for v in t) for t in rb[keys].itertuples(index=False)})
    def pick(df, t):
        return df[np.logical_and.reduce([df[k].astype(str) == v for k, v in zip(keys, t)])]
    for t in tables:
        for view in VIEWS:
            ga, gb = in_view(pick(ra, t), view), in_view(pick(rb, t), view)
            strategies = [s for s in dict.fromkeys(ga.strategy) if s in set(gb.strategy) and s
                          != reference]
            if reference not in set(ga.strategy) or reference not in set(gb.strategy):
                continue
            for s in strategies:
                va, vb = _within(ga, s, reference, margin), _within(gb, s, reference, margin)
                if va is None or vb is None:
                    continue
                m = math.log(vb.ratio / va.ratio)
                se = math.hypot(va.se, vb.se)
                df = max(1, va.df + vb.df)
                word, lo, hi, _, _ = t_interval(m, se, df, max(1, len(strategies) * len(tables)),
                                                margin=margin)
                word = "unchanged" if word == "equivalent" else word
                rows.append({"table": " / ".join([*t, view]), "strategy": s, "a": va, "b": vb,
                             "change": math.exp(m), "interval": (math.exp(lo), math.exp(hi)),
                             "word": word,
                             "changed": word in ("faster", "slower")})
    return rows


def _within(g: pd.DataFrame, strategy: str, reference: str, margin: float) -> Verdict | None:
    """``strategy`` against ``reference`` in one run's table ``g``, over the seeds both ran (paired
    turns)."""
    a, r = g[g.strategy == strategy], g[g.strategy == reference]
    seeds = [s for s in a.seed if s in set(r.seed)]
    def windows(df):
        return [json_field(df[df.seed == s]["window_graphs_per_s"].iloc[0], []) for s in seeds]
    if not seeds or "window_graphs_per_s" not in g:
        return None
    return compare_turns(windows(a), windows(r), margin=margin)


def _goal(row) -> str:
    """``ROC-AUC >= 0.75``: the metric, its direction and the target value of a cell, or ``-``."""
    goal = pd.to_numeric(row.get("goal"), errors="coerce")
    if goal != goal:
        return "-"
    _, label, higher = describe_metric(row.get("metric"))
    return f"{label} {'>=' if higher else '<='} {goal:g}"


def _est(e: Estimate) -> str:
    if not e.ok:
        return "-"
    return f"{e.value:,.0f} [{e.lo:,.0f}-{e.hi:,.0f}]" if e.n > 1 else f"{e.value:,.0f}"


def _num(x: float, fmt: str = "{:,.0f}") -> str:
    return "-" if x != x else fmt.format(x)


def _steps_text(v: float | None) -> str:
    return "missed" if v is None else f"{v:,.0f}"


def _verdict_text(r: dict) -> str:
    v = r.get("verdict")
    if v is None:
        return "**changed**" if r["changed"] else "-"
    return f"**{v.short()}**" if r["changed"] else v.short()


def _relative_lines(c: Comparison) -> list[str]:
    """The relative mode's part: what the ratios are, whether the answer moved, and their table."""
    lines = [(f"A = `{c.a}`, B = `{c.b}`. Relative to `{c.relative_to}`: each strategy's graphs/s "
              f"over `{c.relative_to}`'s within its own run (the ratio of their paired turns, over "
              f"the seeds both ran, with its 95% interval at a Bonferroni share), then B's ratio "
              f"over A's: **faster** or **slower** (relative to `{c.relative_to}`: the interval of "
              f"the change excludes 1), *unchanged* (within ±{c.margin:.0%}, two one-sided tests), "
              f"or *undecided*. Absolute rates differ between machines for reasons that have "
              f"nothing to do with batching; these ratios do not."), ""]
    changed = c.changed
    if c.stack_a:
        undecided = sum(r["word"] == "undecided" for r in c.relative)
        moved = "moved" if changed else "did not move beyond the margin" if not undecided else \
            "did not move where decided"
        lines += [f"Between the two stacks the batching answer {moved}: {len(changed)} of "
                  f"{len(c.relative)} strategy ratios changed, {undecided} undecided.", ""]
    lines.append(f"{len(changed)} of {len(c.relative)} strategy ratios changed"
                 + (": " + "; ".join(f"{r['table']} `{r['strategy']}` {r['change']:.2f}x"
                                     for r in changed)
                    if changed else "") + ".")
    lines += ["", f"| table | strategy | / `{c.relative_to}` in A | in B | B/A [interval] | "
                  f"verdict |",
              "|---|---|---:|---:|---:|---|"]
    for r in c.relative:
        lo, hi = r["interval"]
        word = f"**{r['word']}**" if r["changed"] else r["word"]
        lines.append(f"| {r['table']} | `{r['strategy']}` | {r['a'].ratio:.2f} "
                     f"[{r['a'].lo:.2f}-{r['a'].hi:.2f}] | {r['b'].ratio:.2f} "
                     f"[{r['b'].lo:.2f}-{r['b'].hi:.2f}] | {r['change']:.2f} [{lo:.2f}-{hi:.2f}] | "
                     f"{word} |")
    return lines + ["", "## Cells", "", "Cell by cell; graphs/s here is absolute (the machines "
                                        "differ), steps to target are not machine-bound.", ""]


def comparison_markdown(c: Comparison) -> str:
    lines = [f"# {Path(c.b).name} against {Path(c.a).name}", ""]
    if c.stack_a:
        lines += [f"Two stacks (environment.json): A ran on {c.stack_a}; B on {c.stack_b}.", ""]
    if c.relative_to:
        lines += _relative_lines(c)
    else:
        lines += [(f"A = `{c.a}`, B = `{c.b}`; cells matched on {', '.join(c.match)}. graphs/s: "
                   f"median of the timed repeats [95% bootstrap interval]; B/A from the two cells' "
                   f"timed windows (unpaired: the runs did not take turns) [interval at a "
                   f"Bonferroni share of 5% over the matched cells]; verdict: B **faster** or "
                   f"**slower** than A (changed), *equivalent* within ±{c.margin:.0%}, or "
                   f"*undecided*. Peak RSS: one measurement per cell (no interval). Steps to "
                   f"target: steps until the validation score reached A's target (its metric and "
                   f"direction in the target column); a miss is shown as such. For runs on two "
                   f"machines, compare with --relative-to STRATEGY."), ""]
    if c.rows:
        if not c.relative_to:
            changed = c.changed
            lines.append(f"{len(changed)} of {len(c.rows)} matched cells changed in graphs/s"
                         + (": " + "; ".join(f"{r['cell']} {r['ratio']:.2f}x" for r in changed)
                            if changed else "")
                         + ".")
            lines.append("")
        lines += ["| cell | graphs/s A | graphs/s B | B/A | verdict | peak RSS MiB A | B | B/A "
                  "| target | steps to target A | B | B/A | settings that differ |",
                  "|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---|"]
        for r in c.rows:
            lo, hi = r["ratio_interval"]
            steps = "-" if r["steps_ratio"] is None else f"{r['steps_ratio']:.2f}"
            ratio = "-" if r["ratio"] != r["ratio"] else f"{r['ratio']:.2f} [{lo:.2f}-{hi:.2f}]"
            lines.append(
                f"| {r['cell']} | {_est(r['graphs_per_s_a'])} | {_est(r['graphs_per_s_b'])} | "
                f"{ratio} | {_verdict_text(r)} | {_num(r['peak_rss_a'])} | {_num(r['peak_rss_b'])} "
                f"| {_num(r['peak_rss_ratio'], '{:.2f}')} | {r['goal']} | "
                f"{_steps_text(r['steps_a'])} | {_steps_text(r['steps_b'])} | {steps} | "
                f"{', '.join(r['differs']) or 'none'} |")
    else:
        lines.append("No cell ran in both runs.")
    for title, items in (("Only in A", c.only_a), ("Only in B", c.only_b),
                         ("Failed (not compared)", c.failed)):
        lines += ["", f"## {title} ({len(items)})", ""] + ([f"- {i}" for i in items] or ["none"])
    return "\n".join(lines) + "\n"


def _machine_text(path: Path | str) -> str:
    env = _environment(Path(path))
    return f"{env.get('cpu', 'an unrecorded CPU')} ({env.get('cpu_count', '?')} CPUs)"


def stacks_sentence(c: Comparison) -> str:
    """What moved between two runs on two stacks, in one paragraph from a relative comparison:
    the strategy ratios that changed (each named), those undecided, and the steps to target that
    differ cell by cell."""
    if not c.relative_to or not c.stack_a:
        raise ValueError("the stacks sentence needs two runs on two stacks compared --relative-to "
                         "a strategy")
    changed, n = c.changed, len(c.relative)
    undecided = sum(r["word"] == "undecided" for r in c.relative)
    same = sum(r["word"] == "unchanged" for r in c.relative)
    where = (f"on one machine, {_machine_text(c.a)}" if same_machine(c.a, c.b)
             else f"A on {_machine_text(c.a)}, B on {_machine_text(c.b)}")
    moved = ("; ".join(f"{r['table']} `{r['strategy']}` {r['a'].ratio:.2f}x to "
                       f"{r['b'].ratio:.2f}x" for r in changed))
    steps = [r for r in c.rows if r["steps_a"] is not None or r["steps_b"] is not None]
    differ = [r for r in steps if r["steps_a"] != r["steps_b"]]
    steps_text = (f"Steps to the validation target were the same in {len(steps) - len(differ)} of "
                  f"{len(steps)} cells that ran in both and reached it in either"
                  + (": " + "; ".join(f"{r['cell']} {_steps_text(r['steps_a'])} against "
                                      f"{_steps_text(r['steps_b'])}" for r in differ)
                     if differ else "") + ".")
    alone = (f" {len(c.only_a)} cells ran in A only and {len(c.only_b)} in B only; "
             f"{len(c.failed)} failed in either." if c.only_a or c.only_b or c.failed else "")
    return (f"A = `{Path(c.a).name}` ({c.stack_a}), B = `{Path(c.b).name}` ({c.stack_b}), {where}. "
            f"Of {n} strategy ratios to `{c.relative_to}` (graphs/s, per dataset, model and "
            f"view), {len(changed)} changed beyond ±{c.margin:.0%}"
            + (f" ({moved})" if changed else "")
            + f", {same} stayed within it and {undecided} are undecided. {steps_text}{alone}")


def stacks_block(c: Comparison, command: str) -> str:
    """The stacks sentence between its markers, naming the command that wrote it."""
    return "\n".join([f"{STACKS_BEGIN}: made by `{command}` from the records; do not edit by hand "
                      f"-->", stacks_sentence(c), STACKS_END])


def update_stacks(page: Path | str, block: str) -> None:
    """Replace ``page``'s stacks block with ``block``."""
    replace_block(page, STACKS_BEGIN, STACKS_END, block, "stacks block")
