"""Counted costs priced by a device profile, against steps measured on this CPU.

The projection (:mod:`bench_lib.costs.project`) prices a step's counted operators by a device
profile; on a GPU it can only be checked against others' numbers, but on this CPU it can be checked
against measured steps. This script:

1. measures a CPU profile with one torch thread, by micro-benchmarks: the FLOP and byte rates of
   each kind of operator (one operator each on 8,192 x 64 float32: a matrix product, a gather, a
   scatter-add, a reduction, a copy, exp + sin + SiLU, an element-wise product), and per-operator
   overhead (a training step of each model on a batch of one two-atom graph, divided by its counted
   operators: the same operator mix with nothing to compute);
2. runs the default suite's cells (``benchmarks/default.toml``: every dataset, model, strategy and
   view, first seed) with the ``torch`` backend, eager, one thread, each alone: ``--repeats`` x
   ``--windows`` timed windows as the suite times a cell, and counts each cell's costs;
3. projects each cell's compute time per step (``project_step_s(..., "cpu")``: no overlap on a
   CPU) and sets it against the measured compute time per step (``step_s`` x (1 - build share)).

    python benchmarks/projection.py --out results/projection     # about 5 minutes on 2 cores
    python benchmarks/projection.py --part speckhard --out results/projection

``--part speckhard`` rebuilds Speckhard et al.'s QM9 setting (arXiv 2502.00944: jraph on an A100,
128 graphs per batch; their three batching rules) with bench_lib's SchNet and PaiNN, counts the
steps and projects them on the A100 profile, beside the step times they measured
(``../shared/data/speckhard2025_gpu_step_times.csv``).
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

# the tests read speckhard_batches here
from benchmarks._speckhard import speckhard_batches, write_speckhard  # noqa: E402,F401
from benchmarks._tables import table  # noqa: E402
from bench_lib.costs.project import DeviceProfile, project_step_s, work_s  # noqa: E402


def _median_s(fn, repeats: int = 7, inner: int = 1) -> float:
    """Median seconds of ``fn`` over ``repeats`` timings of ``inner`` calls (the statistic a cell's
    windows give, not the best case)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner)
    return statistics.median(times)


#: Rows of the micro-benchmarks' operands, each x :data:`FEATURES` float32 (256 KiB to 16 MiB): from
#: a small batch's node features to a large batch's edge messages.
SIZES = (1024, 4096, 16384, 65536)
FEATURES = 64
#: Rows of the denormal micro-benchmarks (2 MiB operands).
DENORMAL_ROWS = 8192
#: Bytes of each operand's pool: every call takes the next operands of a pool larger than the caches
#: (this CPU's L3, shared with other machines, is 105 MiB), so they come from memory, as a step's
#: do.
POOL_BYTES = 128 * 2**20


