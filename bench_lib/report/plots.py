"""Figures (PNG and SVG) from records and planning artefacts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from bench_lib.report.tables import json_field as _json_field

__all__ = ["save_figure", "bar_figure", "memory_figure", "curves_figure", "sizes_figure",
           "capacity_figure",
           "ranks_figure", "curve_points"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_dir: Path, stem: str) -> list[Path]:
    """``stem``.png and ``stem``.svg in ``out_dir``; the SVG's ids are salted with ``stem`` and it
    carries no date, so that the same records give the same files."""
    import matplotlib

    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    if not fig.legends:  # figures with a figure-level legend lay themselves out
        fig.tight_layout()
    with matplotlib.rc_context({"svg.hashsalt": stem}):
        for p in paths:
            fig.savefig(p, dpi=110, metadata={"Date": None} if p.suffix == ".svg" else None)
    _plt().close(fig)
    return paths


def bar_figure(summaries: dict[str, dict], metrics: list[tuple[str, str]], title: str):
    """Grouped bars: one panel per metric, strategies on x, one bar per view.

    ``summaries``: view label -> strategy -> metric -> Estimate. Error bars
    are each estimate's interval (95% bootstrap for graphs/s, min-max over
    seeds otherwise).
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    views = list(summaries)
    strategies = list(dict.fromkeys(s for summary in summaries.values() for s in summary))
    x = np.arange(len(strategies))
    width = 0.8 / max(len(views), 1)
    for ax, (col, label) in zip(axes[0], metrics):
        for k, view in enumerate(views):
            ests = [summaries[view].get(s, {}).get(col) for s in strategies]
            vals = np.array([e.value if e is not None and e.ok else np.nan for e in ests])
            lo = np.array([e.lo if e is not None and e.ok else np.nan for e in ests])
            hi = np.array([e.hi if e is not None and e.ok else np.nan for e in ests])
            err = np.nan_to_num(np.vstack([vals - lo, hi - vals]), nan=0.0, posinf=0.0).clip(min=0)
            # a NaN value draws no bar
            ax.bar(x + k * width - 0.4 + width / 2, vals, width, yerr=err, capsize=2, label=view)
        ax.set_xticks(x, strategies, rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def memory_figure(summaries: dict[str, dict], title: str):
    """Real graphs/s against the throughput phase's RSS rise: one point per strategy (colour) and
    view (marker), y error bars the 95% bootstrap interval, x error bars min-max over seeds.

    ``summaries``: view label -> strategy -> metric -> Estimate."""
    from matplotlib.lines import Line2D

    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.6))
    strategies = list(dict.fromkeys(s for summary in summaries.values() for s in summary))
    cmap = plt.cm.tab10 if len(strategies) <= 10 else plt.cm.tab20
    colours = {s: cmap(k % cmap.N) for k, s in enumerate(strategies)}
    markers = dict(zip(summaries, itertools.cycle("osD^vP*X")))
    for view, summary in summaries.items():
        for strategy, est in summary.items():
            x, y = est["throughput_rss_mib"], est["graphs_per_s"]
            if not (x.ok and y.ok):
                continue
            ax.errorbar(x.value, y.value, xerr=[[max(x.value - x.lo, 0)], [max(x.hi - x.value, 0)]],
                        yerr=[[max(y.value - y.lo, 0)], [max(y.hi - y.value, 0)]],
                        fmt=markers[view], ms=6,
                        color=colours[strategy], ecolor=colours[strategy], elinewidth=0.9,
                        capsize=2, alpha=0.9)
    ax.set_xlabel("throughput RSS rise (MiB)")
    ax.set_ylabel("real graphs/s")
    ax.grid(alpha=0.3)
    handles = [Line2D([], [], ls="", marker="o", color=colours[s], label=s) for s in strategies]
    handles += [Line2D([], [], ls="", marker=markers[v], color="0.3", mfc="none",
                       label=v) for v in summaries]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1),
              frameon=False)
    ax.set_title(title + " (up and left is better)")
    return fig


