"""A results directory as the report reads it: the latest record of every cell, keyed by how its
step ran (:func:`with_arms`), and the suite's side files (config, environment, planning)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench_lib.report.tables import in_view, latest
from bench_lib.strategies.budget import VIEWS
from bench_lib.verdicts import MARGIN, off_budget

__all__ = ["Results", "with_arms"]


@dataclass
class Results:
    """What a results directory holds: the latest record per cell, and its side files."""

    path: Path
    records: pd.DataFrame
    config: dict
    environment: dict
    planning: dict

    @classmethod
    def read(cls, path: Path | str) -> "Results":
        path = Path(path)
        records_path = path / "records.csv"
        if not records_path.exists():
            raise FileNotFoundError(f"{records_path} not found: is {path} a bench_lib results "
                                    f"directory?")
        def load(name):
            return json.loads((path / name).read_text()) if (path / name).exists() else {}
        return cls(path, with_arms(latest(pd.read_csv(records_path))), load("config.json"),
                   load("environment.json"), load("planning.json"))

    @property
    def ran(self) -> pd.DataFrame:
        """Cells that ran or failed; skipped cells (the model does not apply) are left out."""
        return self.records[self.records.status != "skipped"]

    @property
    def interleaved(self) -> bool:
        return bool(self.config.get("interleave", True))

    @property
    def margin(self) -> float:
        """The equivalence margin m of the suite's verdicts (``margin`` in its ``[suite]``
        table)."""
        return float(self.config.get("margin", MARGIN))

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.records.dataset))

    def dataset_settings(self, dataset: str) -> dict:
        return {d["name"]: d for d in self.config.get("datasets", [])}.get(dataset, {})

    def groups(self, dataset: str):
        """``(model, view, records)`` of every table of ``dataset``, failed cells included; a
        strategy that did not carry the view's budget (:func:`bench_lib.verdicts.off_budget`) is
        left out of the view's tables, named with what it carried in the records'
        ``attrs["off_budget"]`` (``{strategy: (carried, budget)}``)."""
        sub = self.ran[self.ran.dataset == dataset]
        for model in dict.fromkeys(sub.model):
            for view in VIEWS:
                g = in_view(sub[sub.model == model], view)
                off = _off_budget(g, view) if len(g) else {}
                g = g[~g.strategy.isin(list(off))].copy()
                g.attrs["off_budget"] = off
                if len(g):  # a view whose every strategy was off its budget has no table
                    yield model, view, g


def _off_budget(g: pd.DataFrame, view: str) -> dict[str, tuple[float, float]]:
    """The strategies of ``g`` whose mean real graphs per step (over their cells) is off ``view``'s
    budget."""
    if "graphs_per_step_mean" not in g or "graphs_per_step_budget" not in g:
        return {}
    def num(col):
        return pd.to_numeric(g[col], errors="coerce")
    means = pd.DataFrame({"s": g.strategy, "carried": num("graphs_per_step_mean"),
                          "budget": num("graphs_per_step_budget")}).groupby("s", sort=False).mean()
    return {s: (float(r.carried), float(r.budget)) for s, r in means.iterrows()
            if off_budget(view, float(r.carried), float(r.budget))}


def with_arms(df: pd.DataFrame) -> pd.DataFrame:
    """Rows keyed by how the step ran as well as by strategy: ``strategy`` becomes
    ``pack-lpfhp`` (eager, built inline), ``pack-lpfhp+compile``,
    ``dynamic+prefetch2``...; the registry name stays in ``strategy_name``.
    Records from before the execution axis are eager and inline."""
    df = df.copy()
    df["strategy_name"] = df["strategy"]
    execution = (df["execution"].fillna("eager") if "execution" in df
                 else pd.Series("eager", index=df.index))
    prefetch = (pd.to_numeric(df["prefetch"], errors="coerce").fillna(0).astype(int)
                if "prefetch" in df else pd.Series(0, index=df.index))
    df["execution"] = execution
    ranks = pd.to_numeric(df["ranks"], errors="coerce").fillna(1).astype(int) if "ranks" in df \
        else pd.Series(1, index=df.index)
    # The same tags as CellSpec.label's (bench_lib.schema.execution_tags), written here: no harness
    # import.
    df["strategy"] = [s + ("" if x == "eager" else f"+{x}") + (f"+prefetch{p}" if p else "")
                      + (f"+{r}ranks" if r > 1 else "")
                      for s, x, p, r in zip(df["strategy_name"], execution, prefetch, ranks)]
    return df
