"""Run by tests/harness/test_distributed.py under ``torch.distributed.run --nproc-per-node 2``.

For each (strategy, backend) below, every rank sets up the cell as the
worker does (:class:`CellRun` with ``ranks=2``), takes one global step
through the cell's own data-parallel step, and rank 0 writes to ``argv[1]``:
every rank's gradients after that step, the store indices of the graphs
each rank trained on, and the gradient one process computes from the same
initial weights over one unpadded batch of all those graphs.
"""

import copy
import sys

import torch
import torch.distributed as dist

from bench_lib.schema import CellSpec
from bench_lib.harness.distributed import gather
from bench_lib.harness.step import masked_loss
from bench_lib.harness.train import CellRun
from bench_lib.deps import resolve_backend
from bench_lib.models.ops import TorchOps
from bench_lib.strategies.collate import collate

# DGL's kernels where DGL imports (the bench_lib[dgl] stack), plain torch otherwise
CASES = [("pack-lpfhp", {"max_nodes": 96, "max_graphs": 12}, resolve_backend("auto")),
         ("dynamic", {"batch_graphs": 7}, "torch")]


def main(out: str) -> None:
    results = {}
    for strategy, params, backend in CASES:
        spec = CellSpec(dataset="nci5k", n_graphs=200, strategy=strategy, strategy_params=params,
                        model="gin",
                        model_params={"hidden": 16, "layers": 2}, backend=backend, target="tpsa_A2",
                        ranks=2,
                        warmup_steps=0)
        run = CellRun(spec)
        batch, ops, _ = run._build()
        run._compute(batch, ops)
        grads = {k: p.grad.clone() for k, p in run.model.named_parameters()}
        graphs = batch.graph_index[batch.graph_mask].tolist()
        every = gather((grads, graphs))
        ref = copy.deepcopy(run.model)
        ref.load_state_dict(run.init_state)
        ref.zero_grad()
        union = collate(run.store, [g for _, gs in every for g in gs], None)
        masked_loss(ref(union, ops=TorchOps(union)), union, 0, ref.target_std).backward()
        results[strategy] = {"ranks": every, "single": {k: p.grad.clone()
                                                        for k, p in ref.named_parameters()},
                             "padded": bool(batch.static_shape)}
    if run.rank == 0:
        torch.save(results, out)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    finally:
        # A rank that leaves with its gloo group alive can abort at exit ("terminate called
        # without an active exception", seen on torch 2.14.1): wait for both, then close it.
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
