"""What ``python -m bench_lib.advise`` prints: per view the strategies ranked by predicted graphs/s,
the planning at every budget scale, the cost model with its calibration points, and the assumptions
(:func:`advice_markdown`); the same as JSON (:func:`advice_json`)."""

from __future__ import annotations

import dataclasses
import json

from bench_lib.advise.cost_model import SCALES, TIE_SHARE, Advice, ranked, tie_share
from bench_lib.verdicts import off_budget_text

__all__ = ["advice_markdown", "advice_json"]


def advice_markdown(advice: Advice) -> str:
    """The ranked tables, the planning at every budget, the cost model and its assumptions."""
    s = advice.settings
    views = list(dict.fromkeys(v for r in advice.rows for v in r["spec"].views))
    tie = tie_share(advice.cost)
    lines = [f"# Which batching for {advice.dataset}? (model `{advice.model}`, predicted)", ""]
    if s.get("other_models"):
        lines += [f"The suite also lists {', '.join(f'`{m}`' for m in s['other_models'])} for "
                  f"{advice.dataset}; advise times one model at a time (`--models "
                  f"{s['other_models'][0]}` for the next).", ""]
    for view in views:
        lines += _ranked_section(advice, view, tie)
    lines += _budgets_section(advice, views)
    lines += _cost_model_section(advice)
    lines += _assumptions(advice, tie)
    return "\n".join(lines)


