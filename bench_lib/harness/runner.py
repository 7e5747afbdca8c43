"""Run cells, each in its own process, timed in turns; append their records.

:func:`run_group` starts one worker process per cell of a group (the cells
of one dataset, model and seed: every strategy and view), all at once, and
drives them by command (:mod:`bench_lib.harness.worker`): setups one after
another (so that planning times are not contended), then the timed windows
in turns, one window per cell per turn, the first cell of each turn
rotating; so every strategy is timed across the same stretch of time and a
machine that gets busier or quieter during the group affects all alike.
Then each cell trains to its target alone and reports its metrics; its
record is handed to ``on_record`` at once and its process exits.

Each cell has its own process, so its memory peak is its own; a cell that
raises, crashes, is killed for memory or runs past its ``timeout_s`` (the
time spent on its own commands) becomes a ``failed`` record with the
reason, and the others go on.

The records file is :mod:`bench_lib.harness.records`' (its functions are
importable from here too).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from bench_lib.schema import (COLD_CACHE_FLAG, ENVIRONMENT_SKIP, METRIC_FIELDS, SCHEMA_VERSION,
                              CellSpec)
from bench_lib.harness.distributed import (TEMP_PREFIX, lost_rank, proc_stat, rank_env,
                                           runner_alive, torchrun_command)
from bench_lib.harness.records import append_record, read_records, record_done, rewrite_without
from bench_lib.harness.turns import Decide, timed_turns

__all__ = ["ENVIRONMENT_SKIP", "TEMP_PREFIX", "sweep_stale_temp", "run_group", "record_done",
           "run_cell", "append_record", "read_records", "rewrite_without", "group_cells",
           "worker_env",
           "KEEP_MALLOC"]


def group_cells(cells: list[CellSpec], interleave: bool = True) -> list[list[CellSpec]]:
    """Cells in the groups that are timed together, in first-appearance order
    (each cell its own group when ``interleave`` is False)."""
    if not interleave:
        return [[c] for c in cells]
    groups: dict[tuple, list[CellSpec]] = {}
    for c in cells:
        groups.setdefault(c.group_key(), []).append(c)
    return list(groups.values())


#: glibc malloc settings of a ``malloc = "keep"`` cell: allocations up to 32 MiB come from the heap
#: (not a fresh mmap each time) and up to 1 GiB of free heap is kept rather than trimmed.
KEEP_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


#: torch.distributed's variables: a worker gets torchrun's own (ranks > 1) or none.
_DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK",
              "ROLE_WORLD_SIZE",
              "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def worker_env(spec: CellSpec) -> dict[str, str]:
    """The environment variables a cell's worker gets on top of the suite's."""
    env = {"OMP_NUM_THREADS": str(spec.threads), "MKL_NUM_THREADS": str(spec.threads),
           "OUTDATED_IGNORE": "1"}
    if spec.malloc == "keep":
        env.update(KEEP_MALLOC)
    return env


def descendants(pid: int) -> list[int]:
    """Process ids of ``pid``'s children, their children and so on (Linux ``/proc``; none
    elsewhere)."""
    parents: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in filter(str.isdigit, names):
        try:
            ppid = int(proc_stat(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found



def sweep_stale_temp(folder: str | None = None) -> list[str]:
    """Remove the cell folders (:data:`TEMP_PREFIX`) that a runner killed with SIGKILL left behind:
    those whose runner process is gone. Returns the folders removed."""
    folder = folder or tempfile.gettempdir()
    removed = []
    for kind in ("inductor", "torchrun"):
        for path in Path(folder).glob(f"{TEMP_PREFIX}{kind}_*"):
            pid = path.name[len(f"{TEMP_PREFIX}{kind}_"):].split("_", 1)[0]
            if not pid.isdigit() or runner_alive(int(pid)):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


class _Worker:
    """One cell's worker process and its command channel."""

    def __init__(self, spec: CellSpec, log_path: Path | None) -> None:
        self.spec = spec
        self.used_s = 0.0
        self.result: dict | None = None
        self.closed = False  # close() ran to its end (the process gone, its folders removed)
        self.phase = "starting"
        self.partial: dict = {}  # the throughput metrics, once the worker has sent them
        self.rates: list[float] = []  # each timed window's real graphs/s, in the order they ran
        self.turn_fields: dict = {}  # turn_group, decide_looks, decided_turns: set by the runner
        # A suite started under torchrun (or another launcher) must not hand its own rank to a
        # worker.
        env = {k: v for k, v in os.environ.items() if k not in _DIST_VARS}
        env.update(worker_env(spec))
        # A compiled cell compiles from a cold cache of its own (gone with the cell), like a first
        # run; an eager cell's torch may still make inductor's folder (torchinductor_<user>): it
        # goes with the cell too.
        self._cache = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}inductor_{os.getpid()}_")
        # torchrun's agent writes into a folder of the cell's, gone with the cell.
        self._torchrun = (tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}torchrun_{os.getpid()}_")
                          if spec.ranks > 1 else None)
        env.update({"TORCHINDUCTOR_CACHE_DIR": self._cache,
                    "TRITON_CACHE_DIR": os.path.join(self._cache, "triton")})
        if spec.compiled:
            env[COLD_CACHE_FLAG] = "1"
        # The worker imports the same bench_lib as this process, whatever its working folder.
        env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_ROOT,
                                             *filter(None, [os.environ.get("PYTHONPATH")])])
        command = [sys.executable, "-m", "bench_lib.harness.worker"]
        # torchrun starts the ranks; rank 0 answers, every rank watches this process
        if spec.ranks > 1:
            env.update(rank_env(spec.device))
            command = torchrun_command(spec.ranks, self._torchrun)
        # Without a log folder the log is a file with no name, gone with its last handle even after
        # a kill.
        self._log = open(log_path, "w+") if log_path else tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env,
                                     start_new_session=True)
        self._buf = b""
        self._send({"spec": json.loads(spec.to_json())})

    @property
    def alive(self) -> bool:
        return self.result is None

    def _send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the process is gone; the read below says how

    def _read_line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b""
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def wait(self) -> dict | None:
        """The answer to the last command, or None after recording why the
        cell failed (timeout, crash); a result answer ends the cell."""
        t = time.perf_counter()
        line = self._read_line(max(0.0, self.spec.timeout_s - self.used_s))
        self.used_s += time.perf_counter() - t
        if line is None:
            self.kill()
            self._fail(f"timeout: the cell ran past its limit of {self.spec.timeout_s:g} s and was "
                       f"killed")
            return None
        if not line:
            code = self.proc.wait()
            how = (f"killed by signal {-code}" + (" (out of memory?)" if code == -signal.SIGKILL
                                                  else "")
                   if code < 0 else f"exited with code {code}")
            self._fail(f"worker {how} without a result\n{self._log_tail()}")
            return None
        msg = json.loads(line)
        if msg.get("event") == "result":
            self.result = msg
            self.close()
            return None
        return msg

    def _log_tail(self, n: int = 800) -> str:
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - n))
        return self._log.read()

    def command(self, cmd: str, **args) -> dict | None:
        """Send ``cmd`` and wait for its answer; None when the cell has ended."""
        self.phase = cmd
        self._send({"cmd": cmd, **args})
        return self.wait()

    def _fail(self, reason: str) -> None:
        self.result = {"status": "failed", "error": f"{reason} (during {self.phase})",
                       "metrics": {}}
        self.close()

    def kill(self) -> None:
        # torchrun starts each rank in a session of its own: they are killed by pid, a hung or
        # stopped one too.
        ranks = descendants(self.proc.pid) if self.spec.ranks > 1 else []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in ranks:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc.stdout.close()
        self._log.close()
        for folder in (self._cache, self._torchrun):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        self.closed = True

    def record(self, environment: dict) -> dict:
        """The cell's record; a cell that failed after its throughput phase keeps those metrics."""
        res = self.result
        metrics = res["metrics"] or self.partial
        unknown = set(metrics) - set(METRIC_FIELDS)
        if unknown:
            raise ValueError(f"worker returned metrics not in the schema: {sorted(unknown)}")
        return {"schema_version": SCHEMA_VERSION, "cell_id": self.spec.cell_id,
                "status": res["status"],
                "error": res["error"], "wall_s": round(self.used_s, 3),
                **json.loads(self.spec.to_json()), "environment": environment, **metrics,
                **self.turn_fields}


