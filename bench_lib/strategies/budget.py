"""What a fair comparison holds fixed per step: a budget each strategy meets.

Two views, and every record says which it served:

:class:`SlotBudget` (``equal-padded-budget``): every strategy's batch has the
same node slots and the same edge slots per step (real plus padding; one
extra node slot for the padding graph). Padding then costs real graphs: a
wasteful strategy fits fewer real graphs in the same memory. Unpadded
strategies have no slots; they take as many graphs as fill the budget on
average.

:class:`GraphBudget` (``equal-real-graphs``): every strategy carries the same
mean number of real graphs per step; padding then costs memory and compute.

A strategy turns a budget into its own parameters with
``Strategy.for_budget(budget, n_node, n_edge)`` (see
:class:`bench_lib.strategies.Strategy`); the helpers here do the arithmetic
that several strategies share, so that a plugin's ``for_budget`` is a line
or two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np

__all__ = ["SlotBudget", "GraphBudget", "Budget", "VIEWS", "mean_graphs_per_step"]


@dataclass(frozen=True)
class SlotBudget:
    """Node and edge slots per step (``equal-padded-budget``).

    Attributes:
      node_slots: node slots per step, padding included (the padding graph's
        one extra node slot is not counted).
      edge_slots: edge slots per step, padding included.
      pack_nodes: node capacity of one pack, for packers; ``node_slots`` is a
        multiple of it and ``edge_slots`` a multiple of ``packs_per_step``.
    """

    view: ClassVar[str] = "equal-padded-budget"
    node_slots: int
    edge_slots: int
    pack_nodes: int

    def __post_init__(self) -> None:
        for name in ("node_slots", "edge_slots", "pack_nodes"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SlotBudget.{name} must be an integer >= 1 (got {value!r})")

    @property
    def packs_per_step(self) -> int:
        """Packs of ``pack_nodes`` per step; ``ValueError`` unless they fill ``node_slots``
        exactly."""
        k, rest = divmod(self.node_slots, self.pack_nodes)
        if k < 1 or rest:
            raise ValueError(f"node_slots={self.node_slots} is not a multiple of "
                             f"pack_nodes={self.pack_nodes}: packers would get "
                             f"{k * self.pack_nodes} node slots")
        return k

    def edges_per_pack(self) -> int:
        """Edge slots of one pack; ``ValueError`` unless the packs fill ``edge_slots`` exactly."""
        k = self.packs_per_step
        per_pack, rest = divmod(self.edge_slots, k)
        if rest:
            raise ValueError(f"edge_slots={self.edge_slots} is not a multiple of the {k} packs per "
                             f"step: packers would get {k * per_pack} edge slots")
        return per_pack

    def unpadded_batch_graphs(self, n_node: np.ndarray, n_edge: np.ndarray) -> int:
        """Graphs per step that fill the slots on average without padding:
        the fewer of ``node_slots / mean nodes`` and ``edge_slots / mean edges``."""
        mean_n = float(np.mean(n_node))
        mean_e = float(np.mean(n_edge))
        by_nodes = self.node_slots / max(mean_n, 1e-9)
        by_edges = self.edge_slots / mean_e if mean_e > 0 else by_nodes
        return max(1, int(round(min(by_nodes, by_edges))))


@dataclass(frozen=True)
class GraphBudget:
    """Mean real graphs per step (``equal-real-graphs``).

    Attributes:
      graphs_per_step: mean real graphs per step.
      pack_nodes: node capacity of one pack, for packers.
      seed: seed of the plans that budget searches run (planning only).
    """

    view: ClassVar[str] = "equal-real-graphs"
    graphs_per_step: int
    pack_nodes: int
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("graphs_per_step", "pack_nodes"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GraphBudget.{name} must be an integer >= 1 (got {value!r})")

    def unpadded_batch_graphs(self, n_node: np.ndarray, n_edge: np.ndarray) -> int:
        return self.graphs_per_step


Budget = Union[SlotBudget, GraphBudget]

#: The fairness views a budget can serve, then ``manual`` (parameters set by hand).
VIEWS = (SlotBudget.view, GraphBudget.view, "manual")


def mean_graphs_per_step(strategy, n_node: np.ndarray, n_edge: np.ndarray, seed: int = 0) -> float:
    """Mean real graphs per batch of ``strategy``'s first plan on these sizes."""
    planner = strategy.prepare(n_node, n_edge, np.random.default_rng(seed))
    plan = planner.plan_epoch(np.random.default_rng(seed))
    return len(plan.graph_index) / max(plan.n_batch, 1)
