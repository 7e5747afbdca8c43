"""``python -m bench_lib.advise DATASET``: which batching strategy, predicted in about a minute.

Two steps, both on this machine:

1. **Planning alone** (no model): the suite's cells for DATASET (the default
   suite's settings, or ``--config``'s) at its budgets scaled by 0.5, 1 and 2,
   each strategy's parameters resolved as the suite resolves them, and of
   each plan the node and edge efficiency, real graphs per step and the node,
   edge and graph slots per step (:func:`bench_lib.harness.planning.plan_metrics`,
   the same numbers a suite's records hold).
2. **Calibration**: a few timed steps of the suite's model at several slot
   counts (``dynamic-budget`` batches padded to chosen node, edge and graph
   slots, one cell each, run by the suite's own runner: worker processes
   taking turns window by window, batch building plus the training step timed
   on the suite's step clock and thread count), fitted as a cost model
   ``step s = a + b * node slots + c * edge slots + d * graph slots``
   (non-negative least squares on relative error).

The predicted graphs/s of a strategy is its real graphs per step over the
cost model's step time at its slots per step. It is a prediction, not a
measurement: the printed suite command measures it (with intervals and time to
accuracy, which planning cannot predict).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["SCALES", "PREDICTED", "CostModel", "fit_cost_model", "calibration_points", "calibration_spec",
           "asked_config", "suite_config", "not_predicted", "plan_cells",
           "calibrate", "predict", "advise", "advice_markdown", "advice_json", "main"]

#: Budgets planned: the suite's node slots and graphs per step times these.
SCALES = (0.5, 1.0, 2.0)
#: Predictions closer than this share to the leader's (or than the fit's largest residual) are undecided.
TIE_SHARE = 0.05
_COLS = ("node_slots_per_step", "edge_slots_per_step", "graph_slots_per_step")


@dataclass
class CostModel:
    """``step_s = intercept + per_node * N + per_edge * E + per_graph * G`` (slots per step)."""

    intercept: float
    per_node: float
    per_edge: float
    per_graph: float
    points: list[dict] = field(default_factory=list)  # calibration points: slots, measured and fitted step s

    def step_s(self, nodes: float, edges: float, graphs: float) -> float:
        return self.intercept + self.per_node * nodes + self.per_edge * edges + self.per_graph * graphs

    @property
    def largest_residual(self) -> float:
        """The largest |fitted / measured - 1| over the calibration points."""
        return max((abs(p["fitted_s"] / p["step_s"] - 1) for p in self.points), default=float("nan"))

    def formula(self) -> str:
        return (f"{self.intercept * 1e3:.3f} ms + {self.per_node * 1e6:.3f} us x node slots + "
                f"{self.per_edge * 1e6:.3f} us x edge slots + {self.per_graph * 1e6:.3f} us x graph slots")


def fit_cost_model(points: list[dict]) -> CostModel:
    """Non-negative least squares of step time on (1, node, edge, graph slots), each point
    weighted by 1 / its step time (so that relative errors count alike)."""
    from scipy.optimize import nnls

    if len(points) < 4:
        raise ValueError(f"a cost model of 4 coefficients needs at least 4 calibration points (got {len(points)})")
    x = np.array([[1.0] + [p[c] for c in _COLS] for p in points])
    t = np.array([p["step_s"] for p in points], dtype=float)
    if not np.all(np.isfinite(t) & (t > 0)):
        raise ValueError(f"calibration step times must be positive and finite (got {t.tolist()})")
    scale = x.max(axis=0)  # columns of similar size, for a well-conditioned solve
    scale[scale <= 0] = 1.0
    coef, _ = nnls(x / scale / t[:, None], np.ones(len(t)))
    coef = coef / scale
    model = CostModel(*map(float, coef))
    model.points = [{**p, "fitted_s": model.step_s(*(p[c] for c in _COLS))} for p in points]
    return model


def calibration_points(slots: np.ndarray, max_n: int, max_e: int) -> list[tuple[int, int, int]]:
    """Node, edge and graph slot counts to time: the corners of the planned cells' range
    (``slots``: rows of node, edge, graph slots per step, widened to at least a factor 2 on each
    axis) and points that move nodes, edges and graphs apart, so that the fit can tell their
    costs apart. Every point can hold the largest graph (``max_n`` nodes, ``max_e`` edges)."""
    floor = np.array([max_n + 1, max_e, 2], dtype=float)
    hi = np.maximum(slots.max(axis=0), 2 * slots.min(axis=0))  # at least a factor 2 on every axis
    lo = np.maximum(np.minimum(slots.min(axis=0), hi / 2), floor)
    hi = np.maximum(hi, 2 * lo)
    mid = np.sqrt(lo * hi)
    n_lo, e_lo, g_lo = lo
    n_hi, e_hi, g_hi = hi
    n_mid, e_mid, g_mid = mid
    raw = [(n_lo, e_lo, g_lo), (n_mid, e_mid, g_mid), (n_hi, e_hi, g_hi),
           (n_hi, e_lo, g_mid), (n_lo, e_hi, g_mid), (n_mid, e_mid, g_lo), (n_mid, e_mid, g_hi)]
    out = []
    for n, e, g in raw:
        point = (int(round(n)), int(round(e)), int(round(g)))
        if point not in out:
            out.append(point)
    return out


# What advise predicts, whatever the configuration asks: eager steps, one process, batches built inline.
PREDICTED = {"execution": ("eager",), "ranks": (1,), "prefetch": 0}


def asked_config(dataset: str, config: Path | None = None, **overrides):
    """``config`` (default: the default suite) for ``dataset`` alone, with the suite's command-line
    ``overrides``, as the user asked for it."""
    from bench_lib.config import apply_overrides, load_config
    from bench_lib.suite import default_config_path

    return apply_overrides(load_config(config or default_config_path()), datasets=[dataset], **overrides)


def one_model(asked) -> tuple[object, list[str]]:
    """``(configuration, other models)``: advise times one model, the dataset's first
    unless ``--models`` chose; the others are named in the answer."""
    d = asked.datasets[0]
    if len(d.models) <= 1:
        return asked, []
    return dataclasses.replace(asked, datasets=(dataclasses.replace(d, models=d.models[:1]),)), list(d.models[1:])


def _as_predicted(asked):
    """The configuration advise plans and times: ``asked``, first seed only, with :data:`PREDICTED`'s settings."""
    return dataclasses.replace(asked, seeds=asked.seeds[:1], **PREDICTED)


