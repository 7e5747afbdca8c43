"""The answer at a glance: who leads each dataset and model, and by how much, in a screen.

Two tables of the same shape (a row per strategy, a column per dataset and model) in one fairness
view (:data:`VIEW`, equal padded budget: the same node and edge slots per step): real graphs/s, then
time to the target. A cell is the verdict against its column's leader
(:func:`~bench_lib.report.tables.decide`) in a few characters: the leader's own value in bold,
``-9%`` decided slower (``+9%`` more time), ``≈`` equivalent within the margin, ``?`` undecided.
Then one takeaway line per dataset and a forest plot of the same verdicts. The README's results
block and the top of every report are these lines; the sentences, the per-view tables and how it
was measured follow in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench_lib.report import plots
from bench_lib.report.datasets import goal_text
from bench_lib.report.forest import forest_panel, forest_rows
from bench_lib.report.names import display_name, wrap_lines
from bench_lib.report.results import Results
from bench_lib.report.tables import best, decide, summarise
from bench_lib.strategies.budget import VIEWS

__all__ = ["VIEW", "WIDTH", "Column", "glance_columns", "glance_cell", "glance_table",
           "takeaway", "glance_figure", "glance_lines"]

#: The view the glance shows first: every strategy gets the same node and edge slots per step.
VIEW = "equal-padded-budget"
#: The longest line the glance writes (tables aside, which stay shorter).
WIDTH = 120
#: The glance's tables: (column of :func:`~bench_lib.report.tables.decide`, first header cell,
#: higher is better).
METRICS = (("graphs_per_s", "real graphs/s", True),
           ("time_to_target_s", "time to target, s", False))
#: The glance's forest columns (:func:`~bench_lib.report.forest.forest_rows`' form).
FOREST = (("graphs_per_s", "real graphs/s / the leader's", True),
          ("time_to_target_s", "time to target / the leader's", False))
_HIGHER = {col: higher for col, _, higher in METRICS}


@dataclass(frozen=True)
class Column:
    """One dataset and model in the glance's view: its records, summary and verdicts."""

    dataset: str
    model: str
    view: str
    records: pd.DataFrame
    summary: dict
    verdicts: dict

    @property
    def label(self) -> str:
        return f"{display_name(self.dataset)} {self.model}"

    def clear(self, col: str) -> bool:
        """Whether ``col``'s leader is decided ahead of every other strategy (the report's rule for
        bold, :func:`~bench_lib.report.tables.best`)."""
        better = "high" if _HIGHER[col] else "low"
        return best(self.summary, col, better, self.verdicts)[2]


def glance_columns(res: Results) -> list[Column]:
    """A :class:`Column` per dataset and model that ran in :data:`VIEW`, or, where no cell did, in
    the first view that ran (none: no cell ran)."""
    tables = [(dataset, model, view, g) for dataset in res.datasets()
              for model, view, g in res.groups(dataset)]
    ran = [v for v in VIEWS if any(view == v for _, _, view, _ in tables)]
    shown = VIEW if VIEW in ran else next(iter(ran), None)
    return [Column(dataset, model, view, g, summary,
                   decide(g, summary, res.margin, res.interleaved))
            for dataset, model, view, g in tables if view == shown
            for summary in [summarise(g)]]


def _value(value: float, col: str) -> str:
    return f"{value:,.0f}" if col == "graphs_per_s" else f"{value:,.1f}" if value < 100 else \
        f"{value:,.0f}"


