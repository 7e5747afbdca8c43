"""``python -m bench_lib.advise DATASET --execution ROUTES``: which compile route to take, measured
on this machine (:func:`bench_lib.advise.advise_routes` runs it; the cells and the ranking are
here).

The question of ``benchmarks/compile-routes.toml``, for the user's data and model and the steps they
plan to train (``--steps``): each strategy of the suite's list (``dynamic``, ``pad-bucket`` and
``pack-lpfhp`` unless ``--strategies`` says) runs eager and under each route that fits its shapes
(from its plan: a static route, ``compile-static``, for a plan of at most dynamo's recompile limit
of shapes; the dynamic routes, ``compile``, ``compile-marked`` and ``compile-dynamic``, for more;
``cudagraphs`` for any), as one interleaved group of cells run by the suite's runner, each compiled
cell from a cold cache and then again from its warm one. Each arm's time for the planned work is its
compile seconds plus the planned real graphs at its measured graphs/s, the planned graphs being
``--steps`` steps of the first eager arm; the route named is the fastest arm's. Every figure is
this machine's, measured, not projected; nothing is projected to an accelerator here
(``--device-profile`` projects eager and CUDA-graph steps from counted costs).
"""

from __future__ import annotations

import dataclasses
import math

from bench_lib.costs.shapes import CACHE_SIZE_LIMIT
from bench_lib.schema import EXECUTIONS

__all__ = ["ROUTE_STRATEGIES", "routes_for", "check_routes", "eager_base", "route_cells", "ranked",
           "routes_markdown"]

#: The strategies the routes are compared on unless --strategies names others.
ROUTE_STRATEGIES = ("dynamic", "pad-bucket", "pack-lpfhp")
_DYNAMIC_ROUTES = ("compile", "compile-marked", "compile-dynamic")


def routes_for(distinct_shapes: int, routes: list[str]) -> list[str]:
    """The routes of ``routes`` that fit a plan of ``distinct_shapes`` shapes (eager always)."""
    static = distinct_shapes <= CACHE_SIZE_LIMIT
    return [r for r in routes if r in ("eager", "cudagraphs")
            or (r == "compile-static" and static) or (r in _DYNAMIC_ROUTES and not static)]


def check_routes(routes: list[str], steps: int) -> None:
    """A ``ValueError`` for an unknown route or fewer than one planned step."""
    unknown = [r for r in routes if r not in EXECUTIONS]
    if unknown:
        raise ValueError(f"--execution: unknown route(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(EXECUTIONS)}")
    if not steps >= 1:
        raise ValueError(f"--steps must be at least 1 (got {steps})")


def eager_base(asked):
    """``asked`` (one dataset, one model) as the routes run it: no target (timing only), the torch
    backend (compiled steps need it), eager, one seed, the equal-padded-budget view."""
    d = dataclasses.replace(asked.datasets[0], target_mae=None, target_value=None)
    return dataclasses.replace(asked, datasets=(d,), backend="torch", execution=("eager",),
                               execution_only={}, fairness=("equal-padded-budget",),
                               strategy_fairness={}, seeds=asked.seeds[:1], ranks=(1,), prefetch=0,
                               timed_seeds=None, decide=False)


def route_cells(base, planned: list[dict], routes: list[str], seconds: float) -> list:
    """The cells of ``base`` (:func:`eager_base`) eager and under each route that fits each
    strategy's planned shapes (``planned``: advise's planned rows at scale 1), with about
    ``seconds`` of timed windows each."""
    from bench_lib.cells import plan_suite

    fits = {r["spec"].strategy: routes_for(int(r["distinct_shapes"]), ["eager", *routes])
            for r in planned}
    only = {x: [s for s, ok in fits.items() if x in ok] for x in routes if x != "eager"}
    cfg = dataclasses.replace(base, execution=tuple(dict.fromkeys(["eager", *routes])),
                              execution_only={x: s for x, s in only.items() if s})
    cells = plan_suite(cfg, []).cells
    repeats = 2
    windows = max(2, math.ceil(seconds / (repeats * max(cells[0].window_s, 1e-3))))
    return [dataclasses.replace(c, repeats=repeats, windows=windows) for c in cells
            if c.execution in fits.get(c.strategy, ())]


def ranked(records: list[dict], steps: int, dataset: str, model: str) -> dict:
    """The arms' records ranked by their time for ``steps`` steps of the first eager arm, compile
    seconds included: ``{"rows": [...], "best": row, "steps", "graphs", ...}``."""
    rows = [_row(r) for r in records]
    eager = [r for r in rows if r["execution"] == "eager" and r["ok"]]
    if not eager:
        raise ValueError("no eager cell ran: nothing to count the planned steps in")
    graphs = steps * eager[0]["graphs_per_step"]
    for r in rows:
        rate = r["graphs_per_s"]
        ok = r["ok"] and rate > 0
        warm = r["compile_warm_s"] if r["compile_warm_s"] == r["compile_warm_s"] else r["compile_s"]
        r["time_s"] = r["compile_s"] + graphs / rate if ok else math.inf
        r["time_warm_s"] = warm + graphs / rate if ok else math.inf
    rows.sort(key=lambda r: r["time_s"])
    return {"dataset": dataset, "model": model, "steps": steps, "graphs": graphs,
            "per_step_of": eager[0]["strategy"], "rows": rows, "best": rows[0]}


def _row(record: dict) -> dict:
    def number(key: str) -> float:
        value = record.get(key)
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")

    return {"strategy": record["strategy"], "execution": record["execution"],
            "ok": record["status"] == "ok",
            "error": str(record.get("error") or "").splitlines()[0:1],
            "graphs_per_s": number("graphs_per_s"),
            "graphs_per_step": number("graphs_per_step_mean"),
            "compile_s": number("compile_s") if record["execution"] != "eager" else 0.0,
            "compile_warm_s": number("compile_warm_s"), "compiles": number("compiles"),
            "distinct_shapes": number("distinct_shapes")}


def routes_markdown(answer: dict) -> str:
    """The ranking as text: the route to take, then every arm."""
    best = answer["best"]
    lines = [f"# Which compile route for {answer['dataset']} ({answer['model']}), measured on this "
             f"machine", "",
             f"Take **`{best['strategy']}` {best['execution']}**: the least time for "
             f"{answer['steps']:,} steps of `{answer['per_step_of']}` eager "
             f"({answer['graphs']:,.0f} real graphs), compiling from a cold cache included. "
             f"Measured here, in one group of cells taking turns; not projected to another "
             f"device. The suite measures it with intervals and verdicts "
             f"(benchmarks/compile-routes.toml).", "",
             "| strategy | route | shapes | compiles | compile s cold / warm | graphs/s | "
             "time for the planned steps s (cold / warm cache) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in answer["rows"]:
        if not r["ok"]:
            lines.append(f"| `{r['strategy']}` | {r['execution']} | | | | | not run: "
                         f"{' '.join(r['error'])[:80]} |")
            continue
        warm = f"{r['compile_warm_s']:.1f}" if r["compile_warm_s"] == r["compile_warm_s"] else "-"
        lines.append(f"| `{r['strategy']}` | {r['execution']} | {r['distinct_shapes']:,.0f} | "
                     f"{r['compiles']:.0f} | {r['compile_s']:.1f} / {warm} | "
                     f"{r['graphs_per_s']:,.0f} | {r['time_s']:,.0f} / {r['time_warm_s']:,.0f} |")
    return "\n".join(lines)