class _Pool:
    """``count`` operands of ``rows`` x :data:`FEATURES` (views of one tensor), taken in turn."""

    def __init__(self, rows: int, generator: torch.Generator, fill: float | None = None) -> None:
        self.count = max(1, POOL_BYTES // (rows * FEATURES * 4))
        self.tensors = torch.randn(self.count, rows, FEATURES, generator=generator)
        if fill is not None:
            self.tensors.view(-1, 16)[:, 0] = fill
        self.i = 0

    def next(self) -> torch.Tensor:
        self.i = (self.i + 1) % self.count
        return self.tensors[self.i]


def _operators(rows: int, denormal: bool = False) -> dict:
    """The operators of one kind each on ``rows`` x :data:`FEATURES` float32 operands, as a training
    step runs them: a linear layer's forward and weight-gradient products, a gather, a scatter-add,
    a reduction, a copy, the special functions of the models (exp, softplus, SiLU), element-wise
    products (of equal shapes, and broadcast); each call on the next operands of a :class:`_Pool`.
    With ``denormal``, one element of every 16 (every 64-byte vector) is denormal: 1e-39 in the
    operand, or, for the special functions, -95, whose exponential underflows to a denormal (as a
    Gaussian expansion's tails do)."""
    g = torch.Generator().manual_seed(0)
    x, y = _Pool(rows, g, 1e-39 if denormal else None), _Pool(rows, g)
    low = _Pool(rows, g, -95.0 if denormal else None)
    w = torch.randn(FEATURES, FEATURES, generator=g)
    index = torch.randint(0, rows // 8, (rows,), generator=g)
    silu, softplus = torch.nn.functional.silu, torch.nn.functional.softplus

    def matmul():  # a linear layer's forward (x @ W) and its weight's gradient (dy^T @ x)
        a = x.next()
        return torch.mm(a, w), torch.mm(y.next().t(), a)

    # a product of equal shapes and a broadcast one (features times a per-row factor)
    def elementwise():
        a, b = x.next(), y.next()
        return torch.mul(a, b), torch.mul(a.view(rows, 4, FEATURES // 4),
                                          b[:, None, : FEATURES // 4])

    def special():
        a = low.next()
        return torch.exp(a), softplus(a), silu(a)

    return {"matmul": matmul,
            "gather": lambda: x.next()[: rows // 8].index_select(0, index),
            "scatter": lambda: y.next()[: rows // 8].index_add_(0, index, x.next()),
            "reduction": lambda: x.next().sum(0),
            "copy": lambda: x.next().clone(),
            "special": special,
            "elementwise": elementwise}


def _tally(fn) -> list:
    """The counted tally (:data:`~bench_lib.costs.count.TALLY`) of ``fn``'s operators, summed over
    kinds."""
    from bench_lib.costs.count import TALLY, CostCounter

    with CostCounter() as counter:
        fn()
    tally = [0.0] * len(TALLY)
    for v in counter.costs.forward.by_kind.values():
        tally = [a + b for a, b in zip(tally, v)]
    return tally


def _tiny_step(spec):
    """(a training step of ``spec``'s model on one two-atom graph, its counted operators)."""
    from bench_lib.costs.count import count_step
    from bench_lib.harness.train import CellRun, make_loss
    from bench_lib.strategies.collate import collate

    run = CellRun(dataclasses.replace(spec, strategy="dynamic",
                                      strategy_params={"batch_graphs": 1}))
    store = run.store
    small = int(next(i for i in range(store.n_graph) if store.n_node[i] >= 2 and store.n_edge[i]
                     >= 1))
    batch = collate(store, [small])
    loss = make_loss(run.model, run.task, spec)
    ops = count_step(loss, run.opt, batch).total.ops

    def step():
        run.opt.zero_grad(set_to_none=True)
        loss(batch).backward()
        run.opt.step()

    for _ in range(5):
        step()
    return step, ops


class CpuProfiler:
    """This CPU's profile by micro-benchmarks: each kind's rates at :data:`SIZES`, the extra time of
    denormal work, and per-operator overhead (a step of the model on one two-atom graph over its
    counted operators: the same operator mix with nothing to compute). The operands and steps are
    built once; :meth:`measure` times them again before every cell, because this shared machine's
    speed drifts over minutes: each cell is set against the profile of its own minutes."""

    def __init__(self, cells: list) -> None:
        self.operators = {rows: _operators(rows) for rows in SIZES}
        self.normal, self.denormal = _operators(
            DENORMAL_ROWS), _operators(DENORMAL_ROWS, denormal=True)
        self.tallies = {(rows, kind): _tally(fn) for rows, ops in self.operators.items()
                        for kind, fn in ops.items()}
        self.denormal_tallies = {kind: _tally(fn) for kind, fn in self.denormal.items()}
        self.steps = {m: _tiny_step(next(s for s in cells if s.model == m))
                      for m in dict.fromkeys(s.model for s in cells)}

    def rates(self) -> dict:
        """{kind: [(bytes per operator, FLOP/s, bytes/s) at each of :data:`SIZES`]}."""
        rates = {}
        for (rows, kind), (ops, flops, moved, *_) in self.tallies.items():
            seconds = _median_s(self.operators[rows][kind], inner=5)
            rates.setdefault(kind, []).append((moved / ops, (flops or 1.0) / seconds,
                                               moved / seconds))
        return rates

    def denormal_s(self) -> dict:
        """{kind: (seconds per denormal FLOP, seconds per denormal byte)}: each kind's operators on
        denormal operands against the same on normal ones, the extra time over the counted denormal
        work (FLOPs for matrix products, bytes for the others); 0 where denormals cost nothing
        extra."""
        out = {}
        for kind, tally in self.denormal_tallies.items():
            extra = max(0.0, _median_s(self.denormal[kind],
                                       inner=5) - _median_s(self.normal[kind], inner=5))
            work = tally[3] if kind == "matmul" else tally[4]
            per = extra / work if work else 0.0
            out[kind] = (per, 0.0) if kind == "matmul" else (0.0, per)
        return out

    def measure(self, model: str) -> dict:
        step, ops = self.steps[model]
        return {"rates": self.rates(), "denormal_s": self.denormal_s(),
                "op_overhead_s": {model: _median_s(step, repeats=9, inner=10) / ops}}


def _cells(args) -> list:
    from bench_lib.config import load_config
    from bench_lib.stack import fit_to_stack
    from bench_lib.suite import expand_cells

    # without DGL, its loader's arm is left out as the suite leaves it out
    cfg = fit_to_stack(load_config(ROOT / "benchmarks" / "default.toml"), [])
    cfg = dataclasses.replace(cfg, backend="torch", seeds=cfg.seeds[:1], timed_seeds=1)
    return [dataclasses.replace(s, repeats=args.repeats, windows=args.windows, warmup_steps=3)
            for s in expand_cells(cfg) if s.repeats > 0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--only", default="", help="run the cells whose label contains this text (a "
                                              "quick check)")
    p.add_argument("--part", choices=("cpu", "speckhard"), default="cpu")
    p.add_argument("--flush-denormal", action="store_true",
                   help="flush denormal floats to zero in the micro-benchmarks and the cells (the "
                        "suite does not)")
    p.add_argument("--batch", type=int, default=128,
                   help="--part speckhard: graphs per batch (theirs: 16 to 128)")
    p.add_argument("--counted", type=int, default=3,
                   help="--part speckhard: batches counted per rule")
    p.add_argument("--qm9-graphs", type=int, default=5000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        p.error("--flush-denormal: this CPU cannot flush denormals")
    if args.part == "speckhard":
        return write_speckhard(args, argv)

    cells = [s for s in _cells(args) if args.only in s.label()]
    profiler = CpuProfiler(cells)
    records = []
    for k, spec in enumerate(cells, 1):
        profile = profiler.measure(spec.model)
        if k == 1:
            print(f"CPU profile: {_profile_text(profile)}", file=sys.stderr)
        records.append(_project_cell(spec, profile))
        r = records[-1]
        print(f"[{k}/{len(cells)}] {r['cell']}: measured {r['measured_compute_s'] * 1e3:.2f} ms, "
              f"projected {r['projected_s'] * 1e3:.2f} ms ({r['error']:+.1%})", file=sys.stderr)
    return _write_cpu(args, argv, records)


def _device(profile: dict, model: str, denormals: bool = True) -> DeviceProfile:
    rates = profile["rates"]
    return DeviceProfile(key="cpu", name="this CPU", flops_fp32=rates["elementwise"][-1][1],
                         bandwidth=rates["elementwise"][-1][2], memory_gib=0,
                         eager_op_s=profile["op_overhead_s"][model],
                         source="measured", overhead_source="measured", rates=rates,
                         denormal_s=profile["denormal_s"] if denormals else None)


def _profile_text(profile: dict) -> str:
    rates = "; ".join(f"{k} " + ", ".join(f"{b / 1e9:.1f}" for _, _, b in v) + " GB/s"
                      + (f" ({v[0][1] / 1e9:.1f} to {v[-1][1] / 1e9:.1f} GFLOP/s)" if k == "matmul"
                         else "")
                      for k, v in profile["rates"].items())
    denormal = ", ".join(f"{k} {1e9 * max(v):.2f} ns/{'FLOP' if k == 'matmul' else 'byte'}"
                         for k, v in profile["denormal_s"].items() if max(v) > 0)
    overhead = ", ".join(f"{m} {o * 1e6:.2f} us" for m, o in profile["op_overhead_s"].items())
    return (f"rates per kind at {', '.join(f'{r:,}' for r in SIZES)} x {FEATURES} float32 "
            f"operands: {rates}; extra time on denormal work: {denormal or 'none measured'}; per "
            f"operator: {overhead}")


def _project_cell(spec, profile: dict) -> dict:
    """One cell run alone as the suite times it, its compute time per step beside the
    projection's."""
    from bench_lib.harness.train import CellRun

    run = CellRun(spec)
    run.warmup()
    for r in range(spec.repeats):
        for _ in range(spec.windows):
            run.window(r)
    m = run.finish()
    measured = m["step_s"] * (1 - m["batch_build_share"])
    device = _device(profile, spec.model)
    projected = project_step_s(m["costs_by_kind"], m["ops_per_step"], device, "cpu")
    no_denormal = project_step_s(m["costs_by_kind"], m["ops_per_step"],
                                 _device(profile, spec.model, False), "cpu")
    return {"cell": spec.label(), "dataset": spec.dataset, "model": spec.model,
            "strategy": spec.strategy,
            "views": list(spec.views), "measured_compute_s": measured, "projected_s": projected,
            "projected_work_s": work_s(m["costs_by_kind"], device),
            "error": projected / measured - 1,
            "projected_without_denormals_s": no_denormal,
            "error_without_denormals": no_denormal / measured - 1,
            "profile": profile, **{k: m[k] for k in ("flops_per_step", "bytes_per_step",
                                                     "ops_per_step", "peak_tensor_mib",
                                 "padding_flops_share", "costs_by_kind")}}


def _summary(errors: list[float]) -> dict:
    return {"median_abs_error": statistics.median(abs(e) for e in errors),
            "median_error": statistics.median(errors),
            "largest_abs_error": max(abs(e) for e in errors)}


def _drift(records: list[dict]) -> str:
    """How far the profile measured before each cell moved over the run."""
    large = [r["profile"]["rates"]["elementwise"][-1][2] / 1e9 for r in records]
    matmul = [r["profile"]["rates"]["matmul"][-1][1] / 1e9 for r in records]
    overhead = [next(iter(r["profile"]["op_overhead_s"].values())) * 1e6 for r in records]
    return (f"element-wise at the largest size {min(large):.1f} to {max(large):.1f} GB/s, matrix "
            f"products {min(matmul):.1f} to {max(matmul):.1f} GFLOP/s, per-operator overhead "
            f"{min(overhead):.2f} to {max(overhead):.2f} us")


def _write_cpu(args, argv, records: list[dict]) -> int:
    from bench_lib.harness.environment import environment, pip_freeze

    summary = {"cells": len(records), **_summary([r["error"] for r in records]),
               "without_denormals": _summary([r["error_without_denormals"] for r in records])}
    command = "python benchmarks/projection.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    env = environment()
    head = ((f"# Projected against measured eager steps on this CPU\n\n`{command}` on "
             f"{env.get('cpu', '?')}. CPU profile (one thread, medians of micro-benchmarks, as "
             f"bench_lib counts FLOPs and bytes; operands taken in turn from pools of "
             f"{POOL_BYTES // 2**20} MiB, larger than the caches), as measured before the first "
             f"cell: {_profile_text(records[0]['profile'])} (a step on one two-atom graph over its "
             f"counted operators). The profile is measured again before every cell, because this "
             f"shared machine's speed drifts; over this run: {_drift(records)}. Projected: each "
             f"kind of operator at its bound, at the size of operator the step's average byte of "
             f"that kind passes through, plus the extra time of its denormal work, plus the "
             f"per-operator overhead (bench_lib/costs/project.py, execution `cpu`). Measured: the "
             f"cell's compute time per step (step time less batch building), each cell alone, "
             f"{args.repeats} x {args.windows} windows, backend `torch`, eager, one thread")
            + (", denormal floats flushed to zero (the suite keeps them)" if args.flush_denormal
               else "") + ".\n\n")
    rows = [[r["cell"], f"{r['measured_compute_s'] * 1e3:.2f}", f"{r['projected_s'] * 1e3:.2f}",
             f"{r['error']:+.1%}",
             f"{r['error_without_denormals']:+.1%}",
             f"{r['projected_work_s'] / r['projected_s']:.0%}",
             f"{r['ops_per_step']:.0f}", f"{r['flops_per_step'] / 1e6:.0f}",
             f"{r['bytes_per_step'] / 2**20:.0f}"]
            for r in records]
    body = table(rows, ["cell", "measured ms", "projected ms", "error",
                        "error without denormal penalty",
                        "work share", "ops/step", "MFLOP/step", "MiB moved/step"])
    tail = (f"\n\nOver {len(records)} cells: median error {summary['median_error']:+.1%}, median "
            f"absolute error {summary['median_abs_error']:.1%}, largest "
            f"{summary['largest_abs_error']:.1%}. Without the denormal penalty: median absolute "
            f"error {summary['without_denormals']['median_abs_error']:.1%}.\n")
    print(head + body + tail)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cpu.md").write_text(head + body + tail)
        (args.out / "cpu.json").write_text(json.dumps(
            {"command": command, "environment": env, "records": records, "summary": summary},
            indent=1))
        # the stack it ran on, as a suite's results folder holds it
        (args.out / "environment.json").write_text(json.dumps(env, indent=1))
        (args.out / "pip-freeze.txt").write_text(pip_freeze())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
