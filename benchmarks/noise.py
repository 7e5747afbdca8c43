"""Do strategy rankings survive a busy machine? Quiet against loaded, two protocols.

Runs the nci5k smoke cells (``pad``, ``dynamic``, ``pack-cutstock``; GIN,
equal-padded-budget) through the suite's own harness, once on the machine as
it is and once beside two CPU-burning processes that this script starts and
stops itself (each bounded in time), and compares the graphs/s ratios
``pack-cutstock/pad`` and ``dynamic/pad``:

- ``interleaved, 1 thread, CPU clock``: the suite's protocol (cells timed in
  turns, window by window; one thread per cell; steps timed on the
  process's CPU clock);
- ``interleaved, 1 thread, wall clock``: the same, timed on the wall clock;
- ``sequential, 2 threads, wall clock``: the protocol before it (each cell
  alone, three repeats of ten steps, two torch threads, glibc's malloc as it
  comes);
- the smoke suite's timing (``benchmarks/smoke.toml``: 2 repeats of 4
  windows), as the suite runs it (windows raised until each cell is timed
  for ``min_timed_s``, 4 s) and as written (0.4 s a cell).

Each ratio is read two ways: of the cells' median graphs/s, and over the
turns the cells took together (the paired ratio the report's verdicts use).

A protocol holds up when each ratio moves by at most 10% between the quiet
and the loaded run. A second table runs one qm9/SchNet cell alone in several
processes, with glibc's malloc as it comes and with the suite's ``malloc =
"keep"`` settings, to show how much a step's time depends on the process
(memory handed back to the kernel and faulted in again every step). Run it
on an otherwise idle machine::

    python benchmarks/noise.py                     # writes results/noise/benchmark.md
    python benchmarks/noise.py --tries 1 --out /tmp/noise
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_lib.config import parse_config  # noqa: E402
from bench_lib.harness.environment import environment  # noqa: E402
from bench_lib.schema import CellSpec  # noqa: E402
from bench_lib.harness.runner import group_cells, run_group  # noqa: E402
from bench_lib.verdicts import compare_turns  # noqa: E402
from bench_lib.suite import expand_cells  # noqa: E402

STRATEGIES = ("pad", "dynamic", "pack-cutstock")
RATIOS = (("pack-cutstock", "pad"), ("dynamic", "pad"))
TOLERANCE = 0.10
SUITE = "interleaved, 1 thread, CPU clock"
SMOKE = "smoke settings (2 x 4 windows, raised to 4 s a cell)"
PROTOCOLS = {
    SUITE: {"suite": {"threads": 1, "interleave": True, "repeats": 5, "clock": "auto"},
            "train": {"windows": 16, "window_s": 0.05}},
    # benchmarks/smoke.toml's timing as a user writes it: the suite raises its windows (min_timed_s)
    # ...
    SMOKE: {"suite": {"threads": 1, "interleave": True, "repeats": 2, "clock": "auto"},
            "train": {"windows": 4, "window_s": 0.05}},
    # ... and as written (min_timed_s = 0), 0.4 s of windows a cell: what the raise is for
    "smoke settings as written (0.4 s a cell)": {"suite": {"threads": 1, "interleave": True,
                                                           "repeats": 2,
                                                          "clock": "auto", "min_timed_s": 0},
                                                "train": {"windows": 4, "window_s": 0.05}},
    "interleaved, 1 thread, wall clock": {"suite": {"threads": 1, "interleave": True, "repeats": 5,
                                                    "clock": "wall"},
                                          "train": {"windows": 16, "window_s": 0.05}},
    "sequential, 2 threads, wall clock": {"suite": {"threads": 2, "interleave": False, "repeats": 3,
                                                    "clock": "wall",
                                                    "malloc": "default"},
                                          "train": {"windows": 10, "window_s": 0.0}},
}
BURN = ("import time, os, sys\nend = time.time() + float(sys.argv[1])\nparent = "
        "os.getppid()\nwhile time.time() < end and os.getppid() == parent:\n    for _ in "
        "range(100000):\n        pass\n")


def cells(protocol: dict):
    doc = {"suite": {"name": "noise", "strategies": list(STRATEGIES),
                     "fairness": ["equal-padded-budget"],
                     **protocol["suite"]},
           "train": {"warmup_steps": 3, **protocol["train"]},
           "models": {"gin": {"hidden": 32, "layers": 2}},
           "datasets": {"nci5k": {"n_graphs": 600, "models": ["gin"], "node_slots": 512,
                                  "pack_nodes": 128}}}
    cfg = parse_config(doc)
    return group_cells(expand_cells(cfg), cfg.interleave)


def measure(protocol: dict) -> tuple[dict[str, float], dict[str, float], float, float]:
    """graphs/s per strategy, the ratios of ``RATIOS`` from the paired turns (as the report's
    verdicts read them; the ratio of medians for cells that did not take turns), and the medians
    over cells of the CPU share the cells got and of the CPUs busy with other work."""
    rates, windows, share, others = {}, {}, [], []
    for group in cells(protocol):
        for rec in run_group(group):
            if rec["status"] != "ok":
                raise RuntimeError(f"{rec['strategy']}: {rec['error']}")
            rates[rec["strategy"]] = rec["graphs_per_s"]
            windows[rec["strategy"]] = rec["window_graphs_per_s"]
            share.append(rec["cpu_share_median"])
            others.append(rec["others_cpus_mean"])
    paired = {}
    for a, b in RATIOS:
        v = compare_turns([windows[a]], [windows[b]]) if protocol["suite"]["interleave"] else None
        paired[f"{a}/{b}"] = v.ratio if v is not None else rates[a] / rates[b]
    return rates, paired, statistics.median(share), statistics.median(others)


class Burners:
    """``n`` CPU-burning processes, each ending by itself after ``limit_s`` (or with this script).

    Each runs in a session of its own, as another program on the machine
    would: with Linux's autogroup scheduling, CPU time is shared between
    sessions first, so burners in this script's session would hardly slow
    the cells (which run in sessions of their own) at all."""

    def __init__(self, n: int, limit_s: float) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", BURN, str(limit_s)],
                                       start_new_session=True)
                      for _ in range(n)]
        time.sleep(1.0)

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def lottery_cell(malloc: str) -> CellSpec:
    """qm9/SchNet/pack-lpfhp at the default suite's equal-padded budget, throughput only."""
    doc = {"suite": {"name": "lottery", "strategies": ["pack-lpfhp"],
                     "fairness": ["equal-padded-budget"],
                     "repeats": 3, "malloc": malloc},
           "models": {"schnet": {"hidden": 64, "filters": 64, "interactions": 3}},
           "datasets": {"qm9": {"n_graphs": 5000, "models": ["schnet"], "node_slots": 576,
                                "pack_nodes": 72}}}
    (cell,) = expand_cells(parse_config(doc))
    return cell


