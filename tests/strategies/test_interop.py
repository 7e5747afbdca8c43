"""PyG's import, as bench_lib makes it: no folder left in TMPDIR."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_pyg_leaves_no_folder_in_the_temp_dir(tmp_path):
    code = "from bench_lib.strategies.interop import import_pyg; import_pyg()"
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not list(tmp_path.iterdir())  # PyG's import made torchinductor_<user>; it is gone again
