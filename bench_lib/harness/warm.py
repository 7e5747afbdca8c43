"""``python -m bench_lib.harness.warm``: a compiled cell's compile seconds from a warm cache.

A user's second run compiles the same step again in a new process, on the inductor cache the
first run filled (FX graphs, AOTAutograd artefacts, kernels): it pays less than a first run, and
the steps it takes to repay compiling move with it. After a compiled cell's last step, its worker
starts this module in a new process on the cell's own, now warm, cache folder
(:func:`warm_compile_metrics`); it sets the cell up again and steps until it has compiled as often
as the cell did, then a few steady steps more, and answers one JSON line: ``compile_warm_s``, the
steps' wall seconds beyond a steady step's (the cell's ``compile_s`` rule), and the compiles it
counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

__all__ = ["warm_compile_metrics", "main"]

#: Steady steps after the last compile, for the steady step time compile seconds are measured
#: against.
STEADY_STEPS = 5


def warm_compile_metrics(spec, compiles: int, timeout_s: float) -> dict:
    """``{"compile_warm_s": ...}`` of ``spec`` stepped in a new process on this process's inductor
    cache until ``compiles`` frames compiled (empty when it could not be measured in ``timeout_s``
    seconds: ``compile_warm_error`` says why)."""
    import dataclasses

    line = json.dumps({"spec": dataclasses.asdict(spec), "compiles": compiles})
    if timeout_s < 10:
        return {"compile_warm_error": f"not tried: {timeout_s:.0f} s left of the cell's timeout"}
    try:  # its log (stderr) goes to the cell's log, this process's stderr
        done = subprocess.run([sys.executable, "-m", "bench_lib.harness.warm"], input=line,
                              stdout=subprocess.PIPE, text=True, timeout=timeout_s,
                              env=dict(os.environ))
    except subprocess.TimeoutExpired:
        return {"compile_warm_error": f"the warm compile took more than {timeout_s:.0f} s"}
    except OSError as err:
        return {"compile_warm_error": f"could not start the warm compile: {err}"[:300]}
    answer = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    try:
        out = json.loads(answer[0]) if answer else None
    except json.JSONDecodeError:
        out = None
    if not isinstance(out, dict):
        return {"compile_warm_error": f"the warm compile ended with exit {done.returncode} and no "
                                      f"answer (its traceback is in the cell's log)"}
    if out.get("compile_warm_compiles", 0) < compiles:
        out["compile_warm_error"] = (f"the warm run compiled {out.get('compile_warm_compiles')} "
                                     f"time(s) of the cell's {compiles} within its steps: its "
                                     f"seconds are those compiles' only")
    return out


def measure(spec, compiles: int, max_steps: int = 400) -> dict:
    """Set ``spec`` up and step it until ``compiles`` frames compiled and :data:`STEADY_STEPS`
    steady steps followed (at most ``max_steps`` steps)."""
    from bench_lib.harness.step import sync
    from bench_lib.harness.train import CellRun

    run = CellRun(spec)
    steady: list[float] = []
    for _ in range(max_steps):
        seen, t = len(run.compiles.walls), time.perf_counter()
        run._step()
        sync(run.device)
        if len(run.compiles.walls) == seen:
            steady.append(time.perf_counter() - t)
        if run.compiles.frames() >= compiles and len(steady) >= STEADY_STEPS:
            break
    run.source.close()
    return {"compile_warm_s": run.compiles.seconds(steady),
            "compile_warm_compiles": run.compiles.frames()}


def main() -> int:
    from bench_lib.schema import CellSpec

    msg = json.loads(sys.stdin.readline())
    out = measure(CellSpec(**msg["spec"]), int(msg["compiles"]))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
