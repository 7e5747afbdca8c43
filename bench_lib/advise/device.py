"""``python -m bench_lib.advise DATASET --device-profile NAME``: the answer for a device bench_lib
has not run on, *projected* from counted costs (nothing is timed).

Every cell the suite would run at its budget is planned (:func:`bench_lib.advise.plan_cells`), its
first batches are counted (:func:`bench_lib.harness.counted.counted_costs`: FLOPs, bytes and
operators by kind, on the plain-torch operators, Adam as a GPU runs it) and priced by the device
profile (:mod:`bench_lib.costs.project`): eager, and under CUDA graphs for plans of at most 8
shapes. The CPU answer (no ``--device-profile``) keeps its measured calibration.
"""

from __future__ import annotations

import dataclasses

__all__ = ["project_rows", "projection_markdown"]


def _route(lead: dict) -> str:
    """How the projected fastest steps run: CUDA graphs when they project faster than eager."""
    graphs = lead["projected_graphs_s"]
    return "CUDA graphs" if graphs == graphs and graphs < lead["projected_eager_s"] else "eager"


def project_rows(planned: list[dict], profile) -> list[dict]:
    """The suite-budget rows of ``planned`` with their counted costs and projected step times and
    graphs/s (``projected_eager_s``, ``projected_graphs_s`` ...) on ``profile``."""
    from bench_lib.costs.project import fits, project_cell
    from bench_lib.harness.counted import counted_costs, eager_spec
    from bench_lib.harness.train import CellRun, make_loss
    from bench_lib.strategies import STRATEGIES
    from bench_lib.strategies.loader import BatchLoader

    rows = [dict(r) for r in planned if r["scale"] == 1.0]
    base_spec = dataclasses.replace(rows[0]["spec"], device="cpu", backend="torch",
                                    execution="eager")
    base = CellRun(base_spec)
    projected = []
    for r in rows:
        spec = eager_spec(r["spec"])
        loader = BatchLoader(base.store, STRATEGIES.create(spec.strategy, **spec.strategy_params),
                             base.splits["train"], seed=spec.seed)
        m = counted_costs(base.model, base.init_state,
                          lambda model, batch: make_loss(model, base.task, spec)(batch), loader)
        if not m["counted_steps"]:  # an empty epoch: nothing to count or project
            continue
        eager, graphs = project_cell(m, r["distinct_shapes"], profile)
        best = min(eager, graphs) if graphs == graphs else eager
        r.update(counted=m, projected_eager_s=eager, projected_graphs_s=graphs,
                 projected_graphs_per_s=r["graphs_per_step_mean"] / best,
                 fits=fits(m["peak_tensor_mib"], m["resident_mib"], profile))
        projected.append(r)
    return projected


def projection_markdown(dataset: str, model: str, rows: list[dict], profile) -> str:
    """The projected answer: per view, strategies ranked by projected graphs/s, and what it rests
    on."""
    from bench_lib.costs.project import gpu_ops

    lines = [f"# Which batching for {dataset} on {profile.name}? (model `{model}`, projected, not "
             f"measured)", "",
             f"Nothing here was measured: each strategy's first batches were counted (FLOPs, bytes "
             f"and operators by kind, plain-torch operators, Adam as a GPU runs it) and priced by "
             f"the `{profile.key}` profile (bench_lib/costs/devices.toml: {profile.source}; "
             f"per-operator overheads: {profile.overhead_source}). Eager: the longer of the host's "
             f"launches and the device's work; CUDA graphs: the work plus a replay, for plans of "
             f"at most 8 shapes. Check it on the device with the suite's command below.", ""]
    for view in dict.fromkeys(v for r in rows for v in r["spec"].views):
        ranked = sorted((r for r in rows if view in r["spec"].views),
                        key=lambda r: -r["projected_graphs_per_s"])
        lead = ranked[0]
        lines += [f"## {view}", "",
                  f"Projected fastest: `{lead['spec'].strategy}`, "
                  f"{lead['projected_graphs_per_s']:,.0f} graphs/s ({_route(lead)}).",
                  "",
                  "| rank | strategy | projected graphs/s | projected eager ms | projected CUDA "
                  "graphs ms | shapes | MFLOP/step | padding FLOPs | operators/step | fits |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for k, r in enumerate(ranked, 1):
            m = r["counted"]
            graphs = (f"{r['projected_graphs_s'] * 1e3:.2f}" if r["projected_graphs_s"]
                      == r["projected_graphs_s"]
                      else f"— ({r['distinct_shapes']} shapes)")
            lines.append(f"| {k} | `{r['spec'].strategy}` | {r['projected_graphs_per_s']:,.0f} | "
                         f"{r['projected_eager_s'] * 1e3:.2f} | {graphs} | "
                         f"{r['distinct_shapes']:,} | {m['flops_per_step'] / 1e6:,.0f} | "
                         f"{m['padding_flops_share']:.1%} | {gpu_ops(m):,.0f} | "
                         f"{'yes' if r['fits'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)
