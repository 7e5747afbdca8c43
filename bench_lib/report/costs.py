"""The report's counted costs (no clock) and, apart, what they project on accelerators.

Counted costs come from the records' ``counted_steps`` .. ``costs_by_kind`` columns (the cell counts
its own batches: :mod:`bench_lib.harness.counted`); predicted compiles from ``distinct_shapes``
(:mod:`bench_lib.costs.shapes`); projections from :mod:`bench_lib.costs.project` and its device
profiles. Projections sit in their own section, every header saying *projected*, never beside a
measured column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench_lib.costs.count import RULES
from bench_lib.costs.project import fits, load_profiles, project_cell, work_s
from bench_lib.costs.shapes import predict_compiles
from bench_lib.report import plots
from bench_lib.report.names import display_name, file_stem

__all__ = ["costs_section", "projection_section", "counted_summary", "COLUMNS"]

_COUNTED = ["flops_per_graph", "bytes_per_graph", "ops_per_step", "ops_forward", "ops_backward",
            "ops_optimizer",
            "syncs_per_step", "peak_tensor_mib", "resident_mib", "padding_flops_share",
            "padding_bytes_share",
            "padding_peak_share", "distinct_shapes", "graphs_per_step_mean", "flops_per_step",
            "bytes_per_step",
            "ops_optimizer_foreach", "node_slots_per_step_min", "node_slots_per_step_max",
            "edge_slots_per_step_min",
            "edge_slots_per_step_max"]

#: Every record column these sections show or price (tests/report/test_report.py checks each is
#: reported).
COLUMNS = [*_COUNTED, "counted_steps", "counted_error", "costs_by_kind", "costs_by_kind_unpadded"]


def _counted(g: pd.DataFrame) -> pd.DataFrame:
    return (g[pd.to_numeric(g.get("counted_steps"), errors="coerce").fillna(0) > 0]
            if "counted_steps" in g else g[:0])


def counted_summary(g: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: the median over its counted cells (seeds) of each counted column, and its
    ``costs_by_kind`` (the first counted cell's: kinds are the same plan's in every seed but the
    order)."""
    g = _counted(g)
    cols = [c for c in _COUNTED if c in g]
    rows = []
    for strategy, rs in g.groupby("strategy_name" if "strategy_name" in g else "strategy",
                                  sort=False):
        row = {"strategy": strategy, "seeds": len(rs)}
        row.update({c: float(pd.to_numeric(rs[c], errors="coerce").median()) for c in cols})
        for col in ("costs_by_kind", "costs_by_kind_unpadded"):
            kinds = [json.loads(v) for v in rs.get(col, []) if isinstance(v, str) and v]
            row[col] = {k: [float(np.median([d[k][i] for d in kinds])) for i in range(3)]
                        for k in kinds[0]} if kinds else {}
        rows.append(row)
    return pd.DataFrame(rows)


def _share(x: float) -> str:
    return "—" if x != x else f"{x:.1%}"


