"""The answer in words, written from the summaries alone.

Every sentence here is made from records: which strategy leads in real
graphs per second and in steps to the target, every other strategy's verdict
against it (faster, slower, equivalent or undecided: :mod:`bench_lib.verdicts`), which
strategies missed the target in how many seeds, and whether the view was
fair (the spread of slots per step).
"""

from __future__ import annotations

import math

from bench_lib.schema import CONTENDED_SHARE
from bench_lib.report.stats import overlaps
from bench_lib.report.tables import best, fmt_estimate
from bench_lib.verdicts import seed_statistic

__all__ = ["throughput_sentence", "target_sentence", "fairness_sentence", "capacity_sentence",
           "one_graph_sentence",
           "answer_lines"]


def _ci(e) -> str:
    return fmt_estimate(e, "{:,.0f}", with_interval=True)


def _against(lead: str, verdicts: dict, what: str = "") -> str:
    """``; against it, `pad` 12% slower [8%-16%], `dynamic` equivalent within ±5% (...)``, grouped
    by word."""
    order = {"slower": 0, "equivalent": 1, "undecided": 2, "faster": 3}
    parts = [f"`{s}` {v.text(what)}" for s, v in sorted(verdicts.items(),
                                                        key=lambda kv: order[kv[1].word])]
    return f"; against `{lead}`: " + "; ".join(parts) if parts else ""


def throughput_sentence(summary, verdicts: dict | None = None) -> str:
    """The leader in real graphs/s, and every other strategy's verdict against it (``verdicts``:
    :func:`~bench_lib.report.tables.decide`); without verdicts (no windows recorded), interval
    overlaps."""
    lead, second, clear = best(summary, "graphs_per_s", "high", verdicts)
    if lead is None:
        return "No throughput was measured."
    e = summary[lead]["graphs_per_s"]
    text = f"Most real graphs/s: `{lead}`, {_ci(e)}"
    if second is None:
        return text + "."
    vs = (verdicts or {}).get("graphs_per_s", (None, {}))
    if vs[0] == lead and vs[1]:
        head = " (ahead of every other strategy)" if clear else ""
        return text + head + _against(lead, vs[1]) + "."
    if clear:
        return text + (f", ahead of `{second}` ({_ci(summary[second]['graphs_per_s'])}); the "
                       f"intervals do not overlap.")
    ties = [s for s in summary if s != lead and summary[s]["graphs_per_s"].ok
            and overlaps(summary[s]["graphs_per_s"], e)]
    if not ties:  # not clear, yet nothing overlaps: too few repeats and seeds for an interval
        return text + ((f", then `{second}` ({_ci(summary[second]['graphs_per_s'])}); the "
                        f"intervals do not overlap, but too few seeds ran to decide."))
    return text + f"; its interval overlaps that of {', '.join(f'`{s}`' for s in ties)}: undecided."


def target_sentence(summary, goal, col: str = "steps_to_target",
                    verdicts: dict | None = None) -> str | None:
    """Who reaches the target first: in steps (``col="steps_to_target"``) or in seconds of training
    at the measured step time (``"time_to_target_s"``), with every other strategy's verdict against
    the leader over seeds (``verdicts``); misses said. ``goal``: what the target is, as text
    (``validation ROC-AUC 0.75``), or a number (a validation MAE)."""
    ests = {s: e[col] for s, e in summary.items() if e[col].n}
    if not ests:
        return None
    lead, second, clear = best(summary, col, "low", verdicts)
    if isinstance(goal, str):
        what = goal
    else:
        what = f"validation MAE {goal:g}" if goal == goal and goal is not None else "the target"
    n = max(e.n for e in ests.values())
    if col == "steps_to_target":
        fmt, first, unit = "{:,.0f}", f"Fewest steps to {what} ({seed_statistic(n)})", "steps"
    else:
        fmt, first, unit = "{:.1f}", (f"Least time to {what} (s: steps x the step time measured in "
                                      f"the timed turns; {seed_statistic(n)})"), "time"
    if lead is None:
        if col != "steps_to_target":
            return None  # the steps sentence says it
        text = f"No strategy reached {what} in at least half of its seeds."
    else:
        text = f"{first}: `{lead}`, {fmt_estimate(ests[lead], fmt)}"
        vs = (verdicts or {}).get(col, (None, {}))
        if second is None:
            text += "."
        elif vs[0] == lead and vs[1]:
            text += _against(lead, vs[1], unit) + "."
        elif clear:
            text += f", ahead of `{second}` ({fmt_estimate(ests[second], fmt)})."
        else:
            ties = [s for s in ests if s != lead and ests[s].ok and overlaps(ests[s], ests[lead])]
            tied = ", ".join(f"`{s}`" for s in ties)
            text += (f"; its range overlaps that of {tied}: undecided." if ties else
                     f", then `{second}` ({fmt_estimate(ests[second], fmt)}); too few seeds to "
                     f"decide.")
    missed = [f"`{s}` in {e.n - e.k} of {e.n}" for s, e in ests.items() if e.k < e.n]
    if missed and col == "steps_to_target":
        text += (" Did not reach it (step budget, safety limit or a failed cell): "
                 + ", ".join(missed) + " seed(s).")
    return text


