"""Markdown tables from a results directory's records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["latest", "summary_table", "to_markdown", "METRICS", "stats_table"]

#: (column, label, format, better) where better is "high", "low" or None.
METRICS = [
    ("graphs_per_s", "graphs/s", "{:,.0f}", "high"),
    ("padded_nodes_per_s", "node slots/s", "{:,.0f}", None),
    ("peak_rss_mib", "peak RSS MiB", "{:,.0f}", "low"),
    ("train_rss_mib", "train RSS MiB", "{:,.0f}", "low"),
    ("padding_mib_per_step", "padding MiB/step", "{:.3f}", "low"),
    ("node_efficiency", "node eff", "{:.3f}", "high"),
    ("edge_efficiency", "edge eff", "{:.3f}", "high"),
    ("graphs_per_step_mean", "graphs/step", "{:.1f}", None),
    ("batch_build_share", "build share", "{:.1%}", "low"),
    ("time_to_target_s", "time to target s", "{:.1f}", "low"),
    ("steps_to_target", "steps to target", "{:.0f}", "low"),
    ("best_val_mae", "best val MAE", "{:.3f}", "low"),
]


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """The last record of each cell (a re-run replaces an earlier failure)."""
    return df.drop_duplicates("cell_id", keep="last")


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: median over seeds of each metric, with min and max.

    ``graphs_per_s`` also folds in the repeat spread each record carries.
    """
    rows = []
    for strategy, g in df.groupby("strategy", sort=False):
        row = {"strategy": strategy, "n": len(g), "reached": f"{int(g.reached_target.fillna(False).astype(bool).sum())}/{len(g)}"}
        for col, *_ in METRICS:
            vals = pd.to_numeric(g[col], errors="coerce").dropna()
            row[col] = float(vals.median()) if len(vals) else np.nan
            lo = pd.to_numeric(g.get(f"{col}_min", g[col]), errors="coerce").min()
            hi = pd.to_numeric(g.get(f"{col}_max", g[col]), errors="coerce").max()
            row[f"{col}_lo"], row[f"{col}_hi"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(summary: pd.DataFrame) -> str:
    """Strategy x metric, ``median (min-max)`` where there is spread, best in bold."""
    cols = [m for m in METRICS if summary[m[0]].notna().any()]
    header = ["strategy"] + [label for _, label, _, _ in cols] + ["reached target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    best = {}
    for col, _, _, better in cols:
        vals = summary[col]
        if better and vals.notna().sum() > 1:
            best[col] = vals.max() if better == "high" else vals.min()
    for _, r in summary.iterrows():
        cells = [f"`{r.strategy}`"]
        for col, _, fmt, _ in cols:
            v = r[col]
            if pd.isna(v):
                cells.append("-")
                continue
            text = fmt.format(v)
            lo, hi = r[f"{col}_lo"], r[f"{col}_hi"]
            if pd.notna(lo) and pd.notna(hi) and hi > lo and col == "graphs_per_s":
                text += f" ({fmt.format(lo)}-{fmt.format(hi)})"
            if col in best and np.isclose(v, best[col]):
                text = f"**{text}**"
            cells.append(text)
        cells.append(r.reached)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stats_table(planning: dict) -> str:
    """One row per dataset: sizes, sparsity, and naive padding's efficiency."""
    from bench_lib.data.stats import format_stats

    return format_stats({name: d["stats"] for name, d in planning.items()})


def curve_points(records: pd.DataFrame) -> dict[str, list]:
    """strategy -> [[step, train_s, val_mae], ...] of the first seed's record."""
    out = {}
    for _, r in records.iterrows():
        if isinstance(r.get("curve"), str) and r["curve"] and r["strategy"] not in out:
            out[r["strategy"]] = json.loads(r["curve"])
    return out
