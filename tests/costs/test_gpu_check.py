"""benchmarks/gpu_check.sh, all but the CUDA calls: its suite plans the cells it says, with no
training."""

from __future__ import annotations

import re
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_gpu_check_plans_its_cells_without_a_gpu():
    from bench_lib.config import parse_config
    from bench_lib.suite import expand_cells

    text = SCRIPT.read_text()
    toml = re.search(r"<<TOML\n(.*?)\nTOML\n", text, re.S).group(1)
    cfg = parse_config(tomllib.loads(toml))
    cells = expand_cells(cfg)
    routes = {"pad": "compile-static", "pack-lpfhp": "compile-static", "dynamic": "compile-marked"}
    assert sorted({(c.model, c.strategy, c.execution) for c in cells}) == sorted(
        (m, s, x) for m in ("schnet", "painn") for s in ("pad", "dynamic", "pack-lpfhp")
        for x in ("eager", "cudagraphs", routes[s]))
    assert all(c.device == "cuda" and c.backend == "torch" and c.repeats == 3 for c in cells)
    assert "timeout 540" in text  # under 10 minutes, the suite's part
