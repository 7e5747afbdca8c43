"""The report's data-parallel section: straggler wait and scaling efficiency per strategy.

Read from records alone. For each strategy of a dataset, model and view, the
N-rank cell is set against the same strategy's one-process cell of the same
suite run (eager, built inline):

- scaling efficiency: graphs/s at N ranks / (N x graphs/s at 1 rank), from
  the medians over every timed repeat of every seed; its range pairs the
  slowest N-rank repeat with the fastest 1-rank one and the other way round;
- straggler share: the ranks' wait for the slowest rank over their step
  time (``straggler_share_mean``, with its p90 over steps), median over seeds;
- all-reduce share: the all-reduce's own time, the same way;
- node imbalance: the largest rank's real nodes over the ranks' mean per step.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd

from bench_lib.report import plots
from bench_lib.report.names import display_name, file_stem
from bench_lib.report.stats import censored_median
from bench_lib.report.tables import truthy

__all__ = ["ranks_rows", "ranks_section", "RANKS"]

#: The data-parallel metrics this section shows: (metric, label, format) of its per-rank table
#: (the summary table shows the shares and imbalances).
RANKS = [
    ("straggler_share_mean", "straggler share", "{:.3f}"),
    ("straggler_share_p90", "p90", "{:.3f}"),
    ("allreduce_share_mean", "all-reduce share", "{:.3f}"),
    ("node_imbalance", "node imbalance", "{:.3f}"),
    ("edge_imbalance", "edge imbalance", "{:.3f}"),
    ("global_steps_timed", "global steps timed", "{:,.0f}"),
    ("graphs_per_global_step", "graphs/global step", "{:.1f}"),
    ("rank_build_s", "build ms per rank", "ms"),
    ("rank_compute_s", "compute ms per rank", "ms"),
    ("rank_wait_s", "wait ms per rank", "ms"),
    ("rank_real_nodes_per_step", "real nodes/step per rank", "{:.0f}"),
    ("rank_real_edges_per_step", "real edges/step per rank", "{:.0f}"),
    ("rank_peak_rss_mib", "peak RSS MiB per rank", "{:.0f}"),
]


def _repeats(rows: pd.DataFrame) -> list[float]:
    """Every timed repeat's graphs/s over the rows (seeds)."""
    out: list[float] = []
    for v, rate in zip(rows.get("repeat_graphs_per_s", []), rows.get("graphs_per_s", [])):
        vals = json.loads(v) if isinstance(v, str) and v.startswith("[") else []
        out += [float(x) for x in vals] or ([float(rate)] if rate == rate else [])
    return out


def _median(rows: pd.DataFrame, col: str) -> float:
    vals = ([float(x) for x in pd.to_numeric(rows[col], errors="coerce").dropna()] if col in rows
            else [])
    return statistics.median(vals) if vals else float("nan")


def _censored(cells: pd.DataFrame, col: str) -> float:
    """A time to target over the seeds of ``cells`` (every cell of one arm, failed ones too), as the
    main tables count it: a seed that missed the target, or whose cell failed, is censored, never
    dropped (:func:`~bench_lib.report.stats.censored_median`; NaN when fewer than half reached
    it)."""
    if col not in cells or not len(cells):
        return float("nan")
    reached = [str(s) == "ok" and truthy(r)
               for s, r in zip(cells["status"], cells.get("reached_target", [False] * len(cells)))]
    return censored_median(pd.to_numeric(cells[col], errors="coerce").tolist(), reached).value