def lottery(processes: int) -> list[dict]:
    rows = []
    for malloc in ("default", "keep"):
        cell = lottery_cell(malloc)
        for k in range(processes):
            rec = run_group([cell])[0]
            if rec["status"] != "ok":
                raise RuntimeError(rec["error"])
            rows.append({"malloc": malloc, "process": k + 1, "step_ms": 1e3 * rec["step_s"],
                         "page_faults_per_step": rec["page_faults_per_step"]})
            print(f"lottery {malloc} {k + 1}: step {rows[-1]['step_ms']:.1f} ms, "
                  f"{rows[-1]['page_faults_per_step']:,.0f} page faults/step", file=sys.stderr)
    return rows


def lottery_table(rows: list[dict]) -> list[str]:
    lines = ["| malloc | step ms, one process each | slowest / fastest | page faults per step "
             "(median) |",
             "|---|---|---:|---:|"]
    for malloc in ("default", "keep"):
        ms = [r["step_ms"] for r in rows if r["malloc"] == malloc]
        faults = statistics.median(r["page_faults_per_step"] for r in rows if r["malloc"] == malloc)
        lines.append(f"| {malloc} | {', '.join(f'{x:.1f}' for x in ms)} | {max(ms) / min(ms):.2f} "
                     f"| {faults:,.0f} |")
    return lines


def run(tries: int, names: list[str] | None = None) -> list[dict]:
    rows = []
    for t in range(tries):
        for name, protocol in PROTOCOLS.items():
            if names and name not in names:
                continue
            for condition in ("quiet", "loaded"):
                burners = Burners(2, limit_s=600) if condition == "loaded" else None
                try:
                    start = time.perf_counter()
                    rates, paired, share, others = measure(protocol)
                    rows.append({"try": t + 1, "protocol": name, "condition": condition,
                                 "rates": rates,
                                 "paired": paired,
                                 "seconds": round(time.perf_counter() - start, 1),
                                 "cpu_share": share,
                                 "others_cpus": others})
                finally:
                    if burners:
                        burners.stop()
                print(f"try {t + 1} {name} {condition}: "
                      + ", ".join(f"{s} {r:,.0f}" for s, r in rates.items()),
                      file=sys.stderr)
    return rows


