"""Data-parallel cells: ``ranks > 1`` worker processes under ``torch.distributed.run``.

A cell with ``ranks = N > 1`` is started by the runner as
``python -m torch.distributed.run --standalone --nproc-per-node N -m bench_lib.harness.worker``
(:func:`torchrun_command`): N rank processes on this machine, each with
``threads`` torch threads, joined in one process group (gloo on a CPU,
NCCL for CUDA tensors with gloo beside it for the control messages).
Rank 0 talks to the runner as a one-process cell does and broadcasts every
command to the other ranks, so that all of them run the same phases.

The strategy plans each epoch once, globally, the same on every rank (same
plan, same seed); the epochs' batches, in order, are dealt round-robin:
global step ``k`` is batches ``kN .. kN + N - 1`` and rank ``r`` trains on
batch ``kN + r`` (:func:`rank_batches`). Each rank's loss is its batch's
squared error summed over its real graphs with a label, divided by the
number of such graphs in the whole global step (known to every rank from
the plan, :func:`global_denominators`); the gradients are summed across
ranks. So one global step's gradient is exactly the gradient of the mean
loss over all its graphs, as one process would compute it on their union.

The model is wrapped in ``DistributedDataParallel`` with a communication
hook (:class:`TimedDDP`) that notes when each rank's last gradient bucket
is ready: a step's time splits into batch building, compute (forward and
backward up to that hook, plus the optimiser step) and the wait for the
gradient all-reduce: on one machine almost all of it is waiting for the
slowest rank (the straggler wait). :func:`straggler_metrics` summarises the
ranks' per-step readings.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from typing import Iterator

import numpy as np

__all__ = ["RUNNER_PID_ENV", "BACKEND_ENV", "TIMEOUT_ENV", "torchrun_command", "rank_env", "world",
           "init_process_group",
           "rank_batches", "global_denominators", "TimedDDP", "broadcast", "gather",
           "straggler_metrics",
           "runner_alive", "proc_stat", "LOST_RANK", "lost_rank", "TEMP_PREFIX"]

#: A cell's temporary folders are named ``bench_lib_<what>_<runner pid>_...`` (a compile cache,
#: torchrun's): the runner makes them, a worker whose runner is gone removes its own.
TEMP_PREFIX = "bench_lib_"

#: The runner's process id, watched by every rank: a rank exits when the suite that started it is
#: gone.
RUNNER_PID_ENV = "BENCH_LIB_RUNNER_PID"
#: The process group's backend, set by the runner from the cell's device.
BACKEND_ENV = "BENCH_LIB_DIST_BACKEND"
#: Seconds a collective may wait. Ranks other than 0 wait in a broadcast while the runner drives
#: the group's other cells (their training can take far longer than this cell's own ``timeout_s``,
#: which counts only this cell's commands): the runner's kill at ``timeout_s`` is the real limit.
TIMEOUT_ENV = "BENCH_LIB_DIST_TIMEOUT"
COLLECTIVE_TIMEOUT_S = 7 * 24 * 3600.0
#: How a rank's error begins when its collective failed because another rank went away (died, or was
#: too slow to join on a busy machine): the other rank's own error, if it had one, is in the cell's
#: log.
LOST_RANK = "lost a rank (another rank died or stopped answering; the cell's log has its side)"
#: What gloo, the c10d store and torchrun's rendezvous say when a peer goes away or joins too late.
_LOST_RANK_SIGNS = ("Connection reset by peer", "Connection closed by peer", "Connection refused",
                    "Broken pipe",
                    "DistNetworkError", "DistStoreError", "RendezvousTimeoutError",
                    "RendezvousConnectionError",
                    "Socket Timeout", "Timed out waiting", "timed out after")


def lost_rank(error: str) -> bool:
    """Whether ``error`` (a rank's or torchrun's text) reads as a peer that went away rather than as
    the cell's own failure: what a busy machine can do to a data-parallel cell."""
    return LOST_RANK in error or any(sign in error for sign in _LOST_RANK_SIGNS)


def torchrun_command(ranks: int, log_dir: str) -> list[str]:
    """The command line of a ``ranks``-process worker on this machine. ``log_dir``: torchrun's
    folder for its agent's files (without one it makes a ``torchelastic_*`` temp folder and
    never removes it); the caller removes it."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={ranks}",
            "--max-restarts=0", "--monitor-interval=0.5", f"--log-dir={log_dir}", "-m",
            "bench_lib.harness.worker"]


def rank_env(device: str) -> dict[str, str]:
    """Environment variables of a data-parallel worker (on top of the one-process ones)."""
    backend = "gloo" if device == "cpu" else "cpu:gloo,cuda:nccl"
    return {RUNNER_PID_ENV: str(os.getpid()), BACKEND_ENV: backend,
            TIMEOUT_ENV: str(COLLECTIVE_TIMEOUT_S)}


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process as torchrun set them (``(0, 1)`` outside torchrun)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_process_group(timeout_s: float = COLLECTIVE_TIMEOUT_S) -> None:
    """Join the process group torchrun describes (idempotent)."""
    import torch.distributed as dist

    if dist.is_initialized():
        return
    dist.init_process_group(backend=os.environ.get(BACKEND_ENV, "gloo"),
                            timeout=datetime.timedelta(seconds=timeout_s))


def proc_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, parent pid, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def runner_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux ``/proc``; else ``kill(pid,
    0)``)."""
    try:
        return proc_stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def broadcast(obj=None):
    """Rank 0's ``obj`` on every rank (a pickled object over the CPU group)."""
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _epochs(loader) -> Iterator[tuple[np.ndarray, object]]:
    """``(store indices, shape)`` of every batch, epoch after epoch."""
    epoch = 0
    while True:
        plan = loader.plan(epoch)
        for b, positions in enumerate(plan.batches()):
            yield loader.indices[positions], plan.shape_of(b)
        epoch += 1