def ranks_rows(g: pd.DataFrame) -> list[dict]:
    """One row per (strategy, N > 1) of the records ``g`` (one dataset, model and view;
    ``with_arms`` applied), with the strategy's one-rank cells beside it."""
    ok = g[g.status == "ok"]
    ranks = pd.to_numeric(ok["ranks"], errors="coerce").fillna(1).astype(int) if "ranks" in ok \
        else pd.Series(1, index=ok.index)
    plain = (ok["execution"] == "eager") & (pd.to_numeric(ok.get("prefetch", 0),
                                                          errors="coerce").fillna(0) == 0)
    out = []
    for strategy in dict.fromkeys(g["strategy_name"]):
        mine = plain & (ok["strategy_name"] == strategy)
        one = ok[mine & (ranks == 1)]
        for n in sorted(set(ranks[mine & (ranks > 1)])):
            many = ok[mine & (ranks == n)]
            cells = g[(g["strategy_name"] == strategy)
                      & (pd.to_numeric(g.get("ranks", 1), errors="coerce") == n)]
            r1, rn = _repeats(one), _repeats(many)
            clocks = {str(c) for c in pd.concat([one,
                                                 many]).get("step_clock",
                                                            pd.Series(dtype=str)).dropna()}
            row = {"strategy": strategy, "ranks": n, "cells_ok": f"{len(many)}/{len(cells)}",
                   "graphs_per_s_1": statistics.median(r1) if r1 else float("nan"),
                   "graphs_per_s_n": statistics.median(rn) if rn else float("nan")}
            row["clocks"] = "/".join(sorted(clocks))
            # rates on different clocks (CPU vs wall) do not compare
            if r1 and rn and len(clocks) <= 1:
                row["efficiency"] = row["graphs_per_s_n"] / (n * row["graphs_per_s_1"])
                row["efficiency_lo"] = min(rn) / (n * max(r1))
                row["efficiency_hi"] = max(rn) / (n * min(r1))
            for col in ("straggler_share_mean", "straggler_share_p90", "allreduce_share_mean",
                        "node_imbalance",
                        "edge_imbalance"):
                row[col] = _median(many, col)
            ones = g[(g["strategy_name"] == strategy)
                     & (pd.to_numeric(g.get("ranks", 1), errors="coerce").fillna(1) == 1)
                     & (g["execution"] == "eager")
                     & (pd.to_numeric(g.get("prefetch", 0), errors="coerce").fillna(0) == 0)]
            for col in ("steps_to_target", "time_to_target_s"):
                row[f"{col}_1"], row[f"{col}_n"] = _censored(ones, col), _censored(cells, col)
            row["reached"] = (f"{int(one.reached_target.map(truthy).sum())}/{len(one)}",
                              f"{int(many.reached_target.map(truthy).sum())}/{len(many)}") \
                if "reached_target" in ok else ("-", "-")
            out.append(row)
    return out


def _f(value: float, fmt: str) -> str:
    return "-" if value != value else fmt.format(value)


def _table(rows: list[dict]) -> str:
    head = ["strategy", "ranks", "cells ok", "graphs/s 1 rank", "graphs/s N ranks",
            "scaling eff [range]",
            "straggler share (p90)", "all-reduce share", "node imbalance", "steps to target 1 / N",
            "time to target s 1 / N"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1))
             + "|"]
    for r in rows:
        eff = (("- (clocks differ: " + r["clocks"] + ")" if "/" in r["clocks"] else "-")
               if "efficiency" not in r
               else f"{r['efficiency']:.2f} [{r['efficiency_lo']:.2f}-{r['efficiency_hi']:.2f}]")
        steps = f"{_f(r['steps_to_target_1'], '{:,.0f}')} / {_f(r['steps_to_target_n'], '{:,.0f}')}"
        times = f"{_f(r['time_to_target_s_1'], '{:.1f}')} / {_f(r['time_to_target_s_n'], '{:.1f}')}"
        if r["reached"] != ("-", "-"):
            steps += f" (reached {r['reached'][0]} / {r['reached'][1]})"
        lines.append("| " + " | ".join([
            f"`{r['strategy']}`", str(r["ranks"]), r["cells_ok"],
            _f(r["graphs_per_s_1"], "{:,.0f}"), _f(r["graphs_per_s_n"], "{:,.0f}"), eff,
            f"{_f(r['straggler_share_mean'], '{:.3f}')} ({_f(r['straggler_share_p90'], '{:.3f}')})",
            _f(r["allreduce_share_mean"], "{:.3f}"), _f(r["node_imbalance"], "{:.3f}"), steps,
            times]) + " |")
    return "\n".join(lines)


def _rank_value(value, fmt: str) -> str:
    """A record's value: a number, or a per-rank JSON list joined with slashes."""
    vals = json.loads(value) if isinstance(value, str) and value.startswith("[") else [value]
    out = []
    for v in vals:
        try:
            v = float(v)
        except (TypeError, ValueError):
            return "-"
        out.append("-" if v != v else f"{v * 1e3:.1f}" if fmt == "ms" else fmt.format(v))
    return " / ".join(out)


