"""``python -m bench_lib.harness.worker``: one cell's process, driven by the runner.

The runner writes JSON lines to the worker's stdin and reads one JSON line
back per command from its stdout; everything else the process prints goes
to stderr (the cell's log). The first line is ``{"spec": {...}}``; the
worker imports what the cell needs and answers ``{"event": "imported"}``.
Then, one answer each:

- ``{"cmd": "setup"}``: dataset, plan, model (:class:`CellRun`);
- ``{"cmd": "warmup"}``: the untimed warm-up steps;
- ``{"cmd": "window", "repeat": r}``: one timed window, counted in repeat ``r``; the answer holds
  its real graphs/s (``rate``), which the runner's ``decide`` reads;
- ``{"cmd": "throughput"}``: closes the throughput phase and answers its
  metrics (so that they survive a cell killed while it trains);
- ``{"cmd": "finish"}``: the time-to-accuracy run, then the answer
  ``{"event": "result", "status", "error", "metrics"}`` and exit.

A cell that does not apply (``NotImplementedError``) or raises answers a
result with status ``skipped`` or ``failed`` at once and exits. The worker
exits when its stdin closes or its parent dies, so that a killed suite
leaves no worker behind.

A data-parallel cell (``ranks > 1``) runs this module in every rank under
``torch.distributed.run``: rank 0 reads the runner's lines and broadcasts
each to the other ranks, which run the same commands and answer nothing; a
rank other than 0 that fails exits at once (torchrun then stops the
others, and the runner records the cell as failed with the log's tail).
Every rank also exits as soon as the runner (``BENCH_LIB_RUNNER_PID``) or
its own parent (torchrun) is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import traceback

from bench_lib.harness.distributed import LOST_RANK, TEMP_PREFIX, lost_rank

__all__ = ["main"]

#: When this worker started (the runner's clock on the cell starts about then).
_STARTED = time.monotonic()


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _watch_parent(parent: int, runner: int | None) -> None:
    """Exit as soon as the parent is gone (reparented) or the runner is, even mid-command."""
    from bench_lib.harness.distributed import runner_alive

    while True:
        time.sleep(0.5)
        if os.getppid() != parent or (runner is not None and not runner_alive(runner)):
            _drop_cache()
            os._exit(3)


def _drop_cache() -> None:
    """Remove the cell's own inductor folder (named with :data:`TEMP_PREFIX`) as the worker
    ends: a runner killed with SIGKILL cannot remove it, and its worker ends on its own (the parent
    gone, or stdin closed). The worker's own children (inductor's compile workers, a compiler it
    started) go first: they would write into the folder after it was removed. A folder still written
    to by this process's other thread may need a second pass; what is left then, the next suite's
    sweep removes."""
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR", "")
    if not os.path.basename(cache).startswith(TEMP_PREFIX):
        return
    _end_children()
    for _ in range(3):
        shutil.rmtree(cache, ignore_errors=True)
        if not os.path.exists(cache):
            return
        time.sleep(0.05)


def _end_children() -> None:
    """SIGKILL the other processes of this worker's process group, when the worker leads one (a
    single-rank worker runs in a session of its own; a rank under torchrun shares torchrun's group
    and kills nothing)."""
    import signal

    from bench_lib.harness.distributed import proc_stat

    me = os.getpid()
    if os.getpgrp() != me or not os.path.isdir("/proc"):
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if int(proc_stat(entry)[2]) == me:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue  # gone already, or not ours to read


def _broadcast_lines(lines):
    """Rank 0: the runner's lines, each broadcast to the other ranks as it is read."""
    from bench_lib.harness.distributed import broadcast

    for line in lines:
        broadcast(line)
        yield line
    broadcast(None)


def _received_lines():
    """Ranks other than 0: rank 0's lines, until it sends None."""
    from bench_lib.harness.distributed import broadcast

    while (line := broadcast(None)) is not None:
        yield line


def _failure(err: BaseException, during: str, ranks: int = 1) -> dict:
    """The record of a cell that raised ``err`` in phase ``during``: ``skipped`` for a
    ``NotImplementedError`` at setup (the cell does not apply), ``failed`` for anything else, the
    same error in a later phase included (it did apply, and broke). A data-parallel cell whose
    collective failed because another rank went away says so first (:data:`LOST_RANK`)."""
    # (an EnvironmentSkip is a NotImplementedError: skipped here, retried by a rerun)
    if isinstance(err, NotImplementedError) and during in ("import", "setup"):
        return {"event": "result", "status": "skipped", "error": f"{type(err).__name__}: {err}",
                "metrics": {}}
    tail = "".join(traceback.format_exception(err)[-3:])
    lost = f"{LOST_RANK}: " if ranks > 1 and lost_rank(f"{type(err).__name__}: {err}") else ""
    return {"event": "result", "status": "failed",
            "error": f"{lost}{type(err).__name__} (during {during}): {err}\n{tail}", "metrics": {}}


