"""``python -m bench_lib.harness.worker SPEC.json OUT.json``: run one cell.

Writes ``{"status", "error", "metrics"}`` to OUT.json (atomically) and exits
0 when the cell ran, was skipped (``NotImplementedError``) or raised; a crash
or a kill leaves no OUT.json, which the runner records as a failure.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench_lib.harness.worker SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    from bench_lib.deps import import_dgl
    from bench_lib.harness.cell import CellSpec
    from bench_lib.harness.train import run_cell_inprocess

    spec = CellSpec.from_json(spec_path.read_text())
    if spec.backend == "dgl":
        import_dgl()
    try:
        result = {"status": "ok", "error": "", "metrics": run_cell_inprocess(spec)}
    except NotImplementedError as err:
        result = {"status": "skipped", "error": f"NotImplementedError: {err}", "metrics": {}}
    except Exception as err:  # recorded as a failed cell; the suite goes on
        tail = "".join(traceback.format_exception(err)[-3:])
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}\n{tail}", "metrics": {}}
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=float))
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
