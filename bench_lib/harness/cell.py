"""A cell: dataset x strategy x model x budget x seed, and its result record.

A :class:`CellSpec` is built once at the edge (suite config or CLI) and sent
as JSON to the worker process that runs it. The worker's answer is a flat
record (:data:`RECORD_FIELDS`): the spec, the status, every metric with its
unit in its name, and the environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CellSpec", "SCHEMA_VERSION", "RECORD_FIELDS", "METRIC_FIELDS", "FAIRNESS_VIEWS"]

SCHEMA_VERSION = 1
FAIRNESS_VIEWS = ("equal-padded-budget", "equal-real-graphs", "manual")


@dataclass(frozen=True)
class CellSpec:
    """Everything one cell needs; equal specs give the same ``cell_id``.

    Attributes:
      dataset, n_graphs, dataset_options: the data (``n_graphs`` None: all).
      strategy, strategy_params: the batching strategy and its resolved
        parameters (see :mod:`bench_lib.harness.fairness`).
      model, model_params: ``schnet``/``gin`` or ``none`` (loader-only cell).
      fairness: which comparison the budget serves (``FAIRNESS_VIEWS``).
      node_budget: node slots per step (equal-padded-budget) or real graphs
        per step (equal-real-graphs) that the parameters were resolved for.
      target: target column; target_mae: validation MAE to reach (None: no
        time-to-accuracy run).
      seed: data order, split, initialisation and dropout.
      device, backend, threads: where and how the model runs.
      lr: Adam learning rate, constant (the same schedule for every cell).
      warmup_steps, timed_steps, repeats: the throughput measurement.
      eval_every, max_steps, train_time_limit_s: the time-to-accuracy run.
      timeout_s: the whole cell's wall-clock limit (the worker is killed).
    """

    dataset: str
    strategy: str
    model: str = "none"
    seed: int = 0
    n_graphs: int | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    strategy_params: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, Any] = field(default_factory=dict)
    fairness: str = "manual"
    node_budget: int = 0
    target: str | None = None
    target_mae: float | None = None
    device: str = "cpu"
    backend: str = "dgl"
    threads: int | None = None
    lr: float = 5e-4
    warmup_steps: int = 3
    timed_steps: int = 10
    repeats: int = 3
    eval_every: int = 50
    max_steps: int = 1000
    train_time_limit_s: float = 120.0
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.fairness not in FAIRNESS_VIEWS:
            raise ValueError(f"CellSpec.fairness must be one of {FAIRNESS_VIEWS} (got {self.fairness!r})")
        if self.backend not in ("dgl", "torch"):
            raise ValueError(f"CellSpec.backend must be 'dgl' or 'torch' (got {self.backend!r})")
        for name in ("warmup_steps", "timed_steps", "repeats", "eval_every", "max_steps"):
            if getattr(self, name) < (0 if name == "warmup_steps" else 1):
                raise ValueError(f"CellSpec.{name} must be positive (got {getattr(self, name)})")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CellSpec":
        return cls(**json.loads(text))

    @property
    def cell_id(self) -> str:
        """Stable hash of the spec (what resume matches on)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def label(self) -> str:
        return f"{self.dataset}/{self.strategy}/{self.model}/{self.fairness}:{self.node_budget}/seed{self.seed}"


#: Metric columns, units in the names.
METRIC_FIELDS = [
    "prepare_s", "graphs_per_s", "graphs_per_s_min", "graphs_per_s_max", "real_nodes_per_s",
    "padded_nodes_per_s", "step_s", "batch_build_share", "node_efficiency", "edge_efficiency",
    "graphs_per_step_mean", "padding_mib_per_step", "batch_mib_per_step", "peak_rss_mib", "baseline_rss_mib",
    "train_rss_mib",
    "cuda_max_mem_mib", "time_to_target_s", "steps_to_target", "reached_target", "best_val_mae",
    "final_val_mae", "train_steps", "train_s", "curve",
]

#: Every record column, in order.
RECORD_FIELDS = (["schema_version", "cell_id", "status", "error", "wall_s"]
                 + [f.name for f in dataclasses.fields(CellSpec)] + METRIC_FIELDS + ["environment"])