def _padding_figure(summaries: dict[str, pd.DataFrame], title: str):
    """Bars: per strategy, the share of FLOPs and of peak tensor memory spent on padding, one panel
    per model and view."""
    plt = plots._plt()
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.0 * len(summaries), 3.8), squeeze=False)
    for ax, (label, s) in zip(axes[0], summaries.items()):
        x = np.arange(len(s))
        ax.bar(x - 0.2, 100 * s["padding_flops_share"], 0.4, label="FLOPs")
        ax.bar(x + 0.2, 100 * s["padding_peak_share"], 0.4, label="peak tensor memory")
        ax.set_xticks(x, s["strategy"], rotation=30, ha="right")
        ax.set_ylabel("% spent on padding slots")
        ax.set_ylim(0, 100)
        ax.set_title(label, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def _span(r, kind: str):
    """``(smallest, largest)`` slots of a step (None where the records do not say)."""
    lo = getattr(r, f"{kind}_slots_per_step_min", float("nan"))
    hi = getattr(r, f"{kind}_slots_per_step_max", float("nan"))
    return None if lo != lo or hi != hi else (lo, hi)


def _counted_table(s: pd.DataFrame, torch_version: str | None, device: str) -> str:
    head = ("| strategy | MFLOP/graph | MiB moved/graph | operators/step (fwd / bwd / optimiser) | "
            "host syncs/step | peak tensor MiB | padding: FLOPs | bytes | peak | shapes/epoch | "
            "compiles: default / dynamic / static (eager past 8) | CUDA graphs recorded |")
    lines = [head, "|---|" + "---:|" * 11]
    for r in s.itertuples():
        shapes = int(r.distinct_shapes) if r.distinct_shapes == r.distinct_shapes else 0
        how = {"torch_version": torch_version, "device": device, "node_slots": _span(r, "node"),
               "edge_slots": _span(r, "edge")}
        p = predict_compiles(shapes, "compile", **how) if shapes else None
        dyn = predict_compiles(shapes, "compile-dynamic", **how) if shapes else None
        compiles = "—" if p is None else (f"{p['compiles']} / {dyn['compiles']} / "
                                          f"{p['static_compiles']}"
                                          + (" (eager past 8)" if p["static_eager_fallback"]
                                             else ""))
        lines.append(
            f"| `{r.strategy}` | {r.flops_per_graph / 1e6:,.2f} | {r.bytes_per_graph / 2**20:,.2f} "
            f"| {r.ops_per_step:,.0f} ({r.ops_forward:,.0f} / {r.ops_backward:,.0f} / "
            f"{r.ops_optimizer:,.0f}) | {r.syncs_per_step:,.0f} | {r.peak_tensor_mib:,.1f} | "
            f"{_share(r.padding_flops_share)} | {_share(r.padding_bytes_share)} | "
            f"{_share(r.padding_peak_share)} | {shapes or '—'} | {compiles} | {shapes or '—'} |")
    return "\n".join(lines)


def costs_section(res, out: Path) -> list[str]:
    """Counted costs per dataset, model and view (nothing when no cell was counted)."""
    if "counted_steps" not in res.ran or not (_counted(res.ran)).shape[0]:
        return []
    # older runs: torch 2.2.1
    torch_version = (res.environment.get("packages") or {}).get("torch") or "2.2.1"
    device = str(res.ran.device.iloc[0]) if "device" in res.ran else "cpu"
    lines = ["## Counted costs (no clock)", "",
             f"What each strategy's steps must do on any machine, counted operator by operator as "
             f"the step dispatches them (bench_lib/costs/count.py), on the first batches of each "
             f"timed cell's first epoch, on plain-torch operators (what a GPU or `torch.compile` "
             f"runs), median over seeds. FLOPs: {RULES}. Bytes: each operator's tensor inputs and "
             f"outputs (gathers and scatters the rows they touch), unfused: an upper bound where a "
             f"compiler fuses. Peak tensor MiB: live tensors the step creates over forward and "
             f"backward. *Padding*: the share of each spent on padding slots, against the same "
             f"graphs batched unpadded. Compiles are predicted from the epoch's distinct shapes "
             f"(bench_lib/costs/shapes.py, as the run's torch {torch_version} compiles on its "
             f"device: automatic dynamic shapes by default; one compile per shape up to the cache "
             f"limit of 8 when shapes stay static, as XLA needs); a CUDA graph is recorded per "
             f"shape.",
             ""]
    if "counted_error" in res.ran:
        failed = res.ran[res.ran.counted_error.astype(object).fillna("").astype(str) != ""]
        if len(failed):
            lines += [f"Not counted ({len(failed)} cell(s); their measurements stand): "
                      + "; ".join(f"{r.strategy}/{r.model} seed {r.seed}: {r.counted_error}"
                                  for r in failed.itertuples()) + ".", ""]
    for dataset in res.datasets():
        groups = [(model, view, counted_summary(g)) for model, view, g in res.groups(dataset)]
        groups = [(m, v, s) for m, v, s in groups if len(s)]
        if not groups:
            continue
        stem = f"{file_stem(dataset)}_padding_costs"
        plots.save_figure(_padding_figure({f"{m}, {v}": s for m, v, s in groups},
                                          f"{display_name(dataset)}: share of FLOPs and peak "
                                          f"memory on padding"),
                          out, stem)
        lines += [f"### {display_name(dataset)}", "",
                  f"![{display_name(dataset)}: share of FLOPs and of peak tensor memory spent on "
                  f"padding]({stem}.png)",
                  "", "The share of each strategy's counted FLOPs and peak tensor memory that its "
                      "padding slots take, per model and view (median over seeds; no error bars: "
                      "counts, not timings, and the same plan gives the same count).", ""]
        for model, view, s in groups:
            lines += [f"`{model}`, {view}:", "", _counted_table(s, torch_version, device), ""]
    return lines


def projection_section(res, profiles: dict | None = None) -> list[str]:
    """Projected step time and graphs/s per device profile (nothing when no cell was counted)."""
    if "counted_steps" not in res.ran or not (_counted(res.ran)).shape[0]:
        return []
    profiles = profiles or load_profiles()
    first = next(iter(profiles.values()))
    names = "; ".join(f"{p.name}: {p.source}" for p in profiles.values())
    lines = ["## Projected on accelerators (projected, not measured)", "",
             f"Nothing in this section was measured: the counted costs above, priced by device "
             f"profiles (bench_lib/costs/devices.toml: {names}; per-operator overheads are "
             f"assumptions, their sources in the file). Each kind of operator at its roofline "
             f"bound (FP32 peak or memory bandwidth); eager: a step takes the longer of the host's "
             f"launches (operators x the per-operator overhead) and the device's work, with Adam "
             f"as a GPU runs it (foreach); CUDA graphs: the work plus a replay's per-kernel cost, "
             f"for plans of at most 8 shapes (one graph recorded per shape; a plan of a shape per "
             f"step would record every step). *fits*: peak tensors plus parameters, Adam's moments "
             f"and the batch within the device's memory.", ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            s = counted_summary(g)
            if not len(s):
                continue
            cols = [f"projected {p.key} {x} ms" for p in profiles.values()
                    for x in ("eager", "CUDA graphs")]
            lines += [f"### {display_name(dataset)}, `{model}`, {view} (projected)", "",
                      "| strategy | " + " | ".join(cols)
                      + " | projected graphs/s, fastest | projected to fit in memory | "
                        f"projected padding share of {first.key}'s work |",
                      "|---|" + "---:|" * (len(cols) + 3)]
            for r in s.itertuples():
                times = [t for p in profiles.values()
                         for t in project_cell(r._asdict(), r.distinct_shapes, p)]
                best = r.graphs_per_step_mean / np.nanmin(times)
                fit = all(fits(r.peak_tensor_mib, r.resident_mib, p) for p in profiles.values())
                cells = [f"{t * 1e3:.2f}" if t == t else f"— ({r.distinct_shapes:.0f} shapes)"
                         for t in times]
                work = work_s(r.costs_by_kind, first)
                share = (1 - work_s(r.costs_by_kind_unpadded, first) / work
                         if r.costs_by_kind_unpadded and work else float("nan"))
                lines.append(f"| `{r.strategy}` | " + " | ".join(cells)
                             + f" | {best:,.0f} | {'yes' if fit else 'no'} | "
                               f"{_share(max(share, 0.0) if share == share else share)} |")
            lines.append("")
    return lines
