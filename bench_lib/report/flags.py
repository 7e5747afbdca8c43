"""The report's closing section, cells to look at: failed cells, data-parallel cells run twice,
seeds that never reached the target, memory peaks not reset after setup, cells timed apart from
their group."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench_lib.report.names import display_name
from bench_lib.report.tables import describe_metric, truthy

__all__ = ["flags_section"]


def _views(value) -> str:
    return ("+".join(json.loads(value)) if isinstance(value, str) and value.startswith("[")
            else str(value))


def flags_section(records: pd.DataFrame) -> list[str]:
    """The section "Cells to look at": failed cells, seeds that never reached the target, memory
    peaks not reset after setup, and cells timed apart from their group (or "None")."""
    lines = ["## Cells to look at", ""]
    for _, r in records[records.status != "ok"].iterrows():
        reason = str(r.error).splitlines()[0] if isinstance(r.error, str) else ""
        lines.append(f"- **{r.status}**: {display_name(r.dataset)} / `{r.strategy}` / {r.model} / "
                     f"{_views(r.views)} / seed {r.seed}: {reason}")
    if "retried" in records:
        again = records[records.retried.astype(object).fillna("").astype(str) != ""]
        for _, r in again.iterrows():
            lines.append(f"- ran twice: {display_name(r.dataset)} / `{r.strategy}` / {r.model} / "
                         f"{_views(r.views)} / seed {r.seed}: its first attempt failed for a "
                         f"reason of timing ({str(r.retried).splitlines()[0]}); the record is the "
                         f"second's ({r.status})")
    ok = records[records.status == "ok"]
    if "reached_target" in ok and "goal" in ok:
        trained = pd.to_numeric(ok.get("train_steps", pd.Series(np.nan, ok.index)),
                                errors="coerce").notna()
        # loader-only cells train nothing
        missed = ok[ok.goal.notna() & trained & ~ok.reached_target.map(truthy)]
        for _, r in missed.iterrows():
            label = describe_metric(r.metric)[1]
            lines.append(f"- never reached {label} {r.goal:g}: {display_name(r.dataset)} / "
                         f"`{r.strategy}` / {r.model} / {_views(r.views)} / seed {r.seed} (best "
                         f"{r.best_val_score:.3g} in {int(r.train_steps)} steps; stopped by "
                         f"{r.train_stop})")
    if "peak_reset_ok" in ok:
        for _, r in ok[~ok.peak_reset_ok.map(truthy)].iterrows():
            lines.append(f"- memory peak not reset after setup: {display_name(r.dataset)} / "
                         f"`{r.strategy}` / {r.model} / {_views(r.views)} / seed {r.seed}: its "
                         f"peak RSS columns include setup and imports")
    if "turn_group" in ok:
        for _, g in ok[ok.turn_group.notna()].groupby(["dataset", "model", "seed"]):
            main = g.turn_group.value_counts().index[0]
            for _, r in g[g.turn_group != main].iterrows():
                lines.append(
                    f"- timed apart from its group (re-run on resume or with --rerun-failed): "
                    f"{display_name(r.dataset)} / `{r.strategy}` / {r.model} / {_views(r.views)} / "
                    f"seed {r.seed}: its graphs/s is compared unpaired (its windows did not take "
                    f"turns with the others')")
    if len(lines) == 2:
        lines.append("None: every cell ran and reached its target.")
    return lines + [""]
