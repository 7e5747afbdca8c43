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
    python benchmarks/projection.py --part speckhard --out results/projection

``--part speckhard`` rebuilds Speckhard et al.'s QM9 setting (arXiv 2502.00944: jraph on an A100, 128
graphs per batch; their three batching rules) with bench_lib's SchNet and PaiNN, counts the steps and
projects them on the A100 profile, beside the step times they measured
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


#: Rows of the micro-benchmarks' operands, each x :data:`FEATURES` float32 (256 KiB to 16 MiB): from a
#: small batch's node features to a large batch's edge messages, in and out of the caches.
SIZES = (1024, 4096, 16384, 65536)
FEATURES = 64
#: Rows of the denormal micro-benchmarks (2 MiB operands).
DENORMAL_ROWS = 8192


def _operators(rows: int, denormal: bool = False) -> dict:
    """The operators of one kind each on ``rows`` x :data:`FEATURES` float32 operands, as a training step
    runs them: a linear layer's forward and weight-gradient products, a gather, a scatter-add, a
    reduction, a copy, the special functions of the models (exp, softplus, SiLU), an element-wise
    product. With ``denormal``, one element of every 16 (every 64-byte vector) is denormal: 1e-39 in
    the operand, or, for the special functions, -95, whose exponential underflows to a denormal (as a
    Gaussian expansion's tails do)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(rows, FEATURES, generator=g), torch.randn(rows, FEATURES, generator=g)
    low = x.clone()
    if denormal:
        x.view(-1, 16)[:, 0] = 1e-39
        low.view(-1, 16)[:, 0] = -95.0
    w = torch.randn(FEATURES, FEATURES, generator=g)
    table = x[: rows // 8].clone()
    index = torch.randint(0, rows // 8, (rows,), generator=g)
    dest = torch.zeros(rows // 8, FEATURES)
    return {"matmul": lambda: (torch.mm(x, w), torch.mm(x.t(), y)),
            "gather": lambda: table.index_select(0, index),
            "scatter": lambda: dest.index_add_(0, index, x),
            "reduction": lambda: x.sum(0),
            "copy": lambda: x.clone(),
            "special": lambda: (torch.exp(low), torch.nn.functional.softplus(low), torch.nn.functional.silu(low)),
            "elementwise": lambda: torch.mul(x, y)}


def _measure(fn) -> tuple[list, float]:
    """(the counted tally of ``fn``'s operators, its best seconds)."""
    from bench_lib.costs.count import CostCounter

    with CostCounter() as counter:
        fn()
    tally = [0.0] * 5
    for v in counter.costs.forward.by_kind.values():
        tally = [a + b for a, b in zip(tally, v)]
    return tally, _best_s(fn, inner=5)


def kind_rates() -> dict:
    """{kind: [(bytes per operator, FLOP/s, bytes/s) at each of :data:`SIZES`]}, as bench_lib counts
    the operators' FLOPs and bytes."""
    rates = {}
    for rows in SIZES:
        for kind, fn in _operators(rows).items():
            (ops, flops, moved, _, _), seconds = _measure(fn)
            rates.setdefault(kind, []).append((moved / ops, (flops or 1.0) / seconds, moved / seconds))
    return rates


def denormal_penalties() -> dict:
    """{kind: (seconds per denormal FLOP, seconds per denormal byte)}: each kind's operators on denormal
    operands against the same on normal ones, the extra time over the counted denormal work (FLOPs for
    matrix products, bytes for the others); 0 where denormals cost nothing extra."""
    normal, denormal = _operators(DENORMAL_ROWS), _operators(DENORMAL_ROWS, denormal=True)
    out = {}
    for kind in normal:
        _, t_normal = _measure(normal[kind])
        tally, t_denormal = _measure(denormal[kind])
        extra = max(0.0, t_denormal - t_normal)
        work = tally[3] if kind == "matmul" else tally[4]
        per = extra / work if work else 0.0
        out[kind] = (per, 0.0) if kind == "matmul" else (0.0, per)
    return out


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


# -- Speckhard et al. 2025's QM9 setting -------------------------------------------------------------

SPECKHARD_CSV = ROOT.parent / "shared" / "data" / "speckhard2025_gpu_step_times.csv"
RULES_SPECKHARD = ("budget", "pad_next_power_of_two", "pad_multiple_of_64")


def _up(value: int, rule: str) -> int:
    if rule == "pad_next_power_of_two":
        return 1 << max(0, int(value - 1).bit_length())
    return 64 * -(-int(value) // 64)


def speckhard_batches(n_node, n_edge, batch: int, rule: str, epoch_seed: int = 0) -> list:
    """(positions, BatchShape) per step of one epoch, as jraph batches in Speckhard et al.: ``budget``:
    graphs in shuffled order until the next would pass the budget (next multiple of 64 above the mean
    nodes and edges times ``batch``, ``batch`` graph slots, one node and one graph for the padding
    graph), padded to it; the others: ``batch`` - 1 graphs, padded to the next power of two or
    multiple of 64 of their nodes (+1 for the padding graph) and edges."""
    import numpy as np

    from bench_lib.strategies.batch import BatchShape

    order = np.random.default_rng(epoch_seed).permutation(len(n_node))
    out = []
    if rule == "budget":
        cap_n = 64 * (1 + int(n_node.mean() * batch // 64))
        cap_e = 64 * (1 + int(n_edge.mean() * batch // 64))
        shape = BatchShape(cap_n, cap_e, batch)
        start = 0
        while start < len(order):
            end, nodes, edges = start, 0, 0
            while (end < len(order) and end - start < batch - 1 and nodes + n_node[order[end]] <= cap_n - 1
                   and edges + n_edge[order[end]] <= cap_e):
                nodes, edges, end = nodes + n_node[order[end]], edges + n_edge[order[end]], end + 1
            out.append((order[start:end], shape))
            start = end
        return out
    for start in range(0, len(order) - batch + 2, batch - 1):
        pos = order[start:start + batch - 1]
        out.append((pos, BatchShape(_up(n_node[pos].sum() + 1, rule), _up(n_edge[pos].sum(), rule), batch)))
    return out


def speckhard(args) -> tuple[str, dict]:
    """Counted costs of SchNet and PaiNN on QM9 batched by Speckhard et al.'s three rules, projected on an
    A100, beside their measured step times."""
    import csv

    import numpy as np

    from bench_lib.config import parse_config
    from bench_lib.costs.count import count_step
    from bench_lib.costs.project import load_profiles, work_s
    from bench_lib.harness.train import CellRun, make_loss
    from bench_lib.strategies.collate import collate
    from bench_lib.suite import expand_cells

    theirs = {}
    if SPECKHARD_CSV.exists():
        with open(SPECKHARD_CSV) as f:
            for r in csv.DictReader(f):
                if r["dataset"] == "qm9" and r["computing_type"] == "gpu_a100" and int(r["batch_size"]) == args.batch:
                    theirs[(r["model"].lower(), r["batching"])] = r
    a100 = load_profiles()["a100-40gb"]
    widths = {"schnet": {"hidden": 64, "filters": 64, "interactions": 3, "gaussians": 25, "cutoff": 6.0},
              "painn": {"hidden": 128, "interactions": 3, "rbf": 20, "cutoff": 5.0}}
    records = []
    for model, params in widths.items():
        cfg = parse_config({"suite": {"strategies": ["dynamic"], "backend": "torch"}, "models": {model: params},
                            "datasets": {"qm9": {"n_graphs": args.qm9_graphs, "models": [model],
                                                 "graphs_per_step": args.batch}}})
        spec = dataclasses.replace(expand_cells(cfg)[0], repeats=1, windows=1)
        run = CellRun(spec)
        train = run.splits["train"]
        n_node, n_edge = run.store.n_node[train], run.store.n_edge[train]
        loss = make_loss(run.model, run.task, spec)
        for rule in RULES_SPECKHARD:
            batches = speckhard_batches(n_node, n_edge, args.batch, rule)
            shapes = len({(s.n_node, s.n_edge) for _, s in batches})
            counted = []
            for k, (pos, shape) in enumerate(batches[:args.counted + 1]):
                costs = count_step(loss, run.opt, collate(run.store, train[pos], shape))
                if k:
                    counted.append(costs)
            by_kind = {}
            for c in counted:
                for kind, v in c.total.by_kind.items():
                    by_kind[kind] = [a + b / len(counted) for a, b in zip(by_kind.get(kind, [0] * len(v)), v)]
            ops = float(np.mean([c.total.ops - c.optimizer.ops for c in counted]))
            rec = {"model": model, "rule": rule, "graphs_per_step": float(np.mean([len(p) for p, _ in batches])),
                   "node_slots": float(np.mean([s.n_node for _, s in batches])),
                   "edge_slots": float(np.mean([s.n_edge for _, s in batches])), "distinct_shapes": shapes,
                   "flops_per_step": float(np.mean([c.total.flops for c in counted])),
                   "bytes_per_step": float(np.mean([c.total.bytes_read + c.total.bytes_written for c in counted])),
                   "work_ms": 1e3 * work_s(by_kind, a100), "ops_fwd_bwd": ops,
                   "theirs": theirs.get((model, rule))}
            records.append(rec)
            print(f"  {model} {rule}: {rec['node_slots']:.0f} node slots, {rec['edge_slots']:.0f} edge slots, "
                  f"{shapes} shapes, projected work {rec['work_ms']:.2f} ms", file=sys.stderr)
    rows = []
    for r in records:
        base = next(x for x in records if x["model"] == r["model"] and x["rule"] == "budget")
        t = r["theirs"]
        their_ratio = (float(t["step_ms_median"]) / float(base["theirs"]["step_ms_median"])
                       if t and base["theirs"] else float("nan"))
        their_update = (float(t["update_ms_median"]) / float(base["theirs"]["update_ms_median"])
                        if t and base["theirs"] else float("nan"))
        r["projected_ratio"] = r["work_ms"] / base["work_ms"]
        r["their_step_ratio"], r["their_update_ratio"] = their_ratio, their_update
        rows.append([r["model"], r["rule"], f"{r['graphs_per_step']:.1f}", f"{r['node_slots']:,.0f}",
                     f"{r['edge_slots']:,.0f}", str(r["distinct_shapes"]),
                     "—" if not t else f"{float(t['recompiles_median']):.0f}", f"{r['work_ms']:.2f}",
                     f"{r['projected_ratio']:.2f}", "—" if not t else f"{float(t['step_ms_median']):.2f}",
                     f"{their_ratio:.2f}", f"{their_update:.2f}"])
    text = table(rows, ["model", "batching", "graphs/step", "node slots", "edge slots", "shapes (epoch)",
                        "their XLA compiles", "projected A100 ms (work)", "projected / budget", "their A100 step ms",
                        "their step / budget", "their update / budget"])
    return text + "\n\n" + "\n".join(_speckhard_reading(records)) + "\n", {"records": records}


def _speckhard_reading(records: list[dict]) -> list[str]:
    """What the side-by-side says, from the records: the PaiNN check and, where the order of the three
    rules differs from theirs, the reason the numbers give."""
    by = {(r["model"], r["rule"]): r for r in records}
    lines = []
    painn = by.get(("painn", "pad_next_power_of_two"))
    if painn and painn["their_step_ratio"] == painn["their_step_ratio"]:
        off = painn["projected_ratio"] / painn["their_step_ratio"] - 1
        lines.append(f"- PaiNN, power of two over budget: projected {painn['projected_ratio']:.2f}x, theirs "
                     f"{painn['their_step_ratio']:.2f}x ({off:+.0%}; {'within' if abs(off) <= 0.3 else 'outside'} 30%).")
    for model in dict.fromkeys(r["model"] for r in records):
        rs = [by[(model, rule)] for rule in RULES_SPECKHARD if (model, rule) in by]
        if any(r["theirs"] is None for r in rs):
            continue
        ours = [r["rule"] for r in sorted(rs, key=lambda r: r["work_ms"])]
        theirs = [r["rule"] for r in sorted(rs, key=lambda r: float(r["theirs"]["step_ms_median"]))]
        base = by[(model, "budget")]
        update = float(base["theirs"]["update_ms_median"])
        line = (f"- {model}: fastest to slowest, projected {' < '.join(ours)}; theirs {' < '.join(theirs)}. "
                f"Their budget step's update takes {update:.2f} ms against {base['work_ms']:.2f} ms of projected "
                f"work ({base['work_ms'] / update:.0%} of it)")
        if ours == theirs:
            lines.append(line + ": the same order.")
            continue
        lines.append(line + (": the step is bound by costs that do not grow with the slots (kernel launches, "
                             "fixed per-operator latency, and their budget batching's "
                             f"{float(base['theirs']['batching_ms_median']):.2f} ms), so padded slots cost them "
                             "little, while the projection, which prices work alone, ranks the rules by their "
                             "slots." if base["work_ms"] / update < 0.5 else
                             ": the projection's work is most of their update, so the order differs by more "
                             "than the slots explain (compiler choices the count cannot see)."))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--only", default="", help="run the cells whose label contains this text (a quick check)")
    p.add_argument("--part", choices=("cpu", "speckhard"), default="cpu")
    p.add_argument("--flush-denormal", action="store_true",
                   help="flush denormal floats to zero in the micro-benchmarks and the cells (the suite does not)")
    p.add_argument("--batch", type=int, default=128, help="--part speckhard: graphs per batch (theirs: 16 to 128)")
    p.add_argument("--counted", type=int, default=3, help="--part speckhard: batches counted per rule")
    p.add_argument("--qm9-graphs", type=int, default=5000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        p.error("--flush-denormal: this CPU cannot flush denormals")
    if args.part == "speckhard":
        return _write_speckhard(args, argv)

    cells = [s for s in _cells(args) if args.only in s.label()]
    profile = cpu_profile(cells)
    print(f"CPU profile: {_profile_text(profile)}", file=sys.stderr)
    records = []
    for k, spec in enumerate(cells, 1):
        records.append(_project_cell(spec, profile))
        r = records[-1]
        print(f"[{k}/{len(cells)}] {r['cell']}: measured {r['measured_compute_s'] * 1e3:.2f} ms, projected "
              f"{r['projected_s'] * 1e3:.2f} ms ({r['error']:+.1%})", file=sys.stderr)
    return _write_cpu(args, argv, profile, records)


def cpu_profile(cells: list) -> dict:
    """This CPU's profile: rates per kind and size, denormal penalties, and per-operator overhead per model."""
    return {"rates": kind_rates(), "denormal_s": denormal_penalties(),
            "op_overhead_s": {m: op_overhead(next(s for s in cells if s.model == m))
                              for m in dict.fromkeys(s.model for s in cells)}}


def _device(profile: dict, model: str, denormals: bool = True) -> DeviceProfile:
    rates = profile["rates"]
    return DeviceProfile(key="cpu", name="this CPU", flops_fp32=rates["elementwise"][-1][1],
                         bandwidth=rates["elementwise"][-1][2], memory_gib=0, eager_op_s=profile["op_overhead_s"][model],
                         source="measured", overhead_source="measured", rates=rates,
                         denormal_s=profile["denormal_s"] if denormals else None)


def _profile_text(profile: dict) -> str:
    rates = "; ".join(f"{k} " + ", ".join(f"{b / 1e9:.1f}" for _, _, b in v) + " GB/s"
                      + (f" ({v[0][1] / 1e9:.1f} to {v[-1][1] / 1e9:.1f} GFLOP/s)" if k == "matmul" else "")
                      for k, v in profile["rates"].items())
    denormal = ", ".join(f"{k} {1e9 * max(v):.2f} ns/{'FLOP' if k == 'matmul' else 'byte'}"
                         for k, v in profile["denormal_s"].items() if max(v) > 0)
    overhead = ", ".join(f"{m} {o * 1e6:.2f} us" for m, o in profile["op_overhead_s"].items())
    return (f"rates per kind at {', '.join(f'{r:,}' for r in SIZES)} x {FEATURES} float32 operands: {rates}; "
            f"extra time on denormal work: {denormal or 'none measured'}; per operator: {overhead}")


def _project_cell(spec, profile: dict) -> dict:
    """One cell run alone as the suite times it, its compute time per step beside the projection's."""
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
    no_denormal = project_step_s(m["costs_by_kind"], m["ops_per_step"], _device(profile, spec.model, False), "cpu")
    return {"cell": spec.label(), "dataset": spec.dataset, "model": spec.model, "strategy": spec.strategy,
            "views": list(spec.views), "measured_compute_s": measured, "projected_s": projected,
            "projected_work_s": work_s(m["costs_by_kind"], device), "error": projected / measured - 1,
            "projected_without_denormals_s": no_denormal, "error_without_denormals": no_denormal / measured - 1,
            **{k: m[k] for k in ("flops_per_step", "bytes_per_step", "ops_per_step", "peak_tensor_mib",
                                 "padding_flops_share", "costs_by_kind")}}


def _summary(errors: list[float]) -> dict:
    return {"median_abs_error": statistics.median(abs(e) for e in errors), "median_error": statistics.median(errors),
            "largest_abs_error": max(abs(e) for e in errors)}


def _write_cpu(args, argv, profile: dict, records: list[dict]) -> int:
    from bench_lib.harness.environment import environment

    summary = {"cells": len(records), **_summary([r["error"] for r in records]),
               "without_denormals": _summary([r["error_without_denormals"] for r in records])}
    command = "python benchmarks/projection.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    env = environment()
    head = (f"# Projected against measured eager steps on this CPU\n\n`{command}` on {env.get('cpu', '?')}. "
            f"CPU profile (one thread, measured by micro-benchmarks, as bench_lib counts FLOPs and bytes): "
            f"{_profile_text(profile)} (a step on one two-atom graph over its counted operators). Projected: each "
            "kind of operator at its bound, at the step's mean operator size of that kind, plus the extra time of "
            "its denormal work, plus the per-operator overhead (bench_lib/costs/project.py, execution `cpu`). "
            "Measured: the cell's compute time per step (step time less batch building), each cell alone, "
            f"{args.repeats} x {args.windows} windows, backend `torch`, eager, one thread"
            + (", denormal floats flushed to zero (the suite keeps them)" if args.flush_denormal else "") + ".\n\n")
    rows = [[r["cell"], f"{r['measured_compute_s'] * 1e3:.2f}", f"{r['projected_s'] * 1e3:.2f}", f"{r['error']:+.1%}",
             f"{r['error_without_denormals']:+.1%}", f"{r['projected_work_s'] / r['projected_s']:.0%}",
             f"{r['ops_per_step']:.0f}", f"{r['flops_per_step'] / 1e6:.0f}", f"{r['bytes_per_step'] / 2**20:.0f}"]
            for r in records]
    body = table(rows, ["cell", "measured ms", "projected ms", "error", "error without denormal penalty",
                        "work share", "ops/step", "MFLOP/step", "MiB moved/step"])
    tail = (f"\n\nOver {len(records)} cells: median error {summary['median_error']:+.1%}, median absolute error "
            f"{summary['median_abs_error']:.1%}, largest {summary['largest_abs_error']:.1%}. Without the denormal "
            f"penalty: median absolute error {summary['without_denormals']['median_abs_error']:.1%}.\n")
    print(head + body + tail)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cpu.md").write_text(head + body + tail)
        (args.out / "cpu.json").write_text(json.dumps(
            {"command": command, "environment": env, "profile": profile, "records": records, "summary": summary},
            indent=1))
    return 0


def _write_speckhard(args, argv) -> int:
    from bench_lib.harness.environment import environment

    text, data = speckhard(args)
    command = "python benchmarks/projection.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    head = (f"# Speckhard et al.'s QM9 batching, projected on an A100, beside their measurements\n\n`{command}`. "
            f"QM9 ({args.qm9_graphs:,} molecules, bench_lib's stored 6 A radius graphs; theirs are fully connected, "
            f"about as many edges per atom), {args.batch} graphs per batch, SchNet (64 features, 3 interactions) "
            "and PaiNN (128 features, 3 interactions) in bench_lib's plain-torch form, each batched by their three "
            "rules (budget: jraph's dynamic batching to the next multiple of 64 above the mean times the batch; "
            "the others: batch - 1 graphs padded to the next power of two or multiple of 64). *Projected* A100 "
            f"ms: the counted forward and backward operators of {args.counted} batches per rule, each kind at its "
            "roofline bound on the A100 profile (bench_lib/costs/devices.toml), no launch overhead: their steps are "
            "one XLA program. *Theirs*: medians of 10 runs on A100s (arXiv 2502.00944; "
            "../shared/data/speckhard2025_gpu_step_times.csv), step = batching + update.\n\n")
    print(head + text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "speckhard.md").write_text(head + text + "\n")
        (args.out / "speckhard.json").write_text(json.dumps({"command": command, "environment": environment(),
                                                             **data}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
