"""Pad or mark dynamic? One table over a compile-routes run's records: for each dataset, model and
view, every arm (strategy and route) with its compiles, compile seconds from a cold and a warm
cache, steady graphs/s against its own eager arm, the steps that repay compiling, and the suite's
verdict against the table's leader.

``python -m bench_lib.report RESULTS --routes PAGE`` writes it between the markers
``<!-- routes:begin`` and ``<!-- routes:end -->`` of ``PAGE`` (``docs/compile.md``); the report's
compiled-steps section shows the same table when its run compared more than one compile route.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench_lib.report.names import display_name, replace_block
from bench_lib.report.results import Results
from bench_lib.report.stats import Estimate
from bench_lib.report.tables import DECIDED, decide, fill_untimed, summarise

__all__ = ["break_even", "routes_table", "routes_block", "update_routes", "BEGIN", "END"]

BEGIN, END = "<!-- routes:begin", "<!-- routes:end -->"


def _arm_key(rows: pd.DataFrame, arm: str) -> tuple:
    """What an arm shares with its eager arm: the strategy, its prefetch and its ranks."""
    def number(col: str, default: int) -> int:
        value = pd.to_numeric(rows.at[arm, col], errors="coerce") if col in rows else None
        return default if value is None or value != value else int(value)

    return rows.at[arm, "strategy_name"], number("prefetch", 0), number("ranks", 1)


def break_even(g: pd.DataFrame, summary: dict[str, dict[str, Estimate]]) -> dict[str, list[str]]:
    """Each arm's steps until its compile seconds are repaid by steps faster than its eager arm in
    the same table (the same strategy, prefetch and ranks; median compile seconds over the step
    time saved, from a cold cache and from a warm one): ``{arm: [cold, warm]}`` as text, ``never``
    where the compiled step is not faster, ``-`` for an eager arm, one without its eager arm or
    without a step time."""
    arms = g.drop_duplicates("strategy").set_index("strategy")
    eager = {_arm_key(arms, a): a for a in arms.index if arms.at[a, "execution"] == "eager"}
    out = {}
    for arm, est in summary.items():
        base = eager.get(_arm_key(arms, arm)) if arm in arms.index else None
        if base is None or base == arm or not (summary[base]["step_s"].ok and est["step_s"].ok):
            out[arm] = ["-", "-"]
            continue
        saved = summary[base]["step_s"].value - est["step_s"].value
        out[arm] = [("-" if not est[col].ok else "never" if not saved > 0
                     else f"{est[col].value / saved:,.0f}")
                    for col in ("compile_s", "compile_warm_s")]
    return out


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if value == value and base == base and base > 0 else "-"


def routes_table(res: Results) -> str:
    """The Markdown table (empty when no cell compiled)."""
    ran = res.ran
    if "execution" not in ran or not (ran.execution != "eager").any():
        return ""
    lines = ["| data, model, view | arm | shapes | compiles | compile s cold / warm | graphs/s | "
             "vs own eager | break-even steps cold / warm | vs leader |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            g = fill_untimed(g)
            summary = summarise(g)
            leader, vs = decide(g, summary, margin=res.margin,
                                paired=res.interleaved)["graphs_per_s"]
            even = break_even(g, summary)
            arms = g.drop_duplicates("strategy").set_index("strategy")
            eager = {_arm_key(arms, a): a for a in arms.index
                     if arms.at[a, "execution"] == "eager"}
            where = f"{display_name(dataset)}, `{model}`, {view}"
            for arm, est in summary.items():
                base = eager.get(_arm_key(arms, arm))
                rate = est["graphs_per_s"].value
                cold, warm = est["compile_s"], est["compile_warm_s"]
                seconds = (f"{cold.value:.1f} / {warm.value:.1f}" if warm.ok
                           else f"{cold.value:.1f} / -" if cold.ok and cold.value else "-")
                verdict = ("leader" if arm == leader else vs[arm].short(DECIDED["graphs_per_s"])
                           if arm in vs else "-")
                own = ("-" if base in (None, arm)
                       else _ratio(rate, summary[base]["graphs_per_s"].value))
                repaid = " / ".join(even[arm]) if even[arm] != ["-", "-"] else "-"
                lines.append(
                    f"| {where} | `{arm}` | {est['distinct_shapes'].value:,.0f} | "
                    f"{est['compiles'].value:.0f} | {seconds} | {rate:,.0f} | {own} | {repaid} | "
                    f"{verdict} |")
                where = ""
    return "\n".join(lines)


def routes_block(results_dir: Path | str, command: str) -> str:
    """The table between its markers, saying the command that made it."""
    res = Results.read(results_dir)
    return "\n".join([f"{BEGIN}: made by `{command}` from the records; do not edit by hand -->",
                      routes_table(res), END])


def update_routes(page: Path | str, block: str) -> None:
    """Replace ``page``'s routes block with ``block``."""
    replace_block(page, BEGIN, END, block, "routes block")