def curves_figure(curves: dict[str, dict[str, list]], target: float | None, title: str,
                  time_label: str = "training wall time (s)", ylabel: str = "validation MAE",
                  log: bool = True):
    """The validation score (``ylabel``; a log axis when ``log``) against training wall time and
    against steps: one colour per strategy, one line style per fairness view, one thin line per
    seed, legend below."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    styles = ["-", "--", ":", "-."]
    strategies = list(dict.fromkeys(s for per in curves.values() for s in per))
    colours = {s: plt.cm.tab10(k % 10) for k, s in enumerate(strategies)}
    for k, (view, per_strategy) in enumerate(curves.items()):
        for strategy, seeds in per_strategy.items():
            for j, pts in enumerate(seeds):
                pts = np.asarray(pts, dtype=float)
                kw = {"ls": styles[k % 4], "color": colours[strategy], "lw": 0.9, "alpha": 0.8,
                      "label": f"{strategy} ({view}, {len(seeds)} "
                               f"seed{'s' if len(seeds) > 1 else ''})" if j == 0
                      else None}
                axes[0].plot(pts[:, 1], pts[:, 2], **kw)
                axes[1].plot(pts[:, 0], pts[:, 2], **kw)
    for ax, xlabel in zip(axes, (time_label, "training steps")):
        if target is not None:
            ax.axhline(target, color="k", lw=0.8, alpha=0.6)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle(title + " (every seed, one line each)")
    fig.tight_layout(rect=(0, 0.04 + 0.035 * ((len(labels) + 2) // 3), 1, 1))
    return fig


def sizes_figure(planning: dict, view: str, title: str):
    """Node-size histogram, then each strategy's per-batch node fill."""
    plt = _plt()
    fill = planning["fill"].get(view, {})
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].bar(planning["node_hist"]["sizes"], planning["node_hist"]["counts"], width=1.0)
    axes[0].set_xlabel("nodes per graph")
    axes[0].set_ylabel("graphs")
    for strategy, f in fill.items():
        bins = np.asarray(f["bins"])
        counts = np.asarray(f["node_fill_hist"], float)
        axes[1].step(bins[1:], counts / max(counts.sum(), 1), where="pre", label=strategy)
    axes[1].set_xlabel(f"node slots filled per batch ({view})")
    axes[1].set_ylabel("share of batches")
    axes[1].legend(fontsize=7)
    fig.suptitle(title)
    return fig


def capacity_figure(rows: list[dict], title: str):
    """Node and edge efficiency against pack capacity (planning only)."""
    plt = _plt()
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for strategy, g in df.groupby("strategy", sort=False):
        axes[0].plot(g.capacity, g.node_efficiency, "o-", label=strategy)
        axes[1].plot(g.capacity, g.edge_efficiency, "o-", label=strategy)
    for ax, what in zip(axes, ("node", "edge")):
        ax.set_xscale("log")
        ax.set_xlabel("pack / budget capacity (nodes)")
        ax.set_ylabel(f"{what} efficiency")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return fig


def ranks_figure(rows: list[dict], title: str):
    """Per strategy (and rank count): straggler share with the all-reduce's share stacked on it and
    the p90 ticked, and scaling efficiency with its range."""
    plt = _plt()
    labels = [r["strategy"] + (f" ({r['ranks']} ranks)" if len({x["ranks"] for x in rows}) > 1
                               else "")
              for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    share = np.array([r["straggler_share_mean"] for r in rows], dtype=float)
    allreduce = np.array([r["allreduce_share_mean"] for r in rows], dtype=float)
    axes[0].bar(x, share, color="tab:red", label="waiting for the slowest rank")
    axes[0].bar(x, allreduce, bottom=share, color="tab:gray", alpha=0.6,
                label="the all-reduce itself")
    axes[0].plot(x, [r["straggler_share_p90"] for r in rows], "k_", ms=14,
                 label="straggler share p90")
    axes[0].set_ylabel("share of the ranks' step time")
    axes[0].legend(fontsize=7)
    eff = np.array([r.get("efficiency", np.nan) for r in rows], dtype=float)
    lo = np.array([r.get("efficiency_lo", np.nan) for r in rows], dtype=float)
    hi = np.array([r.get("efficiency_hi", np.nan) for r in rows], dtype=float)
    axes[1].bar(x, eff, color="tab:blue")
    axes[1].errorbar(x, eff, yerr=[np.maximum(eff - lo, 0), np.maximum(hi - eff, 0)], fmt="none",
                     color="k",
                     capsize=3)
    axes[1].axhline(1.0, color="k", lw=0.8, alpha=0.6)
    axes[1].set_ylabel("scaling efficiency (N-rank / N x 1-rank graphs/s)")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curve_points(records: pd.DataFrame, with_compile: bool = False,
                 key: str = "strategy") -> dict[str, list[list]]:
    """strategy -> one validation curve ``[[step, train_s, val_mae], ...]`` per seed.

    ``with_compile``: ``train_s`` becomes the cell's compile seconds plus
    steps at its steady step time (what ``time_to_target_with_compile_s``
    counts), so that compiled and eager arms share one time axis."""
    out: dict[str, list] = {}
    for _, r in records.iterrows():
        curve = _json_field(r.get("curve"), None)
        if curve and with_compile:
            compile_s = float(r.get("compile_s")) if r.get("compile_s") == r.get("compile_s") and \
                r.get("compile_s") is not None else 0.0
            step_s = float(r.get("step_s"))
            curve = [[c[0], compile_s + c[0] * step_s, c[2]] for c in curve]
        if curve:
            out.setdefault(r[key], []).append(curve)
    return out
