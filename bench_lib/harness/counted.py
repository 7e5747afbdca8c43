"""A cell's counted costs: FLOPs, bytes, operators and peak tensor bytes of its own steps.

The first :data:`COUNTED_STEPS` batches of the cell's first epoch (its plan, its shapes; an epoch of
one batch counts that batch) are run as training steps under
:class:`~bench_lib.costs.count.CostCounter`, on a copy of the model at its initial weights with a
fresh Adam (one uncounted step first, so that the optimiser's state exists as in every later step),
eagerly on the plain-torch operators whatever the cell's backend, and with the random state restored
afterwards: the cell's own steps are untouched. Each batch is counted
twice: as the strategy built it, and with the same real graphs unpadded (bench_lib's collate, no
slots beyond the graphs' own); the difference is what the padding slots cost.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch

from bench_lib.costs.count import KINDS, TALLY, CostCounter, StepCosts, count_step
from bench_lib.strategies.collate import collate

__all__ = ["COUNTED_STEPS", "counted_costs", "eager_spec", "mean_by_kind"]

#: Batches counted per cell (the first ones of the first epoch; fewer when the epoch is shorter).
COUNTED_STEPS = 2


def _totals(costs: list[StepCosts]) -> dict:
    total = [c.total for c in costs]
    return {"flops": float(np.sum([t.flops for t in total])),
            "bytes": float(np.sum([t.bytes_read + t.bytes_written for t in total])),
            "ops": float(np.sum([t.ops for t in total])),
            "peak": float(max(c.peak_bytes for c in costs))}


def counted_costs(model: torch.nn.Module, init_state: dict, loss_of, loader,
                  steps: int = COUNTED_STEPS) -> dict:
    """The counted columns of a cell's record (``counted_steps`` and after, in
    :data:`~bench_lib.schema.METRICS`): ``model`` (copied, reset to ``init_state``), its loss
    ``loss_of(model, batch)`` on plain-torch operators, the batches of ``loader``'s first epoch."""
    plan = loader.plan(0)
    batches = [(loader.indices[p], plan.shape_of(b))
               for b, p in enumerate(plan.batches())][:steps + 1]
    if not batches:
        return {"counted_steps": 0}
    if len(batches) == 1:  # an epoch of one batch: it warms the optimiser and is counted
        batches *= 2
    with torch.random.fork_rng():
        model = copy.deepcopy(model).cpu()
        model.load_state_dict(init_state)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        def step(batch):
            return loss_of(model, batch)
        count_step(step, opt, loader.collate(*batches[0]))  # Adam's state, as in later steps
        padded, real, graphs, batch_bytes = [], [], 0, 0
        for graph_index, shape in batches[1:]:
            batch = loader.collate(graph_index, shape)
            batch_bytes = max(batch_bytes, batch.nbytes())
            padded.append(count_step(step, opt, batch))
            real.append(count_step(step, opt, collate(loader.store, graph_index)))
            graphs += len(graph_index)
        foreach = _foreach_optimizer_ops(model)
    n = len(padded)
    as_batched, unpadded = _totals(padded), _totals(real)
    share = {k: 0.0 if not as_batched[k] else max(0.0,
                                                  1.0 - unpadded[k] / as_batched[k])
             for k in as_batched}
    phases = {p: np.mean([getattr(c, p).ops for c in padded])
              for p in ("forward", "backward", "optimizer")}
    return {
        "counted_steps": n,
        "flops_per_step": as_batched["flops"] / n, "flops_per_graph": as_batched["flops"] / graphs,
        "bytes_per_step": as_batched["bytes"] / n, "bytes_per_graph": as_batched["bytes"] / graphs,
        "ops_per_step": as_batched["ops"] / n, "ops_forward": phases["forward"],
        "ops_backward": phases["backward"], "ops_optimizer": phases["optimizer"],
        "ops_optimizer_foreach": foreach,
        "syncs_per_step": float(np.mean([c.forward.syncs + c.backward.syncs for c in padded])),
        "peak_tensor_mib": as_batched["peak"] / 2**20,
        "padding_flops_share": share["flops"], "padding_bytes_share": share["bytes"],
        "padding_peak_share": share["peak"],
        "resident_mib": (3 * sum(p.numel() * p.element_size() for p in model.parameters())
                         + batch_bytes) / 2**20,
        "costs_by_kind": mean_by_kind(padded), "costs_by_kind_unpadded": mean_by_kind(real),
    }


def mean_by_kind(costs: list[StepCosts]) -> dict:
    """{kind: the mean tally per step} over the steps ``costs`` (every kind of :data:`KINDS`, zeros
    where none ran)."""
    kinds = [c.total.by_kind for c in costs]
    return {k: [float(np.mean([d.get(k, [0] * len(TALLY))[i] for d in kinds]))
                for i in range(len(TALLY))]
            for k in KINDS}


def _foreach_optimizer_ops(model: torch.nn.Module) -> float:
    """Operators of one step of Adam as a GPU runs it by default (``foreach``: one operator per list
    of tensors), on the gradients the last counted step left: a CPU's Adam loops over the
    parameters."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
    opt.step()  # its state, as in later steps
    counter = CostCounter()
    counter.phase = "optimizer"
    with counter:
        opt.step()
    return float(counter.costs.optimizer.ops)


def eager_spec(spec):
    """``spec`` as an eager cell (counting runs the operators one by one)."""
    return dataclasses.replace(spec, execution="eager")