def suite_config(dataset: str, config: Path | None = None, **overrides):
    """The suite configuration advise plans and times (see :func:`asked_config` for the arguments)."""
    return _as_predicted(one_model(asked_config(dataset, config, **overrides))[0])


def not_predicted(asked) -> dict:
    """The settings of the asked configuration that advise replaces by :data:`PREDICTED`, as the
    configuration has them; empty when it asks for nothing else."""
    return {k: getattr(asked, k) for k, v in PREDICTED.items() if getattr(asked, k) != v}


def _scaled(settings, scale: float, pack_nodes: int):
    """A dataset's settings with node slots and graphs per step times ``scale`` (node slots
    stay a multiple of the pack size; a set edge budget scales with them)."""
    packs = max(1, round(settings.node_slots / pack_nodes * scale))
    edge_slots = None if settings.edge_slots is None else \
        int(math.ceil(settings.edge_slots * packs * pack_nodes / settings.node_slots))
    return dataclasses.replace(settings, node_slots=packs * pack_nodes, edge_slots=edge_slots, pack_nodes=pack_nodes,
                               graphs_per_step=max(1, round(settings.graphs_per_step * scale)))


def plan_cells(cfg, scales=SCALES) -> tuple[list[dict], dict[float, str], tuple[int, int]]:
    """One row per cell the suite would run at each budget scale: the cell, its view(s) and its
    plan's metrics (planning only); the scales left out, with why (a budget too small for the
    largest graph; the suite's own budget, scale 1, must plan); and the training split's largest
    node and edge counts."""
    from bench_lib.config import ConfigError
    from bench_lib.data import load_dataset, store_splits
    from bench_lib.harness.batching import check_cells
    from bench_lib.harness.fairness import default_pack_nodes
    from bench_lib.harness.planning import plan_metrics
    from bench_lib.strategies import STRATEGIES
    from bench_lib.strategies.loader import BatchLoader
    from bench_lib.suite import expand_cells

    d = cfg.datasets[0]
    seed = cfg.seeds[0]
    data_seed = seed if d.data_seed == "seed" else d.data_seed
    store = load_dataset(d.name, n_graphs=d.n_graphs, seed=data_seed, **d.options)
    train = store_splits(store, seed=data_seed)["train"]
    pack_nodes = d.pack_nodes or default_pack_nodes(d.node_slots, int(store.n_node[train].max()))
    rows, skipped = [], {}
    for scale in scales:
        settings = _scaled(d, scale, pack_nodes)
        try:
            cells = expand_cells(dataclasses.replace(cfg, datasets=(settings,)))
        except ConfigError as err:
            if scale == 1.0:
                raise
            skipped[scale] = err.problems[0]
            continue
        if scale == 1.0:  # a model that is not safe to batch is refused, as the suite refuses it
            unsafe = check_cells(cells)
            if unsafe:
                raise ConfigError(unsafe)
        for spec in cells:
            loader = BatchLoader(store, STRATEGIES.create(spec.strategy, **spec.strategy_params), train, seed=seed)
            rows.append({"scale": scale, "spec": spec, "node_slots_budget": settings.node_slots,
                         "graphs_per_step_budget": settings.graphs_per_step,
                         **plan_metrics(loader.plan(0), loader.n_node, loader.n_edge)})
    return rows, skipped, (int(store.n_node[train].max()), int(store.n_edge[train].max()))