def _warm(spec, metrics: dict) -> dict:
    """A compiled cell on a cold cache of its own: its compile seconds again from that cache, now
    warm, in a new process (:mod:`bench_lib.harness.warm`); nothing for any other cell."""
    from bench_lib.schema import COLD_CACHE_FLAG

    if not (spec.compiled and os.environ.get(COLD_CACHE_FLAG) and metrics.get("compiles")):
        return {}
    from bench_lib.harness.warm import warm_compile_metrics

    # within what the runner leaves the cell (its timeout covers setup, timing and training),
    # keeping a margin for the answer
    left = spec.timeout_s - (time.monotonic() - _STARTED) - 30.0
    try:
        return warm_compile_metrics(spec, int(metrics["compiles"]),
                                    timeout_s=min(300.0, spec.timeout_s / 4, left))
    except Exception as err:  # noqa: BLE001 - the cell's own result stands
        return {"compile_warm_error": f"{type(err).__name__}: {err}"[:300]}


def serve(commands, answer) -> None:
    """Read commands from the ``commands`` line iterator; ``answer(dict)`` each."""
    from bench_lib.schema import CellSpec

    first = next(commands, None)
    if first is None:
        return
    spec = CellSpec(**json.loads(first)["spec"])
    run = None
    cmd = "import"
    try:
        if spec.backend == "dgl":
            from bench_lib.deps import import_dgl

            import_dgl()
        from bench_lib.harness.train import CellRun

        answer({"event": "imported"})
        for line in commands:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            t = time.perf_counter()
            if cmd == "setup":
                run = CellRun(spec)
            elif cmd == "warmup":
                run.warmup()
            elif cmd == "window":
                rate = run.window(int(msg["repeat"]))
                answer({"event": "done", "cmd": cmd, "s": time.perf_counter() - t, "rate": rate})
                continue
            elif cmd == "throughput":
                answer({"event": "done", "cmd": cmd, "s": time.perf_counter() - t,
                        "metrics": run.close_throughput()})
                continue
            elif cmd == "finish":
                run.train()
                metrics = run.finish()
                metrics.update(_warm(spec, metrics))
                answer({"event": "result", "status": "ok", "error": "", "metrics": metrics})
                return
            else:
                raise ValueError(f"unknown command {cmd!r}")
            answer({"event": "done", "cmd": cmd, "s": time.perf_counter() - t})
    except Exception as err:  # the cell's failure is its result; the suite goes on
        answer(_failure(err, cmd, spec.ranks))


def main() -> int:
    from bench_lib.harness.distributed import RUNNER_PID_ENV, TIMEOUT_ENV, init_process_group, world

    rank, size = world()
    runner = os.environ.get(RUNNER_PID_ENV)
    # Answers go to the original stdout (rank 0's); anything printed by libraries goes to stderr
    # (the log).
    channel = os.fdopen(os.dup(1), "w", buffering=1) if rank == 0 else None
    os.dup2(2, 1)
    threading.Thread(target=_watch_parent, args=(os.getppid(), int(runner) if runner else None),
                     daemon=True).start()
    if size > 1:
        init_process_group(float(os.environ.get(TIMEOUT_ENV, 900)))

    def answer(msg: dict) -> None:
        if channel is not None:
            channel.write(json.dumps(msg, default=_jsonable) + "\n")
            channel.flush()
        # rank > 0: say why in the log, then end the group at once
        elif msg.get("status") == "failed":
            print(f"rank {rank}: {msg['error']}", file=sys.stderr, flush=True)
            os._exit(1)

    lines = iter(sys.stdin.readline, "")
    try:
        serve(lines if size == 1 else _broadcast_lines(lines) if rank == 0 else _received_lines(),
              answer)
    # the runner is gone (killed) while this worker answered: nobody left to tell
    except BrokenPipeError:
        return 3
    finally:  # whichever way the worker ends, its cache folder goes with it
        if rank == 0:
            _drop_cache()
    if size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