class _Quiet:
    def note(self, text: str) -> None:
        pass

    def cell_done(self, spec: CellSpec, record: dict) -> None:
        pass


def _tear_down(workers: list[_Worker], lock: threading.Lock, stopping: threading.Event) -> None:
    """End a group: no record is taken after this, and every worker not closed yet is killed and
    closed (a stop may land while a finished cell closes)."""
    with lock:
        stopping.set()
    for w in [w for w in workers if not w.closed]:
        w.kill()
        w.close()


def run_group(specs: list[CellSpec], environment: dict | None = None, log_dir: Path | None = None,
              on_record: Callable[[dict], None] | None = None, progress=None,
              decide: "Decide | None" = None, train_parallel: int = 1,
              retry: bool = True) -> list[dict]:
    """Run ``specs`` as one interleaved group; returns their records in order.

    Args:
      environment: stored in every record.
      log_dir: each cell's log is ``log_dir/<cell_id>.log`` (a nameless temporary file when None).
      on_record: called with each record as soon as its cell ends.
      progress: an object with ``note(text)`` and ``cell_done(spec, record)``.
      decide: add turns after the fixed ones until every verdict is decided (:class:`Decide`).
      train_parallel: cells that train to their target side by side after the timed turns (steps to
        a target do not depend on the load; the time to target is steps x the turns' step time).
      retry: a data-parallel cell failed for a reason of timing (:func:`timing_failure`) runs
        again, alone.
    """
    progress = progress or _Quiet()
    environment = environment or {}
    records: dict[str, dict] = {}
    turn_group = uuid.uuid4().hex[:12]

    lock = threading.Lock()  # cells that train side by side end from their own threads
    # the group is being torn down (an interrupt): a killed cell is not recorded
    stopping = threading.Event()
    again: list[tuple[CellSpec, str]] = []  # cells to run once more, with their first error

    def finish(w: _Worker) -> None:
        with lock:
            if stopping.is_set():
                return
            rec = w.record(environment)
            if retry and timing_failure(w.spec, rec):
                again.append((w.spec, rec["error"]))
                progress.note(
                    f"{w.spec.label()} failed ({rec['error'].splitlines()[0][:160]}); a "
                    f"data-parallel cell runs once more after this group")
                return
            records[w.spec.cell_id] = rec
            if on_record is not None:
                on_record(rec)
            progress.cell_done(w.spec, rec)

    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
    workers: list[_Worker] = []
    try:
        # train-only cells: nothing timed, nothing to take turns
        if specs and all(s.repeats == 0 for s in specs):
            _train_only(specs, workers, log_dir, train_parallel, progress, finish,
                        {"turn_group": turn_group, "decide_looks": 1}, lock, stopping)
        else:
            fields = {"turn_group": turn_group, "decide_looks": decide.looks if decide else 1}
            _interleaved(specs, workers, log_dir, fields, progress, finish, decide, train_parallel)
    finally:
        _tear_down(workers, lock, stopping)
    for spec, first in again:
        records[spec.cell_id] = _run_again(spec, first, environment, log_dir, on_record, progress)
    return [records[s.cell_id] for s in specs if s.cell_id in records]


