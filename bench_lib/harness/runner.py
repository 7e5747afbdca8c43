"""Run cells, each in its own process, and append their records.

``run_cell`` starts ``python -m bench_lib.harness.worker`` in a new process
group and waits at most ``spec.timeout_s``: a timeout kills the group, a
crash or an out-of-memory kill leaves no result, and each becomes a
``failed`` record with its reason while the caller carries on.

``append_record`` adds one CSV row with a single ``write`` on a file opened
for appending, so a killed suite leaves whole rows only; pandas reads the
file with no code of ours (``pd.read_csv``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_lib.harness.cell import METRIC_FIELDS, RECORD_FIELDS, SCHEMA_VERSION, CellSpec

__all__ = ["run_cell", "append_record", "read_records", "rewrite_without"]


def _cell(value):
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return "" if value is None else value


def append_record(path: Path, record: dict) -> None:
    """Append one row (and the header if the file is new) in one write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unknown = set(record) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"record has fields not in the schema: {sorted(unknown)}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RECORD_FIELDS, lineterminator="\n")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            writer.writeheader()
        writer.writerow({k: _cell(record.get(k)) for k in RECORD_FIELDS})
        os.write(fd, buf.getvalue().encode())
    finally:
        os.close(fd)


def read_records(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def rewrite_without(path: Path, cell_ids: set[str]) -> None:
    """Drop the rows of ``cell_ids`` (a failed cell about to be recorded again):
    the file is rewritten to a temporary name and renamed over the old one."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["cell_id"] not in cell_ids]
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RECORD_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(keep)
    os.replace(tmp, path)


def run_cell(spec: CellSpec, environment: dict | None = None, log_dir: Path | None = None) -> dict:
    """Run ``spec`` in a worker process; returns its record (never raises for the cell's own failure)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_lib_cell_") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(spec.to_json())
        log_path = Path(log_dir) / f"{spec.cell_id}.log" if log_dir else Path(tmp) / "worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "bench_lib.harness.worker", str(spec_path), str(out_path)],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = proc.wait(timeout=spec.timeout_s)
                reason = None
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code, reason = None, f"timeout: the cell ran past its limit of {spec.timeout_s:g} s and was killed"
        if reason is None and out_path.exists():
            result = json.loads(out_path.read_text())
        else:
            if reason is None:
                how = (f"killed by signal {-code}" + (" (out of memory?)" if code == -signal.SIGKILL else "")
                       if code is not None and code < 0 else f"exited with code {code}")
                tail = log_path.read_text()[-800:] if log_path.exists() else ""
                reason = f"worker {how} without a result\n{tail}"
            result = {"status": "failed", "error": reason, "metrics": {}}
    record = {"schema_version": SCHEMA_VERSION, "cell_id": spec.cell_id, "status": result["status"],
              "error": result["error"], "wall_s": round(time.perf_counter() - start, 3),
              **json.loads(spec.to_json()), "environment": environment or {}}
    metrics = result["metrics"]
    unknown = set(metrics) - set(METRIC_FIELDS)
    if unknown:
        raise ValueError(f"worker returned metrics not in the schema: {sorted(unknown)}")
    record.update(metrics)
    return record