def glance_cell(column: Column, strategy: str, col: str) -> str:
    """``strategy``'s cell in ``column`` for ``col``: the leader's value (in bold where it is
    decided ahead of every other strategy), else its verdict against the leader: ``-9%``/``+9%``
    decided (the ratio less 1, whichever way), ``≈`` equivalent, ``?`` undecided; ``·`` it did not
    run in this view, ``failed`` no cell of it ran to the end, ``missed`` fewer than half of its
    seeds reached the target, ``–`` no verdict."""
    est = column.summary.get(strategy)
    if est is None:
        return "·"
    if est["cells_ok"].k == 0:
        return "failed"
    lead, against = column.verdicts.get(col, (None, {}))
    if strategy == lead:
        value = _value(est[col].value, col)
        return f"**{value}**" if column.clear(col) else value
    if not est[col].ok:
        return "missed" if est[col].kind == "censored" else "–"
    v = against.get(strategy)
    if v is None:
        return "–"
    if v.word == "equivalent":
        return "≈"
    if v.word == "undecided":
        return "?"
    return f"{v.ratio - 1:+.0%}"


def _strategies(columns: list[Column], order: list[str]) -> list[str]:
    seen = dict.fromkeys(s for c in columns for s in c.summary)
    return [s for s in order if s in seen] + [s for s in seen if s not in order]


