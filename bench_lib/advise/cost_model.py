"""The step-time cost model of ``python -m bench_lib.advise`` and what it predicts.

**Calibration**: a few timed steps of the suite's model at several slot counts
(:func:`calibration_points`; ``dynamic-budget`` batches padded to chosen node,
edge and graph slots, :func:`calibration_spec`, one cell each, run by the
suite's own runner in :func:`calibrate`), fitted as a cost model
``step s = a + b * node slots + c * edge slots + d * graph slots``
(:func:`fit_cost_model`: non-negative least squares on relative error).
:func:`predict` gives a planned cell's step time and graphs/s; an
:class:`Advice` holds every planned cell with its prediction, :func:`ranked`
orders them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SCALES", "TIE_SHARE", "CostModel", "fit_cost_model", "calibration_points",
           "calibration_spec",
           "calibrate", "predict", "Advice", "ranked", "tie_share"]

#: Budgets planned: the suite's node slots and graphs per step times these.
SCALES = (0.5, 1.0, 2.0)
#: Predictions closer than this share to the leader's (or than the fit's largest residual) are
#: undecided.
TIE_SHARE = 0.05
_COLS = ("node_slots_per_step", "edge_slots_per_step", "graph_slots_per_step")


@dataclass
class CostModel:
    """``step_s = intercept + per_node * N + per_edge * E + per_graph * G`` (slots per step)."""

    intercept: float
    per_node: float
    per_edge: float
    per_graph: float
    # calibration points: slots, measured and fitted step s
    points: list[dict] = field(default_factory=list)

    def step_s(self, nodes: float, edges: float, graphs: float) -> float:
        return (self.intercept + self.per_node * nodes + self.per_edge * edges
                + self.per_graph * graphs)

    @property
    def largest_residual(self) -> float:
        """The largest |fitted / measured - 1| over the calibration points."""
        return max((abs(p["fitted_s"] / p["step_s"] - 1) for p in self.points),
                   default=float("nan"))

    def formula(self) -> str:
        return (f"{self.intercept * 1e3:.3f} ms + {self.per_node * 1e6:.3f} us x node slots + "
                f"{self.per_edge * 1e6:.3f} us x edge slots + {self.per_graph * 1e6:.3f} us x "
                f"graph slots")


def fit_cost_model(points: list[dict]) -> CostModel:
    """Non-negative least squares of step time on (1, node, edge, graph slots), each point
    weighted by 1 / its step time (so that relative errors count alike)."""
    from scipy.optimize import nnls

    if len(points) < 4:
        raise ValueError(f"a cost model of 4 coefficients needs at least 4 calibration points (got "
                         f"{len(points)})")
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


def calibration_spec(base, nodes: int, edges: int, graphs: int):
    """``base``'s cell on ``dynamic-budget`` batches padded to these node, edge and graph slots
    (no time to accuracy)."""
    return dataclasses.replace(base, strategy="dynamic-budget", views=("manual",), target_mae=None,
                               target_value=None,
                               node_slots_budget=None, edge_slots_budget=None,
                               graphs_per_step_budget=None,
                               strategy_params={"max_nodes": nodes - 1, "max_edges": edges,
                                                "max_graphs": graphs - 1})


def predict(cost: "CostModel", row: dict) -> tuple[float, float]:
    """``(step s, graphs/s)`` the cost model predicts for a cell of these planned slots and graphs
    per step."""
    step = cost.step_s(*(row[c] for c in _COLS))
    return step, (row["graphs_per_step_mean"] / step if step > 0 else float("nan"))


def calibrate(planned: list[dict], largest: tuple[int, int], seconds: float = 4.0, repeats: int = 3,
              progress=None, copies: int = 1) -> CostModel:
    """Time the model at the :func:`calibration_points` of the ``planned`` cells (``largest``: the
    largest graph's node and edge counts) and fit the cost model.

    Each slot count is a cell (:func:`calibration_spec`) run by the suite's own runner: one worker
    process each, with the suite's environment, clock, thread count and warm-up, the cells taking
    turns window by window as a suite's do; ``repeats`` timed repeats of enough windows for about
    ``seconds`` of steps in all. Each slot count runs in ``copies`` cells (seeds), a point's step
    time the median of theirs. One copy each (a group of 7, where the suite's groups hold 13 or 14)
    over-predicts every cell's graphs/s by about as much (a step among 14 processes taking turns is
    slower than among 7: each window starts with caches the others filled), which leaves the
    ratios between strategies, what advise is for, as they are, and takes half the worker
    processes (``benchmarks/advise.py`` judges advise on those ratios); ``copies=0`` runs as many
    copies as the suite's group needs, for graphs/s closer to the suite's."""
    from bench_lib.harness.progress import phase
    from bench_lib.harness.runner import run_group

    if not seconds > 0:
        raise ValueError(f"calibration seconds must be > 0 (got {seconds})")
    base = planned[0]["spec"]
    points = calibration_points(np.array([[r[c] for c in _COLS] for r in planned]), *largest)
    # the suite's cells of one dataset, model and seed
    group = sum(1 for r in planned if r["scale"] == 1.0)
    copies = copies if copies > 0 else max(1, math.ceil(group / len(points)))
    cells = len(points) * copies
    windows = max(2, math.ceil(seconds / (repeats * cells * max(base.window_s, 1e-3))))
    specs = [dataclasses.replace(calibration_spec(base, *p), seed=base.seed + k, repeats=repeats,
                                 windows=windows)
             for k in range(copies) for p in points]
    if progress:
        progress(f"calibrating: {len(points)} slot counts x {copies} copies (a group of {cells} "
                 f"cells, as the suite's {group}), {repeats} x {windows} windows each, in turns")
    phase(f"calibrating: a group of {cells} cells in turns")
    records = run_group(specs, progress=_Progress(progress))
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        first = (str(failed[0]["error"]).splitlines()[0] if failed[0]["error"]
                 else failed[0]["status"])
        raise ValueError(f"calibration cell {failed[0]['strategy_params']} failed: {first}")
    by_point: dict[tuple, list[dict]] = {}
    for r in records:
        by_point.setdefault(tuple(float(r[c]) for c in _COLS), []).append(r)
    def med(rs, c):
        return float(np.median([float(r[c]) for r in rs]))
    return fit_cost_model([dict(zip(_COLS, key)) | {
        "step_s": med(rs, "step_s"), "step_s_p10": med(rs, "step_s_p10"),
        "step_s_p90": med(rs, "step_s_p90"),
        "windows": sum(int(r["windows_timed"]) for r in rs)} for key, rs in by_point.items()])


class _Progress:
    """What :func:`~bench_lib.harness.runner.run_group` reports, as lines to ``say`` (None:
    quiet)."""

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


def ranked(advice: Advice, view: str, scale: float = 1.0, off: bool = False) -> list[dict]:
    """The cells of ``view`` at ``scale``, highest predicted graphs/s first: those that carry the
    view's budget (:func:`bench_lib.verdicts.off_budget`, the report's rule), or with ``off`` those
    that do not."""
    from bench_lib.verdicts import off_budget

    rows = [r for r in advice.rows if r["scale"] == scale and view in r["spec"].views
            and off_budget(view, r["graphs_per_step_mean"],
                           r["spec"].graphs_per_step_budget) == off]
    return sorted(rows, key=lambda r: -r["predicted_graphs_per_s"])


def tie_share(cost: CostModel) -> float:
    """The share within which a prediction is undecided against the leader's: the larger of
    :data:`TIE_SHARE` and the fit's largest residual."""
    return max(TIE_SHARE, cost.largest_residual)