def calibration_spec(base, nodes: int, edges: int, graphs: int):
    """``base``'s cell on ``dynamic-budget`` batches padded to these node, edge and graph slots
    (no time to accuracy)."""
    return dataclasses.replace(base, strategy="dynamic-budget", views=("manual",), target_mae=None,
                               target_value=None,
                               node_slots_budget=None, edge_slots_budget=None, graphs_per_step_budget=None,
                               strategy_params={"max_nodes": nodes - 1, "max_edges": edges,
                                                "max_graphs": graphs - 1})


def predict(cost: "CostModel", row: dict) -> tuple[float, float]:
    """``(step s, graphs/s)`` the cost model predicts for a cell of these planned slots and graphs per step."""
    step = cost.step_s(*(row[c] for c in _COLS))
    return step, (row["graphs_per_step_mean"] / step if step > 0 else float("nan"))


def calibrate(planned: list[dict], largest: tuple[int, int], seconds: float = 4.0, repeats: int = 3,
              progress=None) -> CostModel:
    """Time the model at the :func:`calibration_points` of the ``planned`` cells (``largest``: the
    largest graph's node and edge counts) and fit the cost model.

    Each slot count is a cell (:func:`calibration_spec`) run by the suite's own runner: one worker
    process each, with the suite's environment, clock, thread count and warm-up, the cells taking
    turns window by window as a suite's do; ``repeats`` timed repeats of enough windows for about
    ``seconds`` of steps in all. The group is as large as the suite's group would be (the planned
    cells of one budget): each slot count runs in as many copies (seeds) as that takes, because a
    step in a group of 14 processes taking turns is slower than in a group of 7 (each window starts
    with caches the others filled), which made the first calibration over-predict every cell. A
    point's step time is the median of its copies' ``step_s``."""
    from bench_lib.harness.runner import run_group

    if not seconds > 0:
        raise ValueError(f"calibration seconds must be > 0 (got {seconds})")
    base = planned[0]["spec"]
    points = calibration_points(np.array([[r[c] for c in _COLS] for r in planned]), *largest)
    group = sum(1 for r in planned if r["scale"] == 1.0)  # the suite's cells of one dataset, model and seed
    copies = max(1, math.ceil(group / len(points)))
    cells = len(points) * copies
    windows = max(2, math.ceil(seconds / (repeats * cells * max(base.window_s, 1e-3))))
    specs = [dataclasses.replace(calibration_spec(base, *p), seed=base.seed + k, repeats=repeats, windows=windows)
             for k in range(copies) for p in points]
    if progress:
        progress(f"calibrating: {len(points)} slot counts x {copies} copies (a group of {cells} cells, as the "
                 f"suite's {group}), {repeats} x {windows} windows each, in turns")
    records = run_group(specs, progress=_Progress(progress))
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        first = str(failed[0]["error"]).splitlines()[0] if failed[0]["error"] else failed[0]["status"]
        raise ValueError(f"calibration cell {failed[0]['strategy_params']} failed: {first}")
    by_point: dict[tuple, list[dict]] = {}
    for r in records:
        by_point.setdefault(tuple(float(r[c]) for c in _COLS), []).append(r)
    med = lambda rs, c: float(np.median([float(r[c]) for r in rs]))  # noqa: E731
    return fit_cost_model([dict(zip(_COLS, key)) | {
        "step_s": med(rs, "step_s"), "step_s_p10": med(rs, "step_s_p10"), "step_s_p90": med(rs, "step_s_p90"),
        "windows": sum(int(r["windows_timed"]) for r in rs)} for key, rs in by_point.items()])