def _details(g: pd.DataFrame) -> str:
    """Every data-parallel cell's readings, one row per cell (seed), per-rank values
    slash-separated."""
    many = g[(g.status == "ok") & (pd.to_numeric(g["ranks"], errors="coerce").fillna(1) > 1)]
    cols = [c for c in RANKS if c[0] in many]
    head = ["cell", "seed"] + [label for _, label, _ in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1))
             + "|"]
    for _, r in many.iterrows():
        lines.append("| " + " | ".join([f"`{r['strategy']}`", str(r["seed"])]
                                       + [_rank_value(r[c], fmt) for c, _, fmt in cols]) + " |")
    return "\n".join(lines)


def _sentence(rows: list[dict], n: int) -> str:
    """Each strategy's straggler share and efficiency at ``n`` ranks, and whether the efficiencies
    separate."""
    at = [r for r in rows if r["ranks"] == n and "efficiency" in r]
    if not at:
        return ""
    parts = [f"`{r['strategy']}` straggler share {r['straggler_share_mean']:.3f}, efficiency "
             f"{r['efficiency']:.2f}"
             for r in sorted(at, key=lambda r: r["straggler_share_mean"])]
    text = f"At {n} ranks (lowest straggler share first): " + "; ".join(parts) + "."
    ranked = sorted(at, key=lambda r: -r["efficiency"])
    if len(ranked) > 1:
        a, b = ranked[0], ranked[1]
        clear = a["efficiency_lo"] > b["efficiency_hi"]
        text += ((f" The highest efficiency, `{a['strategy']}`'s, is clear of the runner-up "
                  f"`{b['strategy']}`'s (their ranges do not overlap).") if clear else
                 f" The highest efficiency (`{a['strategy']}`) and the runner-up's "
                 f"(`{b['strategy']}`) ranges overlap: these runs do not rank them.")
    return text


def ranks_section(res, out: Path) -> list[str]:
    """The data-parallel section (when any cell ran with ranks > 1)."""
    ran = res.ran
    if "ranks" not in ran or not (pd.to_numeric(ran["ranks"], errors="coerce").fillna(1) > 1).any():
        return []
    env = res.environment or {}
    machine = (f"one machine with {env.get('cpu_count', '?')} CPUs "
               f"({env.get('cpu', 'unknown CPU')})"
               + (f" and a {env['gpu']} GPU" if env.get("gpu") else ""))
    lines = ["## Data-parallel steps", "",
             f"Every strategy at 1 rank and at N ranks (`torch.distributed.run`, "
             f"`DistributedDataParallel`), on {machine}. A global step trains one batch per rank, "
             f"dealt round-robin from the same plan. **The ranks share one machine: the gradient "
             f"all-reduce goes through its memory, not a network, so this measures load balance "
             f"(how long ranks wait for the slowest), not interconnect speed.** Straggler share: "
             f"the ranks' wait for the slowest rank over their step time (build, compute, wait), "
             f"mean over timed steps, p90 in brackets; all-reduce share: the all-reduce's own time "
             f"the same way. Scaling efficiency: graphs/s at N ranks / (N x graphs/s at 1 rank), "
             f"both measured in this run, in the same interleaved windows; its range pairs the "
             f"slowest repeat of one side with the fastest of the other. Steps to target count "
             f"global steps (N batches each).", ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            rows = ranks_rows(g)
            if not rows:
                continue
            lines += [f"### {display_name(dataset)}, `{model}`, {view}", "", _table(rows), "",
                      "Per rank (rank 0 / rank 1 / ...), mean per timed global step:", "",
                      _details(g), ""]
            for n in sorted({r["ranks"] for r in rows}):
                sentence = _sentence(rows, n)
                if sentence:
                    lines += [sentence, ""]
            stem = f"{file_stem(dataset)}_{model}_{view}_ranks"
            plots.save_figure(plots.ranks_figure(rows,
                                                 f"{display_name(dataset)}, {model}: data-parallel "
                                                 f"steps"),
                              out, stem)
            lines += [f"![straggler share and scaling efficiency per strategy]({stem}.png)", "",
                      "Left: straggler share per strategy (bar: mean over steps; tick: p90) with "
                      "the all-reduce's own share stacked on it, no error bars. Right: scaling "
                      "efficiency (bar); error bars: its range (the slowest N-rank repeat against "
                      "the fastest 1-rank one, and the other way round); 1 is perfect scaling.", ""]
    return lines