def rank_batches(loader, rank: int, ranks: int):
    """Rank ``rank``'s batches: batch ``k * ranks + rank`` of the endless epoch stream
    (only these are collated)."""
    for k, (index, shape) in enumerate(_epochs(loader)):
        if k % ranks == rank:
            yield loader.collate(index, shape)


def global_denominators(loader, valid: np.ndarray, ranks: int) -> Iterator[int]:
    """For each global step, the graphs with a label (``valid``, per store graph) in its ``ranks``
    batches."""
    total, k = 0, 0
    for index, _ in _epochs(loader):
        total += int(valid[index].sum())
        k += 1
        if k % ranks == 0:
            yield total
            total = 0


class TimedDDP:
    """``DistributedDataParallel`` whose gradient all-reduce notes when this rank's gradients were
    ready.

    ``ready`` is the ``perf_counter`` at which the last gradient bucket of the
    current backward was handed to the all-reduce; the backward returns when
    every rank's gradients are summed (a sum, not a mean: the loss is already
    divided by the global step's graph count)."""

    def __init__(self, model, device) -> None:
        import torch
        import torch.distributed as dist

        self.ready = 0.0
        # On CUDA the hook waits for the device before reading the clock, so that ``ready`` is when
        # the gradients exist, not when the CPU queued their kernels (it gives up overlapping the
        # all-reduce with the rest of the backward when a model has several buckets; these models
        # have one).
        self._sync = ((lambda: torch.cuda.synchronize(device)) if device.type == "cuda"
                      else (lambda: None))
        ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
        # broadcast_buffers=False: the buffers (target statistics) are the same on every rank and
        # never change; broadcasting them would add a collective at the start of each forward.
        self.module = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=ids, broadcast_buffers=False)
        self.module.register_comm_hook(self, TimedDDP._hook)
        self._dist = dist

    @staticmethod
    def _hook(state: "TimedDDP", bucket):
        state._sync()
        state.ready = time.perf_counter()
        fut = state._dist.all_reduce(bucket.buffer(), async_op=True).get_future()
        return fut.then(lambda f: f.value()[0])


def straggler_metrics(per_rank: list[dict]) -> dict:
    """Summary of the ranks' timed steps.

    ``per_rank[r]`` holds equal-length lists ``build_s``, ``compute_s``,
    ``wait_s``, ``nodes``, ``edges`` and ``graphs`` (one entry per global
    step) and ``peak_rss_mib``.

    In a global step the slowest rank hands in its gradients last and waits
    only for the all-reduce itself; every other rank waits that long plus
    the time until the slowest was ready. So the smallest wait of the step is
    the all-reduce's own time and the rest of each rank's wait is straggler
    wait. The straggler share of a step is the ranks' straggler wait over
    their step time (build + compute + wait), both summed over ranks; the
    all-reduce share is the same for the all-reduce's own time."""
    arr = {k: np.array([r[k] for r in per_rank], dtype=np.float64)
           for k in ("build_s", "compute_s", "wait_s", "nodes", "edges", "graphs")}
    step = arr["build_s"] + arr["compute_s"] + arr["wait_s"]  # [ranks, steps]
    if step.shape[1] == 0:
        raise RuntimeError("no timed global step ran")
    allreduce = arr["wait_s"].min(0)  # [steps]
    straggler = arr["wait_s"] - allreduce
    rank_time = np.maximum(step.sum(0), 1e-12)
    share = straggler.sum(0) / rank_time
    nodes = arr["nodes"]
    mean_nodes = np.maximum(nodes.mean(0), 1e-12)
    edges = arr["edges"]
    mean_edges = np.maximum(edges.mean(0), 1e-12)
    def rnd(xs, d=6):
        return [round(float(x), d) for x in xs]
    return {
        "straggler_share_mean": float(share.mean()),
        "straggler_share_p90": float(np.percentile(share, 90)),
        "allreduce_share_mean": float((len(per_rank) * allreduce / rank_time).mean()),
        "rank_compute_s": rnd(arr["compute_s"].mean(1)),
        "rank_wait_s": rnd(arr["wait_s"].mean(1)),
        "rank_build_s": rnd(arr["build_s"].mean(1)),
        "rank_real_nodes_per_step": rnd(nodes.mean(1), 2),
        "rank_real_edges_per_step": rnd(edges.mean(1), 2),
        "rank_peak_rss_mib": rnd([r["peak_rss_mib"] for r in per_rank], 1),
        "node_imbalance": float((nodes.max(0) / mean_nodes).mean()),
        "edge_imbalance": float((edges.max(0) / mean_edges).mean()),
        "global_steps_timed": int(step.shape[1]),
        "graphs_per_global_step": float(arr["graphs"].sum(0).mean()),
    }