def fairness_sentence(summary, view: str) -> str | None:
    """How equal the slots per step were (equal-padded-budget only)."""
    if view != "equal-padded-budget":
        return None
    parts = []
    for col, what in (("node_slots_per_step", "node"), ("edge_slots_per_step", "edge")):
        vals = {s: e[col].value for s, e in summary.items() if e[col].ok}
        if not vals:
            continue
        lo, hi = min(vals.values()), max(vals.values())
        parts.append(f"{what} slots per step {lo:,.0f}-{hi:,.0f} ({hi / lo - 1:.1%} apart)")
    if not parts:
        return None
    return "Budget check: " + ", ".join(parts) + " across strategies (means over the first epoch)."


def capacity_sentence(dataset: str, sweep: list[dict]) -> str | None:
    """LPFHP against greedy fill at the smallest, a middle and the largest capacity (planning
    only)."""
    by = {}
    for row in sweep:
        by.setdefault(row["strategy"], {})[row["capacity"]] = row["node_efficiency"]
    if "pack-lpfhp" not in by or "dynamic-budget" not in by:
        return None
    caps = sorted(by["pack-lpfhp"])
    shown = [caps[0], caps[len(caps) // 2], caps[-1]]

    def at(name: str) -> str:
        return ", ".join(f"{by[name][c]:.1%} at {c:,}" for c in shown)

    return (f"On {dataset}, from planning alone (no edge capacity), node slots filled at pack or "
            f"budget capacities of {shown[0]:,} to {shown[-1]:,} nodes: LPFHP {at('pack-lpfhp')}; "
            f"a greedy fill to a budget (`dynamic-budget`) {at('dynamic-budget')}.")


def one_graph_sentence(summary) -> str | None:
    """The strategies whose budget holds one graph per step (a dataset with a few large graphs under
    a small node budget): their throughput says little about batching, and the reader should
    know."""
    alone = [(s, e["node_efficiency"].value) for s, e in summary.items()
             if e["graphs_per_step_mean"].ok and e["graphs_per_step_mean"].value <= 1.0]
    if not alone:
        return None
    return ("Reduced to one graph per step: " + ", ".join(
        f"`{s}`" + (f" (node efficiency {eff:.2f})" if eff == eff else "") for s, eff in alone)
        + "; the budget holds a single graph of the largest size, so these strategies do not batch "
          "at all here (raise node_slots for a comparison of batching).")


def answer_lines(summary, view: str, goal, interleaved: bool = True,
                 verdicts: dict | None = None) -> list[str]:
    """The sentences for one dataset, model and view, in reading order; ``goal`` as in
    :func:`target_sentence`, ``verdicts`` from :func:`~bench_lib.report.tables.decide`."""
    lines = [throughput_sentence(summary, verdicts),
             target_sentence(summary, goal, verdicts=verdicts),
             target_sentence(summary, goal, "time_to_target_s", verdicts),
             fairness_sentence(summary, view),
             one_graph_sentence(summary)]
    failed = [f"`{s}` {e['cells_ok'].n - e['cells_ok'].k} of {e['cells_ok'].n}"
              for s, e in summary.items()
              if e["cells_ok"].k < e["cells_ok"].n]
    if failed:
        lines.append("Cells that failed (see *Cells to look at*; a failed cell counts as a miss "
                     "above): " + ", ".join(failed) + ".")
    contended = [(s, e["contended_windows"].value,
                  e["windows_timed"].value) for s, e in summary.items()
                 if e["contended_windows"].ok and e["contended_windows"].value > 0]
    if contended:
        how = ("the cells took turns window by window, so other work on the machine fell on every "
               "strategy alike" if interleaved
               else "the cells ran one after another, so such load may favour some strategies")
        lines.append(f"Timed windows in which a cell got less than {CONTENDED_SHARE:.0%} of a CPU "
                     f"per thread: "
                     + ", ".join(f"`{s}` {c:.0f} of {n:.0f}" for s, c, n in contended)
                     + f"; {how}.")
    return [x for x in lines if x and not (isinstance(x, float) and math.isnan(x))]