class _Progress:
    """What :func:`~bench_lib.harness.runner.run_group` reports, as lines to ``say`` (None: quiet)."""

    def __init__(self, say) -> None:
        self.say = say

    def note(self, text: str) -> None:
        if self.say:
            self.say(f"  {text}")

    def cell_done(self, spec, record) -> None:
        pass


@dataclass
class Advice:
    dataset: str
    model: str
    rows: list[dict]  # planned cells with predictions
    cost: CostModel
    settings: dict  # threads, clock, backend, device, seed, budgets at scale 1
    command: str
    timings: dict  # seconds: planning, calibration, total
    skipped: dict = field(default_factory=dict)  # budget scale -> why it was not planned


def advise(dataset: str, config: Path | None = None, seconds: float = 4.0, progress=None,
           suite_args: list[str] | None = None, **overrides) -> Advice:
    """Plan every strategy, calibrate the cost model and predict graphs/s (see the module docstring).
    ``overrides``: :func:`bench_lib.config.apply_overrides` keywords (strategies, models, options...);
    ``suite_args``: the same as suite flags, for the printed command."""
    t0 = time.perf_counter()
    asked = asked_config(dataset, config, **overrides)
    if overrides.get("models") and len(overrides["models"]) > 1:
        raise ValueError(f"advise times one model; --models names {', '.join(overrides['models'])}: choose one")
    asked, others = one_model(asked)
    cfg = _as_predicted(asked)
    planned, skipped, largest = plan_cells(cfg)
    models = list(dict.fromkeys(r["spec"].model for r in planned))
    t1 = time.perf_counter()
    cost = calibrate(planned, largest, seconds, progress=progress)
    t2 = time.perf_counter()
    for r in planned:
        r["predicted_step_s"], r["predicted_graphs_per_s"] = predict(cost, r)
    spec = planned[0]["spec"]
    one = [r for r in planned if r["scale"] == 1.0]
    settings = {"threads": spec.threads, "clock": "cpu" if spec.timed_on_cpu_clock else "wall",
                "backend": spec.backend, "device": spec.device, "seed": spec.seed, "malloc": spec.malloc,
                "node_slots": one[0]["node_slots_budget"], "graphs_per_step": one[0]["graphs_per_step_budget"],
                "edge_slots": next((r["spec"].edge_slots_budget for r in one if r["spec"].edge_slots_budget), None),
                "model_params": spec.model_params, "strategies": list(cfg.strategies),
                "not_predicted": not_predicted(asked), "other_models": others}
    return Advice(dataset, models[0], planned, cost, settings, _command(dataset, planned, suite_args or [], spec),
                  {"planning_s": t1 - t0, "calibration_s": t2 - t1, "total_s": time.perf_counter() - t0}, skipped)


def ranked(advice: Advice, view: str, scale: float = 1.0) -> list[dict]:
    """The cells of ``view`` at ``scale``, highest predicted graphs/s first."""
    rows = [r for r in advice.rows if r["scale"] == scale and view in r["spec"].views]
    return sorted(rows, key=lambda r: -r["predicted_graphs_per_s"])