def timing_failure(spec: CellSpec, record: dict) -> bool:
    """Whether a failed data-parallel cell failed for a reason of timing rather than of its own: a
    rank that went away or joined too late (:func:`bench_lib.harness.distributed.lost_rank`), or a
    worker that died without a result. The cell's own time limit is not one: a hang stays a
    failure."""
    error = record.get("error") or ""
    return (spec.ranks > 1 and record.get("status") == "failed" and not error.startswith("timeout:")
            and (lost_rank(error) or "without a result" in error))


def _run_again(spec: CellSpec, first: str, environment: dict, log_dir, on_record, progress) -> dict:
    """Run ``spec`` once more, alone (its first attempt's log kept as ``<cell_id>.attempt1.log``);
    its record says so in ``retried``, whatever the outcome."""
    if log_dir and (Path(log_dir) / f"{spec.cell_id}.log").exists():
        os.replace(Path(log_dir) / f"{spec.cell_id}.log",
                   Path(log_dir) / f"{spec.cell_id}.attempt1.log")
    progress.note(f"running again: {spec.label()}")

    def noted(rec: dict) -> None:
        rec["retried"] = first
        if on_record is not None:
            on_record(rec)

    rec = run_group([spec], environment, log_dir, noted, progress, retry=False)[0]
    rec["retried"] = first
    return rec


