"""Counted costs priced by a device profile, against steps measured on this CPU.

The projection (:mod:`bench_lib.costs.project`) prices a step's counted operators by a device
profile; on a GPU it can only be checked against others' numbers, but on this CPU it can be checked
against measured steps. This script:

1. measures a CPU profile with one torch thread, by micro-benchmarks: the FLOP and byte rates of
   each kind of operator (one operator each on 8,192 x 64 float32: a matrix product, a gather, a
   scatter-add, a reduction, a copy, exp + sin + SiLU, an element-wise product), and per-operator overhead (a
   training step of each model on a batch of one two-atom graph, divided by its counted operators:
   the same operator mix with nothing to compute);
2. runs the default suite's cells (``benchmarks/default.toml``: every dataset, model, strategy and
   view, first seed) with the ``torch`` backend, eager, one thread, each alone: ``--repeats`` x
   ``--windows`` timed windows as the suite times a cell, and counts each cell's costs;
3. projects each cell's compute time per step (``project_step_s(..., "cpu")``: no overlap on a
   CPU) and sets it against the measured compute time per step (``step_s`` x (1 - build share)).

    python benchmarks/projection.py --out results/projection     # about 5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._tables import table  # noqa: E402
from bench_lib.costs.project import DeviceProfile, project_step_s, work_s  # noqa: E402


def _best_s(fn, repeats: int = 7, inner: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t) / inner)
    return best


#: Rows x features of the micro-benchmarks' tensors (float32, 2 MiB): the size of a step's larger
#: operands here (a qm9 step's edge messages, a budget's node features times a few).
ROWS, FEATURES = 8192, 64


def _rates(fn) -> tuple[float, float]:
    """(FLOP/s, bytes/s) of ``fn`` as bench_lib counts its FLOPs and bytes."""
    from bench_lib.costs.count import CostCounter

    with CostCounter() as counter:
        fn()
    seconds = _best_s(fn, inner=5)
    c = counter.costs.forward
    return (c.flops or 1.0) / seconds, (c.bytes_read + c.bytes_written) / seconds


def kind_rates() -> dict:
    """(FLOP/s, bytes/s) per kind of operator, each from one operator on :data:`ROWS` x :data:`FEATURES`."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(ROWS, FEATURES, generator=g), torch.randn(ROWS, FEATURES, generator=g)
    w = torch.randn(FEATURES, FEATURES, generator=g)
    table = torch.randn(ROWS // 8, FEATURES, generator=g)
    index = torch.randint(0, ROWS // 8, (ROWS,), generator=g)
    dest = torch.zeros(ROWS // 8, FEATURES)
    return {"matmul": _rates(lambda: torch.mm(x, w)),
            "gather": _rates(lambda: table.index_select(0, index)),
            "scatter": _rates(lambda: dest.index_add_(0, index, x)),
            "reduction": _rates(lambda: x.sum(0)),
            "copy": _rates(lambda: x.clone()),
            "special": _rates(lambda: (torch.exp(x), torch.sin(x), torch.nn.functional.silu(x))),
            "elementwise": _rates(lambda: torch.mul(x, y))}


def _cells(args) -> list:
    from bench_lib.config import load_config
    from bench_lib.suite import expand_cells

    cfg = load_config(ROOT / "benchmarks" / "default.toml")
    cfg = dataclasses.replace(cfg, backend="torch", seeds=cfg.seeds[:1], timed_seeds=1)
    return [dataclasses.replace(s, repeats=args.repeats, windows=args.windows, warmup_steps=3)
            for s in expand_cells(cfg) if s.repeats > 0]


def op_overhead(spec) -> float:
    """Seconds per counted operator of a training step on one two-atom graph (nothing to compute)."""
    from bench_lib.costs.count import count_step
    from bench_lib.harness.train import CellRun, make_loss
    from bench_lib.strategies.collate import collate

    run = CellRun(dataclasses.replace(spec, strategy="dynamic", strategy_params={"batch_graphs": 1}))
    store = run.store
    small = int(next(i for i in range(store.n_graph) if store.n_node[i] >= 2 and store.n_edge[i] >= 1))
    batch = collate(store, [small])
    loss = make_loss(run.model, run.task, spec)
    ops = count_step(loss, run.opt, batch).total.ops

    def step():
        run.opt.zero_grad(set_to_none=True)
        loss(batch).backward()
        run.opt.step()

    for _ in range(5):
        step()
    return _best_s(step, repeats=9, inner=10) / ops


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--only", default="", help="run the cells whose label contains this text (a quick check)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    from bench_lib.harness.train import CellRun
    from bench_lib.harness.environment import environment

    cells = [s for s in _cells(args) if args.only in s.label()]
    rates = kind_rates()
    overhead = {m: op_overhead(next(s for s in cells if s.model == m)) for m in dict.fromkeys(s.model for s in cells)}
    profile_text = ("; ".join(f"{k} {f / 1e9:.1f} GFLOP/s, {b / 1e9:.1f} GB/s" for k, (f, b) in rates.items())
                    + "; per operator " + ", ".join(f"{m} {o * 1e6:.2f} us" for m, o in overhead.items()))
    print(f"CPU profile: {profile_text}", file=sys.stderr)
    rows, records = [], []
    for k, spec in enumerate(cells, 1):
        run = CellRun(spec)
        run.warmup()
        for r in range(spec.repeats):
            for _ in range(spec.windows):
                run.window(r)
        m = run.finish()
        measured = m["step_s"] * (1 - m["batch_build_share"])
        profile = DeviceProfile(key="cpu", name="this CPU", flops_fp32=rates["elementwise"][0],
                                bandwidth=rates["elementwise"][1], memory_gib=0, eager_op_s=overhead[spec.model],
                                source="measured", overhead_source="measured", rates=rates)
        projected = project_step_s(m["costs_by_kind"], m["ops_per_step"], profile, "cpu")
        work = work_s(m["costs_by_kind"], profile)
        rec = {"cell": spec.label(), "dataset": spec.dataset, "model": spec.model, "strategy": spec.strategy,
               "views": list(spec.views), "measured_compute_s": measured, "projected_s": projected,
               "projected_work_s": work, "error": projected / measured - 1,
               **{k2: m[k2] for k2 in ("flops_per_step", "bytes_per_step", "ops_per_step", "peak_tensor_mib",
                                        "padding_flops_share", "costs_by_kind")}}
        records.append(rec)
        rows.append([spec.label(), f"{measured * 1e3:.2f}", f"{projected * 1e3:.2f}", f"{rec['error']:+.1%}",
                     f"{work / projected:.0%}", f"{m['ops_per_step']:.0f}", f"{m['flops_per_step'] / 1e6:.0f}",
                     f"{m['bytes_per_step'] / 2**20:.0f}"])
        print(f"[{k}/{len(cells)}] {rows[-1][0]}: measured {rows[-1][1]} ms, projected {rows[-1][2]} ms "
              f"({rows[-1][3]})", file=sys.stderr)
    errors = [r["error"] for r in records]
    summary = {"cells": len(records), "median_abs_error": statistics.median(abs(e) for e in errors),
               "median_error": statistics.median(errors), "largest_abs_error": max(abs(e) for e in errors)}
    command = "python benchmarks/projection.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    env = environment()
    head = (f"# Projected against measured eager steps on this CPU\n\n`{command}` on {env.get('cpu', '?')}. "
            f"CPU profile (one thread; each kind's rate from one operator on {ROWS:,} x {FEATURES} float32, "
            f"as bench_lib counts its FLOPs and bytes): {profile_text} (a step on one two-atom graph over its "
            "counted operators). Projected: each kind of operator at its bound plus the per-operator overhead "
            "(bench_lib/costs/project.py, execution `cpu`). Measured: the cell's compute time per step (step time "
            f"less batch building), each cell alone, {args.repeats} x {args.windows} windows, backend `torch`, "
            "eager, one thread.\n\n")
    body = table(rows, ["cell", "measured ms", "projected ms", "error", "work share", "ops/step", "MFLOP/step",
                        "MiB moved/step"])
    tail = (f"\n\nOver {len(records)} cells: median error {summary['median_error']:+.1%}, median absolute error "
            f"{summary['median_abs_error']:.1%}, largest {summary['largest_abs_error']:.1%}.\n")
    print(head + body + tail)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cpu.md").write_text(head + body + tail)
        (args.out / "cpu.json").write_text(json.dumps(
            {"command": command, "environment": env, "profile": {"rates": rates, "op_overhead_s": overhead},
             "records": records, "summary": summary},
            indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