def _command(dataset: str, planned: list[dict], suite_args: list[str], spec=None) -> str:
    """The suite command that measures what advise predicted: the same dataset, strategies and settings,
    into a results folder of its own, with the target value when the dataset has one (time to accuracy;
    without one the suite measures throughput and memory, and the text says how to add it)."""
    import shlex

    from bench_lib.report.names import file_stem

    strategies = list(dict.fromkeys(r["spec"].strategy for r in planned))
    words = ["python -m bench_lib.suite", "--datasets", shlex.quote(dataset), "--strategies", ",".join(strategies)]
    words += [shlex.quote(a) for a in suite_args]
    if spec is not None and spec.goal is not None:
        if spec.metric != "mae":
            words += ["--target-metric", spec.metric]
        words += ["--target-value", f"{spec.goal:g}"]
    return " ".join(words + ["--out", shlex.quote(f"results/advise-{file_stem(dataset)}")])


def _tie_share(cost: CostModel) -> float:
    return max(TIE_SHARE, cost.largest_residual)



def advice_markdown(advice: Advice) -> str:
    """The ranked tables, the planning at every budget, the cost model and its assumptions."""
    s, cost = advice.settings, advice.cost
    views = list(dict.fromkeys(v for r in advice.rows for v in r["spec"].views))
    tie = _tie_share(cost)
    lines = [f"# Which batching for {advice.dataset}? (model `{advice.model}`, predicted)", ""]
    if s.get("other_models"):
        lines += [f"The suite also lists {', '.join(f'`{m}`' for m in s['other_models'])} for {advice.dataset}; "
                  f"advise times one model at a time (`--models {s['other_models'][0]}` for the next).", ""]
    for view in views:
        rows = ranked(advice, view)
        if not rows:
            continue
        edges = f"{s['edge_slots']:,}" if s["edge_slots"] else "derived"
        budget = {"equal-padded-budget": f"{s['node_slots']:,} node slots and {edges} edge slots per step",
                  "equal-real-graphs": f"{s['graphs_per_step']} real graphs per step"}.get(
            view, "parameters fixed in the suite's configuration (no budget)")
        lead = rows[0]
        close = [r["spec"].strategy for r in rows[1:]
                 if r["predicted_graphs_per_s"] >= lead["predicted_graphs_per_s"] * (1 - tie)]
        lines += [f"## {view}: {budget}", ""]
        verdict = f"Predicted fastest: `{lead['spec'].strategy}`, {lead['predicted_graphs_per_s']:,.0f} graphs/s"
        slower = [(r["spec"].strategy, 1 - r["predicted_graphs_per_s"] / lead["predicted_graphs_per_s"])
                  for r in rows[1:] if r["spec"].strategy not in close]
        parts = []
        if close:
            parts.append(f"undecided against it, within the model's {tie:.0%} error: "
                         + ", ".join(f"`{x}`" for x in close))
        if slower:
            parts.append("predicted slower: " + ", ".join(f"`{x}` by {share:.0%}" for x, share in slower))
        verdict += ("; " + "; ".join(parts) if parts else "") + "."
        lines += [verdict, "",
                  "| rank | strategy | predicted graphs/s | graphs/step | node eff | edge eff | node slots/step | "
                  "edge slots/step | graph slots/step | predicted step ms | shapes |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for k, r in enumerate(rows):
            lines.append(f"| {k + 1} | `{r['spec'].strategy}` | {r['predicted_graphs_per_s']:,.0f} | "
                         f"{r['graphs_per_step_mean']:.1f} | {r['node_efficiency']:.3f} | {r['edge_efficiency']:.3f} | "
                         f"{r['node_slots_per_step']:,.0f} | {r['edge_slots_per_step']:,.0f} | "
                         f"{r['graph_slots_per_step']:,.0f} | {r['predicted_step_s'] * 1e3:.2f} | "
                         f"{r['distinct_shapes']:,} |")
        lines.append("")
    lines += ["## At other budgets (planning, then the cost model)", "",
              "Node slots and graphs per step of the suite's budgets scaled by " +
              ", ".join(f"{x:g}" for x in SCALES) + ": node efficiency / edge efficiency / real graphs per step / "
              "predicted graphs/s." + "".join(f" x{x:g} not planned: {why}." for x, why in advice.skipped.items()),
              ""]
    for view in views:
        strategies = [r["spec"].strategy for r in ranked(advice, view)]
        by = {(r["spec"].strategy, r["scale"]): r for r in advice.rows if view in r["spec"].views}
        head = [f"{view}: strategy"] + [f"x{x:g} ({_budget_label(advice, view, x)})" for x in SCALES]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        for name in strategies:
            cells = [f"`{name}`"]
            for x in SCALES:
                r = by.get((name, x))
                cells.append("-" if r is None else
                             f"{r['node_efficiency']:.2f} / {r['edge_efficiency']:.2f} / "
                             f"{r['graphs_per_step_mean']:.1f} / {r['predicted_graphs_per_s']:,.0f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## The cost model", "",
              f"step time = {cost.formula()}, fitted on {len(cost.points)} calibration points "
              f"(`dynamic-budget` batches padded to these slots; largest residual {cost.largest_residual:.1%}):", "",
              "| node slots | edge slots | graph slots | windows timed | measured step ms [p10-p90] | fitted ms | "
              "residual |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for p in cost.points:
        lines.append(f"| {p['node_slots_per_step']:,.0f} | {p['edge_slots_per_step']:,.0f} | "
                     f"{p['graph_slots_per_step']:,.0f} | {p['windows']} | {p['step_s'] * 1e3:.2f} "
                     f"[{p['step_s_p10'] * 1e3:.2f}-{p['step_s_p90'] * 1e3:.2f}] | "
                     f"{p['fitted_s'] * 1e3:.2f} | {p['fitted_s'] / p['step_s'] - 1:+.1%} |")
    t = advice.timings
    lines += ["", "## Assumptions", "",
              f"- Measured on this machine: device `{s['device']}`, backend `{s['backend']}`, "
              f"{s['threads']} thread(s), steps timed on the {s['clock']} clock, batch building included, as the "
              "suite times them (one worker process per slot count, the processes taking turns window by "
              f"window); model `{advice.model}` with {json.dumps(s['model_params'])}; plans of seed {s['seed']}'s "
              "training split, first epoch.",
              "- Eager steps in one process, each batch built just before its step (execution `eager`, ranks 1, "
              "prefetch 0)" + ("; the configuration also asks for "
                               + ", ".join(f"{k} {json.dumps(v)}" for k, v in s.get("not_predicted", {}).items())
                               + ", which is not predicted: the suite command below measures it"
                               if s.get("not_predicted") else "") + ".",
              "- Step time is linear in node, edge and graph slots, whatever the strategy; the time a strategy "
              "spends building its batches beyond `dynamic-budget`'s is not modelled.",
              f"- A prediction has no interval: strategies within {tie:.0%} of the leader (the larger of "
              f"{TIE_SHARE:.0%} and the fit's largest residual) are undecided; the suite command below decides "
              "them (faster, slower or equivalent, with intervals).",
              "- Time to accuracy is not predicted: it depends on the batches' composition, not only their size.",
              "- The prediction is for this machine as it was while calibrating. A shared machine's speed drifts "
              "over minutes; a suite run cancels that between strategies (their cells take turns), a prediction "
              "made at another time cannot.",
              f"- Planning took {t['planning_s']:.1f} s, calibration {t['calibration_s']:.1f} s.", "",
              ("To measure it (every strategy interleaved, with verdicts and time to accuracy):"
               if "--target-value" in advice.command else
               "To measure it (every strategy interleaved, with verdicts; this dataset has no target value, so "
               "the suite measures throughput and memory only: add `--target-value V` (and `--target-metric M` "
               "for a score other than MAE) for time to accuracy):"), "",
              f"    {advice.command}", ""]
    return "\n".join(lines)


def _budget_label(advice: Advice, view: str, scale: float) -> str:
    r = next((r for r in advice.rows if r["scale"] == scale), None)
    if r is None:
        return "not planned"
    return {"equal-padded-budget": f"{r['node_slots_budget']:,} node slots",
            "equal-real-graphs": f"{r['graphs_per_step_budget']} graphs"}.get(view, "fixed parameters")


def advice_json(advice: Advice) -> dict:
    """Everything printed, as JSON (cells by their suite ``cell_id``)."""
    rows = [{k: v for k, v in r.items() if k != "spec"} | {
        "cell_id": r["spec"].cell_id, "strategy": r["spec"].strategy, "views": list(r["spec"].views),
        "strategy_params": r["spec"].strategy_params} for r in advice.rows]
    cost = dataclasses.asdict(advice.cost)
    return {"dataset": advice.dataset, "model": advice.model, "rows": rows, "cost_model": cost,
            "settings": advice.settings, "command": advice.command, "timings": advice.timings,
            "skipped_scales": {str(k): v for k, v in advice.skipped.items()}}


def _parser() -> argparse.ArgumentParser:
    from bench_lib.suite import _option

    parser = argparse.ArgumentParser(prog="python -m bench_lib.advise",
                                     description="Predict each batching strategy's graphs/s on this machine for "
                                                 "DATASET: planning, then a short calibration of step time "
                                                 "against slots (about a minute).")
    parser.add_argument("dataset", help="a dataset name (python -m bench_lib.suite --list) or csv:/sdf:/xyz:PATH")
    parser.add_argument("--config", type=Path, help="suite TOML whose settings to use (default: the default suite)")
    parser.add_argument("--strategies", help="comma-separated strategies (default: the config's)")
    parser.add_argument("--models", help="the model to time (default: the dataset's in the config)")
    parser.add_argument("--target", help="target column (csv/sdf files)")
    parser.add_argument("--smiles-column", metavar="COL", help="SMILES column of a csv: dataset (default: guessed)")
    parser.add_argument("--id-column", metavar="COL", help="ID column of a csv: dataset, to name skipped rows")
    parser.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                        help="dataset option, as for the suite")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="about this many step-clock seconds of timed calibration steps in all (default 4; "
                             "at least 2 windows per repeat)")
    parser.add_argument("--json", type=Path, help="also write the advice as JSON here")
    parser.add_argument("--device-profile", metavar="NAME",
                        help="project for a device of bench_lib/costs/devices.toml (a100-40gb, h100-sxm, h200) "
                             "from counted costs instead of calibrating on this machine: projected, not measured")
    return parser