def glance_table(columns: list[Column], col: str, first: str, order: list[str]) -> str:
    """The Markdown table of ``col``: a row per strategy (in ``order``, then any other), a column
    per :class:`Column`."""
    lines = [f"| {first} | " + " | ".join(c.label for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for s in _strategies(columns, order):
        lines.append(f"| `{s}` | " + " | ".join(glance_cell(c, s, col) for c in columns) + " |")
    return "\n".join(lines)


def _behind(columns: list[Column], col: str) -> list[tuple[str, list[float]]]:
    """The strategies decided slower than the leader in every one of ``columns``, with their
    ratios, the furthest behind first."""
    out = []
    for s in _strategies(columns, []):
        ratios = []
        for c in columns:
            v = c.verdicts.get(col, (None, {}))[1].get(s)
            ratios.append(v.ratio if v is not None and v.word == "slower" else math.nan)
        if all(r == r for r in ratios):
            out.append((s, ratios))
    return sorted(out, key=lambda item: min(item[1]))


def _range(ratios: list[float]) -> str:
    lo, hi = min(ratios) - 1, max(ratios) - 1
    same = f"{lo:+.0%}" == f"{hi:+.0%}"
    return f"{lo:+.0%}" if same else f"{lo:+.0%} to {hi:+.0%}"


def _leads(columns: list[Column], col: str) -> str | None:
    leads = [c.verdicts.get(col, (None, {}))[0] for c in columns]
    if not any(leads):
        return None
    if len(set(leads)) == 1:
        return f"`{leads[0]}`"
    return ", ".join(f"`{lead}` ({c.model})" for lead, c in zip(leads, columns) if lead)


def takeaway(dataset: str, columns: list[Column], width: int = WIDTH) -> str:
    """One line (at most ``width`` characters) for ``dataset``: who leads real graphs/s (and
    whether it is decided ahead of every other), the strategies decided slower in every model
    (furthest behind first), who leads time to target, as many of these as fit."""
    cols = [c for c in columns if c.dataset == dataset]
    line = f"- **{display_name(dataset)}** ({', '.join(c.model for c in cols)}):"
    phrases = []
    for col, what in (("graphs_per_s", "most graphs/s"), ("time_to_target_s",
                                                         "least time to target")):
        lead = _leads(cols, col)
        if lead:
            phrases.append(f"{what} {lead}" + ("" if all(c.clear(col) for c in cols)
                                               else " (not decided ahead)"))
    slower = [f"`{s}` {_range(r)}" for s, r in _behind(cols, "graphs_per_s")]

    def render(shown: list[str]) -> str:
        behind = [p for p in slower if p in shown]
        first = [p for p in phrases[:1] if p in shown]
        parts = first + ([f"slower in graphs/s {', '.join(behind)}"] if behind else []) + [
            p for p in phrases[1:] if p in shown]
        return f"{line} {'; '.join(parts)}." if parts else f"{line} no verdict."

    shown: list[str] = []
    for phrase in phrases[:1] + slower[:1] + phrases[1:] + slower[1:]:
        if len(render(shown + [phrase])) <= width:
            shown.append(phrase)
    return render(shown)


def glance_figure(columns: list[Column], margin: float, out: Path, order: list[str] = (),
                  stem: str = "glance_forest"):
    """The glance's forest plot (:func:`~bench_lib.report.forest.forest_panel`): a panel per column
    and metric, real graphs/s on top, time to target below; saved as ``stem`` (PNG and SVG) in
    ``out``; the strategies in ``order`` (then any other) in every panel."""
    plt = plots._plt()
    rows = {c.label: forest_rows(c.verdicts, _strategies([c], list(order)), FOREST)
            for c in columns}
    shown = [m for m in FOREST if any(m[0] in r for r in rows.values())]
    if not shown:  # no column has a leader (every cell failed): no figure
        return False
    tall = max((len(r) for p in rows.values() for r in p.values()), default=1)
    fig, axes = plt.subplots(len(shown), len(columns), squeeze=False,
                             figsize=(4.2 * len(columns), (0.26 * tall + 1.1) * len(shown)))
    for i, (col, axis, _) in enumerate(shown):
        for j, c in enumerate(columns):
            forest_panel(axes[i][j], rows[c.label].get(col, []), margin, axis, c.label)
    fig.tight_layout(rect=(0, 0, 0.95, 1))
    plots.save_figure(fig, out, stem)
    return True


def glance_lines(res: Results, out: Path | None, image: str | None,
                 intro: str = "") -> list[str]:
    """The glance as Markdown lines: ``intro`` and a legend in one paragraph, the tables, a takeaway
    per dataset and (with ``image``) the forest plot linked as ``image``, saved in ``out`` when
    given. Empty when no cell ran."""
    columns = glance_columns(res)
    if not columns:
        return []
    view = columns[0].view
    order = list(res.config.get("strategies") or [])
    datasets = list(dict.fromkeys(c.dataset for c in columns))
    goals = "; ".join(f"{display_name(d)} {goal}"
                      for d in datasets
                      for goal in [goal_text(pd.concat([c.records for c in columns
                                                        if c.dataset == d]))] if goal)
    legend = (f"View {view}; each column's leader with its value ({_machine(res)}), bold where "
              f"decided ahead of all; -9%/+9%: a decided difference from it; ≈ within "
              f"±{res.margin:.0%}; ? undecided; · not run; missed: the target not reached by half "
              f"the seeds.")
    lines = wrap_lines(" ".join(x for x in (intro, legend, f"Targets: {goals}." if goals else "")
                                if x), WIDTH) + [""]
    for col, first, _ in METRICS:  # graphs/s always (a failed cell says so), time where trained
        if col == "graphs_per_s" or any(c.verdicts.get(col, (None, {}))[0] for c in columns):
            lines += [*glance_table(columns, col, first, order).splitlines(), ""]
    lines += [takeaway(d, columns) for d in datasets]
    lines += [f"- **{display_name(d)}**: no cell in the {view} view (the report shows its other "
              f"view)." for d in res.datasets() if d not in datasets]
    drawn = any(c.verdicts.get(col, (None, {}))[0] for c in columns for col, _, _ in FOREST)
    if out is not None and drawn:
        glance_figure(columns, res.margin, Path(out), order)
    if image is not None and drawn:
        lines += ["", f"![Each strategy against its column's leader]({image})"]
    if out is not None and image is not None and drawn:  # the report's caption (the README: none)
        lines += ["", *wrap_lines(f"Each strategy's real graphs/s and time to target as a ratio "
                                  f"to its column's leader (log scale); error bars: the interval "
                                  f"its verdict rests on (paired turns, or seeds with misses "
                                  f"censored, at the table's family-wise 95%); the band is the "
                                  f"equivalence margin (±{res.margin:.0%}).", WIDTH)]
    return lines


def _machine(res: Results) -> str:
    env = res.environment
    gpu = env.get("gpu")
    return (f"{env.get('cpu', '?')}, {env.get('cpu_count', '?')} CPUs" + (f", {gpu}" if gpu else "")
            + "; this machine's numbers")