def _ranked_section(advice: Advice, view: str, tie: float) -> list[str]:
    """``view``'s strategies at the suite's budget, ranked by predicted graphs/s, with the verdict
    on the leader (none when no cell of the view was planned)."""
    s = advice.settings
    rows = ranked(advice, view)
    if not rows:
        return []
    edges = f"{s['edge_slots']:,}" if s["edge_slots"] else "derived"
    budget = {
        "equal-padded-budget": f"{s['node_slots']:,} node slots and {edges} edge slots per step",
        "equal-real-graphs": f"{s['graphs_per_step']} real graphs per step",
    }.get(view, "parameters fixed in the suite's configuration (no budget)")
    lines = [f"## {view}: {budget}", ""]
    lines += [_verdict(rows, tie), "",
              "| rank | strategy | predicted graphs/s | graphs/step | node eff | edge eff | node "
              "slots/step | edge slots/step | graph slots/step | predicted step ms | shapes |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, r in enumerate(rows):
        lines.append(f"| {k + 1} | `{r['spec'].strategy}` | {r['predicted_graphs_per_s']:,.0f} | "
                     f"{r['graphs_per_step_mean']:.1f} | {r['node_efficiency']:.3f} | "
                     f"{r['edge_efficiency']:.3f} | {r['node_slots_per_step']:,.0f} | "
                     f"{r['edge_slots_per_step']:,.0f} | {r['graph_slots_per_step']:,.0f} | "
                     f"{r['predicted_step_s'] * 1e3:.2f} | {r['distinct_shapes']:,} |")
    lines.append("")
    for r in ranked(advice, view, off=True):
        lines += [off_budget_text(r["spec"].strategy, r["graphs_per_step_mean"],
                                  r["spec"].graphs_per_step_budget)
                  + f" (predicted {r['predicted_graphs_per_s']:,.0f} graphs/s).", ""]
    return lines


def _verdict(rows: list[dict], tie: float) -> str:
    """The predicted fastest of ``rows`` (ranked), those undecided against it (within ``tie``) and
    how much slower the others are predicted."""
    lead = rows[0]
    close = [r["spec"].strategy for r in rows[1:]
             if r["predicted_graphs_per_s"] >= lead["predicted_graphs_per_s"] * (1 - tie)]
    verdict = (f"Predicted fastest: `{lead['spec'].strategy}`, "
               f"{lead['predicted_graphs_per_s']:,.0f} graphs/s")
    slower = [(r["spec"].strategy, 1 - r["predicted_graphs_per_s"] / lead["predicted_graphs_per_s"])
              for r in rows[1:] if r["spec"].strategy not in close]
    parts = []
    if close:
        parts.append(f"undecided against it, within the model's {tie:.0%} error: "
                     + ", ".join(f"`{x}`" for x in close))
    if slower:
        parts.append("predicted slower: " + ", ".join(f"`{x}` by {share:.0%}"
                                                      for x, share in slower))
    return verdict + ("; " + "; ".join(parts) if parts else "") + "."


def _budgets_section(advice: Advice, views: list[str]) -> list[str]:
    """Every strategy at every budget scale of :data:`SCALES`, per view: planning, then the cost
    model."""
    lines = ["## At other budgets (planning, then the cost model)", "",
             "Node slots and graphs per step of the suite's budgets scaled by " +
             ", ".join(f"{x:g}" for x in SCALES)
             + ": node efficiency / edge efficiency / real graphs per step / "
               "predicted graphs/s." + "".join(f" x{x:g} not planned: {why}."
                                             for x, why in advice.skipped.items()),
             ""]
    for view in views:
        strategies = [r["spec"].strategy for r in ranked(advice, view)]
        by = {(r["spec"].strategy, r["scale"]): r for r in advice.rows if view in r["spec"].views}
        head = ([f"{view}: strategy"]
                + [f"x{x:g} ({_budget_label(advice, view, x)})" for x in SCALES])
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        for name in strategies:
            cells = [f"`{name}`"]
            for x in SCALES:
                r = by.get((name, x))
                cells.append("-" if r is None else
                             f"{r['node_efficiency']:.2f} / {r['edge_efficiency']:.2f} / "
                             f"{r['graphs_per_step_mean']:.1f} / "
                             f"{r['predicted_graphs_per_s']:,.0f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _cost_model_section(advice: Advice) -> list[str]:
    """The fitted formula and its calibration points: measured and fitted step times, residuals."""
    cost = advice.cost
    lines = ["## The cost model", "",
             f"step time = {cost.formula()}, fitted on {len(cost.points)} calibration points "
             f"(`dynamic-budget` batches padded to these slots; largest residual "
             f"{cost.largest_residual:.1%}):", "",
             "| node slots | edge slots | graph slots | windows timed | measured step ms [p10-p90] "
             "| fitted ms | residual |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for p in cost.points:
        lines.append(f"| {p['node_slots_per_step']:,.0f} | {p['edge_slots_per_step']:,.0f} | "
                     f"{p['graph_slots_per_step']:,.0f} | {p['windows']} | {p['step_s'] * 1e3:.2f} "
                     f"[{p['step_s_p10'] * 1e3:.2f}-{p['step_s_p90'] * 1e3:.2f}] | "
                     f"{p['fitted_s'] * 1e3:.2f} | {p['fitted_s'] / p['step_s'] - 1:+.1%} |")
    return lines + [""]


def _assumptions(advice: Advice, tie: float) -> list[str]:
    """What the prediction assumes and leaves out, how long it took, and the suite command that
    measures it."""
    s, t = advice.settings, advice.timings
    return ["## Assumptions", "",
            f"- Measured on this machine: device `{s['device']}`, backend `{s['backend']}`, "
            f"{s['threads']} thread(s), steps timed on the {s['clock']} clock, batch building "
            f"included, as the suite times them (one worker process per slot count, the processes "
            f"taking turns window by window); model `{advice.model}` with "
            f"{json.dumps(s['model_params'])}; plans of seed {s['seed']}'s training split, "
            f"first epoch.",
            "- Eager steps in one process, each batch built just before its step (execution "
            "`eager`, ranks 1, prefetch 0)"
            + ("; the configuration also asks for "
               + ", ".join(f"{k} {json.dumps(v)}" for k, v in s.get("not_predicted", {}).items())
               + ", which is not predicted: the suite command below measures it"
               if s.get("not_predicted") else "") + ".",
            *([f"- Not predicted: {', '.join(f'`{b}`' for b in s['baselines_not_predicted'])} "
               f"(another library's loader builds their batches, which the calibration does not "
               f"time; the suite command below measures them)."]
              if s.get("baselines_not_predicted") else []),
            "- Step time is linear in node, edge and graph slots, whatever the strategy; the time "
            "a strategy spends building its batches beyond `dynamic-budget`'s is not modelled.",
            f"- A prediction has no interval: strategies within {tie:.0%} of the leader (the "
            f"larger of {TIE_SHARE:.0%} and the fit's largest residual) are undecided; the suite "
            f"command below decides them (faster, slower or equivalent, with intervals).",
            "- Time to accuracy is not predicted: it depends on the batches' composition, not only "
            "their size.",
            "- The prediction is for this machine as it was while calibrating. A shared machine's "
            "speed drifts over minutes; a suite run cancels that between strategies (their cells "
            "take turns), a prediction made at another time cannot.",
            f"- Planning took {t['planning_s']:.1f} s, calibration {t['calibration_s']:.1f} s.", "",
            ("To measure it (every strategy interleaved, with verdicts and time to accuracy):"
             if "--target-value" in advice.command else
             "To measure it (every strategy interleaved, with verdicts; this dataset has no target "
             "value, so the suite measures throughput and memory only: add `--target-value V` (and "
             "`--target-metric M` for a score other than MAE) for time to accuracy):"), "",
            f"    {advice.command}", ""]


def _budget_label(advice: Advice, view: str, scale: float) -> str:
    r = next((r for r in advice.rows if r["scale"] == scale), None)
    if r is None:
        return "not planned"
    return {
        "equal-padded-budget": f"{r['node_slots_budget']:,} node slots",
        "equal-real-graphs": f"{r['graphs_per_step_budget']} graphs",
    }.get(view, "fixed parameters")


def advice_json(advice: Advice) -> dict:
    """Everything printed, as JSON (cells by their suite ``cell_id``)."""
    rows = [{k: v for k, v in r.items() if k != "spec"} | {
        "cell_id": r["spec"].cell_id, "strategy": r["spec"].strategy,
        "views": list(r["spec"].views),
        "strategy_params": r["spec"].strategy_params} for r in advice.rows]
    cost = dataclasses.asdict(advice.cost)
    return {"dataset": advice.dataset, "model": advice.model, "rows": rows, "cost_model": cost,
            "settings": advice.settings, "command": advice.command, "timings": advice.timings,
            "skipped_scales": {str(k): v for k, v in advice.skipped.items()}}