def table(rows: list[dict]) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """The rows, then each ratio's move from quiet to loaded: of the medians' ratio (graphs/s) and
    of the paired turns' ratio (what the report's verdicts read). Returns the worst moves per
    protocol, both."""
    lines = ["| try | protocol | condition | " + " | ".join(f"{s} graphs/s" for s in STRATEGIES)
             + " | "
             + " | ".join(f"{a}/{b}" for a, b in RATIOS) + " | "
             + " | ".join(f"{a}/{b} paired" for a, b in RATIOS)
             + " | CPU share of a cell | other CPUs busy |",
             "|---:|---|---|" + "---:|" * (len(STRATEGIES) + 2 * len(RATIOS) + 2)]
    worst: dict[str, float] = {}
    worst_paired: dict[str, float] = {}
    for row in rows:
        r = row["rates"]
        ratios = [r[a] / r[b] for a, b in RATIOS]
        paired = [row["paired"][f"{a}/{b}"] for a, b in RATIOS]
        lines.append(f"| {row['try']} | {row['protocol']} | {row['condition']} | "
                     + " | ".join(f"{r[s]:,.0f}" for s in STRATEGIES) + " | "
                     + " | ".join(f"{x:.2f}" for x in ratios + paired)
                     + f" | {row['cpu_share']:.2f} | {row['others_cpus']:.2f} |")
    lines += ["", "| try | protocol | " + " | ".join(f"{a}/{b} loaded vs quiet" for a, b in RATIOS)
              + " | "
              + " | ".join(f"{a}/{b} paired, loaded vs quiet" for a, b in RATIOS) + " |",
              "|---:|---|" + "---:|" * (2 * len(RATIOS))]
    for t in sorted({row["try"] for row in rows}):
        for name in dict.fromkeys(row["protocol"] for row in rows):
            def pick(cond):
                return next(row for row in rows if row["try"] == t and row["protocol"] == name
                            and row["condition"] == cond)
            q, ld = pick("quiet"), pick("loaded")
            moves = [(ld["rates"][a] / ld["rates"][b]) / (q["rates"][a] / q["rates"][b]) - 1
                     for a, b in RATIOS]
            paired = [ld["paired"][f"{a}/{b}"] / q["paired"][f"{a}/{b}"] - 1 for a, b in RATIOS]
            worst[name] = max(worst.get(name, 0.0), *(abs(m) for m in moves))
            worst_paired[name] = max(worst_paired.get(name, 0.0), *(abs(m) for m in paired))
            lines.append(f"| {t} | {name} | " + " | ".join(f"{m:+.1%}" for m in moves + paired)
                         + " |")
    return lines, worst, worst_paired


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=2, help="quiet/loaded pairs per protocol")
    parser.add_argument("--processes", type=int, default=4,
                        help="processes per malloc setting (second table)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "noise")
    parser.add_argument("--protocols", help="protocol names to run, separated by ';' (default: "
                                            "all): "
                                            + "; ".join(PROTOCOLS))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.protocols.split(";")] if args.protocols else None
    unknown = set(names or ()) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocol(s) {sorted(unknown)}; valid: {'; '.join(PROTOCOLS)}")
    env = environment()
    rows = run(args.tries, names)
    lines, worst, worst_paired = table(rows)
    lottery_rows = lottery(args.processes) if args.processes else []
    verdict = ["", *(f"- {name}: the ratios moved by at most {w:.1%} between quiet and loaded "
                     f"({'within' if w <= TOLERANCE else 'NOT within'} {TOLERANCE:.0%}); the "
                     f"paired turns' ratios by at most "
                     f"{worst_paired[name]:.1%}" for name, w in worst.items())]
    args.out.mkdir(parents=True, exist_ok=True)
    text = "\n".join([
        "# Noise: strategy ratios on a quiet machine and beside two CPU-burning processes", "",
        f"`python benchmarks/noise.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
        f"{env['cpu']} ({env['cpu_count']} CPUs), git commit {env['git_commit']}, "
        f"{time.strftime('%Y-%m-%d')}.", "",
        "nci5k, 600 molecules, GIN (hidden 32, 2 layers), equal-padded-budget (512 node slots, "
        "packs of 128). *Loaded*: two processes spinning on the CPU for the whole measurement, "
        "each in a session of its own, started and stopped by the script. *CPU share of a cell*: "
        "process CPU time / (wall time x threads), median over windows and cells; *other CPUs "
        "busy*: CPUs the rest of the machine kept busy while a cell's windows ran (from "
        "/proc/stat), median over cells. *paired*: the ratio of the two cells' rates over the "
        "turns they took together (the mean of the paired log-ratios, as the report's verdicts "
        "read it); the sequential protocol's cells took no turns, so its paired column is the "
        "ratio of the medians. The smoke protocols run `benchmarks/smoke.toml`'s timing (2 repeats "
        "of 4 windows of 0.05 s): as the suite runs it, with its windows raised until each cell is "
        "timed for 4 s (`min_timed_s`), and as written.",
        "", *lines, *verdict, "",
        "## One cell, several processes", "",
        f"qm9 (5,000 molecules), SchNet (64/64/3), `pack-lpfhp` at 576 node and about 9,750 edge "
        f"slots per step, run alone {args.processes} times per setting (3 repeats of 16 windows "
        f"each); step time on the CPU clock. *default*: glibc's malloc as it comes; *keep*: the "
        f"suite's `malloc = \"keep\"` (`MALLOC_MMAP_THRESHOLD_=32 MiB`, `MALLOC_TRIM_THRESHOLD_=1 "
        f"GiB`).", "",
        *(lottery_table(lottery_rows) if lottery_rows else ["(not run: --processes 0)"]), ""])
    (args.out / "benchmark.md").write_text(text)
    (args.out / "benchmark.json").write_text(json.dumps({"environment": env, "rows": rows,
                                                         "protocols": PROTOCOLS,
                                                         "lottery": lottery_rows}, indent=1))
    print(text)
    return 0 if all(worst[n] <= TOLERANCE for n in (SUITE, SMOKE) if n in worst) else 1


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
