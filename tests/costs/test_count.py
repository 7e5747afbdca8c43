"""Counted costs (bench_lib.costs.count, bench_lib.harness.counted): each counter against a hand
computation, and the same numbers for the same plan twice and in another process."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from bench_lib.costs.count import CostCounter, count_step

F32 = 4


def test_a_linear_training_step_by_hand():
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    costs = count_step(lambda b: lin(b).sum(), torch.optim.SGD(lin.parameters(), lr=0.1), x)
    f, b, o = costs.forward, costs.backward, costs.optimizer
    # forward: addmm (4x3 @ 3x2: 2*4*2*3 = 48 FLOPs; reads bias, x, W; writes 4x2), sum (8 adds;
    # writes 1)
    assert (f.ops, f.flops) == (2, 48 + 8)
    assert (f.bytes_read, f.bytes_written) == ((2 + 12 + 6) * F32 + 8 * F32, (8 + 1) * F32)
    # backward: ones_like of the loss (a fill), grad W = grad_y^T @ x (2*2*3*4 = 48), grad b = sum
    # (8)
    assert (b.ops, b.flops) == (3, 0 + 48 + 8)
    assert (b.bytes_read, b.bytes_written) == ((8 + 12) * F32 + 8 * F32, (1 + 6 + 2) * F32)
    # SGD: p += -lr * grad for W and b: 8 FLOPs, reads p and grad, writes p
    assert (o.ops, o.flops, o.bytes_read, o.bytes_written) == (2, 8, 2 * 8 * F32, 8 * F32)
    assert costs.total.ops == 7 and costs.total.syncs == 0


def test_message_passing_operators_by_hand():
    x = torch.randn(4, 3)
    index = torch.tensor([0, 2, 2])
    with CostCounter() as counter:
        rows = x.index_select(0, index)          # a gather: 0 FLOPs, reads 3 rows and the index
        out = torch.zeros(4, 3)                  # a fill: writes 4 rows
        # a scatter-add: 9 adds, reads index + source + touched rows
        out.index_add_(0, index, rows)
    c = counter.costs.forward
    assert (c.ops, c.flops) == (3, 9)
    assert c.bytes_read == (9 * F32 + 3 * 8) + 0 + (3 * 8 + 9 * F32 + 9 * F32)
    assert c.bytes_written == 9 * F32 + 12 * F32 + 9 * F32


def test_denormal_work_by_hand():
    tiny = torch.finfo(torch.float32).tiny
    x = torch.ones(4, 16)                        # four 64-byte vectors
    x[0, 3] = tiny / 4                           # one of them holds a denormal
    w = torch.ones(16, 2)
    with CostCounter() as counter:
        # 2 * 4 * 16 * 2 = 256 FLOPs; a quarter of x's vectors
        torch.mm(x, w)
        torch.mm(w.t(), w)                       # none
        x * 2                                    # 64 FLOPs, 512 bytes; a quarter
    matmul = counter.costs.forward.by_kind["matmul"]
    ops, flops, moved, denormal_flops, denormal_bytes, squared = matmul
    first, second = (4 * 16 + 16 * 2 + 4 * 2) * F32, (16 * 2 + 16 * 2 + 2 * 2) * F32
    assert (ops, flops, moved, denormal_flops) == (2, 256 + 128, first + second, 256 / 4)
    assert denormal_bytes == first / 4
    # the size the average byte passes through
    assert squared == first ** 2 + second ** 2
    elementwise = counter.costs.forward.by_kind["elementwise"]
    assert elementwise[3:] == [64 / 4, 2 * 64 * F32 / 4, (2 * 64 * F32) ** 2]


def test_peak_live_bytes_by_hand():
    x = torch.randn(12)  # before counting: not the step's
    with CostCounter() as counter:
        a = x * 2        # 48 bytes live
        b = a + 1        # 96
        del a            # freed: 48
        c = b * b        # 96 again
        d = c.view(3, 4)  # a view: no new memory
        e = torch.empty(6)  # an allocation: 24 more, no operator
    assert counter.costs.peak_bytes == 2 * 12 * F32 + 6 * F32
    assert counter.costs.forward.ops == 3
    del b, d, e


def _cell_costs(strategy: str, model: str = "gin") -> dict:
    from bench_lib.config import parse_config
    from bench_lib.harness.train import CellRun
    from bench_lib.suite import expand_cells

    data = ({"nci5k": {"n_graphs": 240, "node_slots": 256, "pack_nodes": 128}} if model == "gin"
            else {"qm9": {"n_graphs": 200, "node_slots": 288, "pack_nodes": 72, "models": [model]}})
    cfg = parse_config({"suite": {"strategies": [strategy], "backend": "torch"}, "datasets": data,
                        "models": {model: {"hidden": 16}}})
    spec = dataclasses.replace(expand_cells(cfg)[0], repeats=1, windows=1, warmup_steps=1)
    run = CellRun(spec)
    run.warmup()
    run.window(0)
    metrics = run.finish()
    return {k: metrics[k] for k in metrics if k in COUNTED}


COUNTED = ("counted_steps", "flops_per_step", "flops_per_graph", "bytes_per_step",
           "bytes_per_graph", "ops_per_step",
           "ops_forward", "ops_backward", "ops_optimizer", "syncs_per_step", "peak_tensor_mib",
           "padding_flops_share", "padding_bytes_share", "padding_peak_share", "resident_mib",
           "costs_by_kind", "costs_by_kind_unpadded",
           "ops_optimizer_foreach")


@pytest.mark.slow
def test_a_cells_counts_are_the_same_twice_and_in_another_process():
    first, second = _cell_costs("pack-lpfhp"), _cell_costs("pack-lpfhp")
    code = ("import json; from tests.costs.test_count import _cell_costs; "
            "print(json.dumps(_cell_costs('pack-lpfhp')))")
    other = json.loads(subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[2])).stdout.splitlines()[-1])
    assert set(first) == set(COUNTED) and first["counted_steps"] == 2
    assert first == second == other


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gin", "schnet"])
def test_padding_shares_follow_the_slots(model):
    pad, dynamic, packed = (_cell_costs(s, model) for s in ("pad", "dynamic", "pack-lpfhp"))
    assert dynamic["padding_flops_share"] == dynamic["padding_bytes_share"] == 0.0  # nothing padded
    assert (pad["padding_flops_share"] > 0.3
            and pad["padding_flops_share"] > 3 * packed["padding_flops_share"])
    assert 0 < packed["padding_flops_share"] < 0.3
    assert pad["flops_per_graph"] > 1.5 * dynamic["flops_per_graph"]
    assert pad["ops_forward"] == dynamic["ops_forward"]  # the same operators, on other shapes
    # a GPU's Adam: lists, not loops
    assert 0 < dynamic["ops_optimizer_foreach"] < dynamic["ops_optimizer"] / 5


def test_a_model_that_cannot_be_counted_leaves_the_cell_standing(monkeypatch):
    import bench_lib.harness.counted as counted

    def refuse(*args, **kwargs):
        raise NotImplementedError("this model runs on DGL's kernels only")

    monkeypatch.setattr(counted, "counted_costs", refuse)
    from bench_lib.config import parse_config
    from bench_lib.harness.train import CellRun
    from bench_lib.suite import expand_cells

    cfg = parse_config({"suite": {"strategies": ["dynamic"], "backend": "torch"},
                        "datasets": {"nci5k": {"n_graphs": 200, "node_slots": 256}},
                        "models": {"gin": {"hidden": 16}}})
    run = CellRun(dataclasses.replace(expand_cells(cfg)[0], repeats=1, windows=1, warmup_steps=1))
    run.warmup()
    run.window(0)
    metrics = run.finish()
    assert metrics["counted_steps"] == 0 and metrics["graphs_per_s"] > 0
    assert metrics["counted_error"] == "NotImplementedError: this model runs on DGL's kernels only"


def test_an_epoch_of_one_batch_is_counted():
    from bench_lib.config import parse_config
    from bench_lib.harness.counted import counted_costs
    from bench_lib.harness.train import CellRun, make_loss
    from bench_lib.suite import expand_cells

    cfg = parse_config({"suite": {"strategies": ["dynamic"], "backend": "torch"},
                        "datasets": {"nci5k": {"n_graphs": 100, "graphs_per_step": 64}},
                        "models": {"gin": {"hidden": 8}}})
    # a suite refuses a split smaller than a step
    spec = dataclasses.replace(expand_cells(cfg)[0], n_graphs=12)
    run = CellRun(spec)
    assert len(list(run.loader.plan(0).batches())) == 1
    costs = counted_costs(run.model, run.init_state, lambda model,
                          batch: make_loss(model, run.task, spec)(batch),
                          run.loader)
    assert costs["counted_steps"] == 1 and costs["flops_per_step"] > 0