def _interleaved(specs: list[CellSpec], workers: list[_Worker], log_dir, turn_fields: dict,
                 progress, finish,
                 decide: Decide | None, train_parallel: int) -> None:
    """The phases of an interleaved group: a worker per cell started and its imports waited for, the
    setups and warm-ups one cell after another, the timed turns, each cell's throughput phase closed
    (its metrics kept as ``partial``, should it die training), then training to the targets,
    ``train_parallel`` at a time. Started workers are appended to ``workers`` as they start, for the
    caller to stop."""
    progress.note(f"starting {len(specs)} worker(s)")
    # one at a time, so that a failed start leaves the started ones to the caller's cleanup
    for s in specs:
        workers.append(_Worker(s, Path(log_dir) / f"{s.cell_id}.log" if log_dir else None))
    for w in workers:  # imports run in parallel; wait for each
        w.turn_fields = dict(turn_fields)
        if w.wait() is None:
            finish(w)
    for phase in ("setup", "warmup"):
        for k, w in enumerate([w for w in workers if w.alive
                               and (phase == "setup" or w.spec.repeats)]):
            progress.note(f"{phase} {k + 1}: {w.spec.label()}")
            if w.command(phase) is None:
                finish(w)
    timed_turns(workers, progress, finish, decide)
    for w in [w for w in workers if w.alive]:
        answer = w.command("throughput")
        if answer is None:
            finish(w)
        else:
            w.partial = answer["metrics"]
    _finish_all([w for w in workers if w.alive], train_parallel, progress, finish)


def _train_only(specs: list[CellSpec], workers: list[_Worker], log_dir, parallel: int, progress,
                finish,
                turn_fields: dict, lock: threading.Lock, stopping: threading.Event) -> None:
    """Cells with no timed window (train-only seeds), ``parallel`` at a time, each from its start to
    its end in one slot: started when a slot frees (no pile of processes importing at once), set up,
    then trained to the target. Their setups run beside each other, so their planning time is not
    kept."""

    def one(spec: CellSpec) -> None:
        with lock:  # none starts once the group is being torn down (its cleanup takes the lock)
            if stopping.is_set():
                return
            w = _Worker(spec, Path(log_dir) / f"{spec.cell_id}.log" if log_dir else None)
            workers.append(w)
        w.turn_fields = dict(turn_fields)
        if w.wait() is None:  # the import failed (or a skip): its result is recorded
            finish(w)
            return
        progress.note(f"setup: {spec.label()}")
        for cmd in ("setup", "throughput"):
            answer = w.command(cmd)
            if answer is None:
                finish(w)
                return
        w.partial = answer["metrics"]
        _train(w, progress, finish)

    _pool(specs, one, parallel)


def _pool(items: list, job, parallel: int) -> None:
    """``job(item)`` for every item, ``parallel`` at a time (in threads; in this thread when 1). An
    interrupt does not wait for the threads: the group's cleanup kills their workers."""
    if parallel <= 1 or len(items) <= 1:
        for item in items:
            job(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="bench_lib_cell")
    try:
        for future in [pool.submit(job, item) for item in items]:
            future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _finish_all(workers: list[_Worker], parallel: int, progress, finish) -> None:
    """Send ``finish`` (train to the target, then the result) to ``workers``, ``parallel`` at a
    time; each result is recorded as it comes. A cell's own time limit still holds (its thread waits
    for it)."""

    _pool(workers, lambda w: _train(w, progress, finish), parallel)


def _train(w: _Worker, progress, finish) -> None:
    """Send ``finish`` to ``w`` (train to the target, then the result) and record its result."""
    progress.note(f"training: {w.spec.label()}" if w.spec.goal is not None
                  and w.spec.model != "none" else f"finishing: {w.spec.label()}")
    if w.command("finish") is not None:  # an answer that is not a result: a protocol error
        w.kill()
        w._fail("the worker answered 'finish' without a result")
    finish(w)


def run_cell(spec: CellSpec, environment: dict | None = None, log_dir: Path | None = None) -> dict:
    """Run ``spec`` alone in a worker process; returns its record (never raises
    for the cell's own failure)."""
    return run_group([spec], environment, log_dir)[0]
