#!/usr/bin/env bash
# Projection against measurement on a GPU, sized by estimate (not yet run) for about 8 minutes: the default suite's qm9 cells
# (SchNet and PaiNN; pad, dynamic, pack-lpfhp; equal-padded-budget; one seed; throughput only) on
# device cuda, eager and CUDA graphs (one recording per shape), and the compile routes on SchNet's
# qm9 cells' strategies (compile-static for pad and pack-lpfhp, compile-marked for dynamic), then
# each cell's measured step time beside the step time
# bench_lib.costs.project projects for the device profile named by $PROFILE (default h200) from the
# same cells' counted costs. Writes $OUT/gpu_check/{records.csv,projection.md}.
#
#   OUT=/tmp/out PROFILE=h200 bash benchmarks/gpu_check.sh
#
# It has not run yet: no GPU has been lent to this project (see results/projection/).
set -euo pipefail
OUT=${OUT:-results}
PROFILE=${PROFILE:-h200}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT/gpu_check"
cat > "$OUT/gpu_check/suite.toml" <<TOML
[suite]
name = "gpu-check"
strategies = ["pad", "dynamic", "pack-lpfhp"]
fairness = ["equal-padded-budget"]
seeds = [0]
repeats = 3
device = "cuda"
backend = "torch"
execution = ["eager", "cudagraphs", "compile-static", "compile-marked"]
execution_only = { compile-static = ["pad", "pack-lpfhp"], compile-marked = ["dynamic"] }
mode = "train"
timeout_s = 300
[train]
warmup_steps = 5
window_s = 0.1
windows = 8
max_steps = 1
train_time_limit_s = 60
[models.schnet]
hidden = 64
filters = 64
interactions = 3
gaussians = 25
cutoff = 6.0
[models.painn]
hidden = 32
interactions = 2
rbf = 20
cutoff = 5.0
[datasets.qm9]
n_graphs = 5000
models = ["schnet", "painn"]
node_slots = 576
pack_nodes = 72
TOML
timeout 540 "$PY" -m bench_lib.suite --config "$OUT/gpu_check/suite.toml" --out "$OUT/gpu_check" --report-dir "$OUT/gpu_check/report"
"$PY" - "$OUT/gpu_check" "$PROFILE" <<'PYTHON'
import json, sys
from pathlib import Path
import pandas as pd
from bench_lib.costs.project import gpu_ops, load_profiles, project_step_s
out, profile = Path(sys.argv[1]), load_profiles()[sys.argv[2]]
r = pd.read_csv(out / "records.csv")
r = r[(r.status == "ok") & (r.counted_steps > 0)]
rows = ["| cell | execution | measured step ms | projected ms | projected / measured |", "|---|---|---:|---:|---:|"]
for x in r.itertuples():
    ops = gpu_ops(x._asdict())
    p = project_step_s(json.loads(x.costs_by_kind), ops, profile, "cudagraphs" if x.execution == "cudagraphs" else "eager")
    rows.append(f"| {x.dataset}/{x.strategy}/{x.model} | {x.execution} | {x.step_s * 1e3:.2f} | {p * 1e3:.2f} | {p / x.step_s:.2f} |")
text = f"# Projected ({profile.name}) against measured on this GPU\n\n" + "\n".join(rows) + "\n"
(out / "projection.md").write_text(text)
print(text)
PYTHON