def suite_flags(args: argparse.Namespace) -> list[str]:
    """The suite's flags for the settings ``args`` (advise's) chose, for the printed command."""
    flags = ["--config", str(args.config)] if args.config else []
    for flag, value in (("--models", args.models), ("--target", args.target),
                        ("--smiles-column", args.smiles_column), ("--id-column", args.id_column)):
        if value:
            flags += [flag, value]
    for k, v in args.option:
        flags += ["--option", f"{k}={v}"]
    return flags


def main(argv: list[str] | None = None) -> int:
    from bench_lib.config import ConfigError

    args = _parser().parse_args(argv)
    split = lambda s: None if s is None else [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    if not args.seconds > 0:
        print(f"error: --seconds must be > 0 (got {args.seconds:g})", file=sys.stderr)
        return 2
    suite_args = suite_flags(args)
    progress = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if args.device_profile:
        return _projected(args, split)
    try:
        advice = advise(args.dataset, args.config, seconds=args.seconds, progress=progress, suite_args=suite_args,
                        strategies=split(args.strategies), models=split(args.models),
                        target=split(args.target), options=dict(args.option), smiles_column=args.smiles_column,
                        id_column=args.id_column)
    except (ConfigError, ValueError, FileNotFoundError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    text = advice_markdown(advice)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(advice_json(advice), indent=1))
    print(text)
    return 0


def _projected(args, split) -> int:
    """``--device-profile``: plan, count and project (bench_lib.advise_device); nothing is timed."""
    from bench_lib.advise_device import project_rows, projection_markdown
    from bench_lib.config import ConfigError
    from bench_lib.costs.project import load_profiles

    profiles = load_profiles()
    if args.device_profile not in profiles:
        print(f"error: --device-profile {args.device_profile!r} is not a profile of bench_lib/costs/devices.toml; "
              f"valid: {', '.join(profiles)}", file=sys.stderr)
        return 2
    try:
        asked = asked_config(args.dataset, args.config, strategies=split(args.strategies),
                             models=split(args.models), target=split(args.target), options=dict(args.option),
                             smiles_column=args.smiles_column, id_column=args.id_column)
        asked, _ = one_model(asked)
        planned, _, _ = plan_cells(_as_predicted(asked), scales=(1.0,))
    except (ConfigError, ValueError, FileNotFoundError) as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    profile = profiles[args.device_profile]
    rows = project_rows(planned, profile)
    print(projection_markdown(args.dataset, rows[0]["spec"].model, rows, profile))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
