"""The answer as a picture: each strategy against the leader, with its interval and its verdict.

One forest plot per dataset: a panel per model and view for real graphs/s (higher is better) and,
where training ran, one for steps to the target (lower is better). Each strategy is a point at its
ratio to the leader of that column (:func:`~bench_lib.report.tables.decide`: paired turns for
graphs/s, seeds for steps, family-wise intervals), a bar for its interval, the equivalence margin
shaded around 1, and the verdict word beside it. The same numbers are the small table under the
figure.
"""

from __future__ import annotations

import math

import numpy as np

from bench_lib.report import plots

__all__ = ["forest_rows", "forest_figure", "forest_panel", "forest_table", "COLUMNS"]

#: The columns a forest shows: (column, axis label, higher is better).
COLUMNS = (("graphs_per_s", "real graphs/s / the leader's", True),
           ("steps_to_target", "steps to target / the leader's", False))


def forest_rows(verdicts: dict, strategies: list[str],
                columns: tuple = COLUMNS) -> dict[str, list[dict]]:
    """col -> one row per strategy of ``strategies``: ``{strategy, ratio, lo, hi, word}`` (the
    leader at 1, word ``leader``; a strategy without a verdict, ``ratio`` NaN and word ``—``), for
    each of ``columns`` (:data:`COLUMNS`' form) that has a leader."""
    out = {}
    for col, _, _ in columns:
        lead, against = verdicts.get(col, (None, {}))
        if lead is None:
            continue
        rows = []
        for s in strategies:
            if s == lead:
                rows.append({"strategy": s, "ratio": 1.0, "lo": 1.0, "hi": 1.0, "word": "leader"})
                continue
            v = against.get(s)
            rows.append({"strategy": s, "ratio": v.ratio if v else math.nan,
                         "lo": v.lo if v else math.nan,
                         "hi": v.hi if v else math.nan, "word": v.word if v else "—"})
        out[col] = rows
    return out


_COLOURS = {"faster": "#1a7f37", "slower": "#cf222e", "equivalent": "#0969da",
            "undecided": "#8c959f",
            "leader": "#000000", "—": "#8c959f"}


def forest_figure(panels: dict[str, dict[str, list[dict]]], margin: float, title: str):
    """``panels``: ``"model, view"`` -> :func:`forest_rows`; one row of panels per model and view,
    one column per shown column."""
    plt = plots._plt()
    cols = [c for c in COLUMNS if any(c[0] in p for p in panels.values())]
    n_rows = len(panels)
    height = max(2.2, 0.32 * max(len(r) for p in panels.values() for r in p.values()) + 1.1)
    fig, axes = plt.subplots(n_rows, len(cols), figsize=(5.6 * len(cols), height * n_rows),
                             squeeze=False)
    for i, (label, panel) in enumerate(panels.items()):
        for j, (col, axis, _) in enumerate(cols):
            forest_panel(axes[i][j], panel.get(col, []), margin, axis, label)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return fig


def forest_panel(ax, rows: list[dict], margin: float, axis: str, label: str) -> None:
    """One panel of a forest plot on ``ax``: ``rows`` (:func:`forest_rows`' rows of one column) as
    points at their ratio to the leader with their intervals, the margin shaded around 1, each
    verdict's word beside its row (an empty panel: no axes)."""
    from matplotlib import ticker

    if not rows:
        ax.set_axis_off()
        return
    y = np.arange(len(rows))[::-1]
    ax.axvspan(1 - margin, 1 + margin, color="#0969da", alpha=0.08, lw=0)
    ax.axvline(1.0, color="#000000", lw=0.8)
    for yy, r in zip(y, rows):
        colour = _COLOURS.get(r["word"], "#8c959f")
        if r["ratio"] == r["ratio"]:
            lo, hi = r["lo"], r["hi"]
            if lo == lo and hi == hi and math.isfinite(lo) and math.isfinite(hi):
                ax.plot([lo, hi], [yy, yy], color=colour, lw=2)
            ax.plot([r["ratio"]], [yy], "o", color=colour, ms=5)
        ax.annotate(r["word"], (1.0, yy), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color=colour)
    ax.set_yticks(y, [r["strategy"] for r in rows], fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(axis, fontsize=8)
    ax.set_title(label, fontsize=9)
    ax.grid(axis="x", alpha=0.3, which="both")


def _cell(r: dict) -> str:
    if r["word"] == "leader":
        return "leader"
    if r["ratio"] != r["ratio"]:
        return "—"
    return f"{r['ratio']:.2f} [{r['lo']:.2f}-{r['hi']:.2f}] {r['word']}"


def forest_table(panels: dict[str, dict[str, list[dict]]]) -> str:
    """The forest's numbers: per model and view, each strategy's ratio to the leader [interval] and
    verdict."""
    cols = [c for c in COLUMNS if any(c[0] in p for p in panels.values())]
    lines = ["| model, view | strategy | " + " | ".join(axis for _, axis, _ in cols) + " |",
             "|---|---|" + "---:|" * len(cols)]
    for label, panel in panels.items():
        strategies = list(dict.fromkeys(r["strategy"] for rows in panel.values() for r in rows))
        for s in strategies:
            cells = []
            for col, _, _ in cols:
                row = next((r for r in panel.get(col, []) if r["strategy"] == s), None)
                cells.append("—" if row is None else _cell(row))
            lines.append(f"| {label} | `{s}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
