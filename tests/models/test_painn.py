"""PaiNN: invariant energies, padding that stays exactly zero, and each graph's
prediction the same alone as in every strategy's batch (both backends, and
compiled on the torch backend)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.models import MODELS, PaiNN, create_model
from bench_lib.models.check import GRAD_TOL, PRED_TOL, check_batching
from bench_lib.models.ops import TorchOps, graph_ops
from bench_lib.strategies import STRATEGIES, collate
from bench_lib.strategies.loader import BatchLoader
from tests.stack import BACKENDS, runnable_strategies
from tests.models.test_equivalence import params_for


@pytest.fixture(scope="module")
def qm9(tmp_path_factory):
    return load_dataset("qm9", n_graphs=40, seed=2, cache_dir=tmp_path_factory.mktemp("cache"))


def painn(store, **params) -> PaiNN:
    torch.manual_seed(0)
    m = create_model("painn", store, **({"hidden": 16, "interactions": 2} | params))
    per_atom = torch.from_numpy(store.targets[:, 0]) / torch.from_numpy(store.n_node).float()
    m.set_target_stats(per_atom.mean(), per_atom.std())
    return m


def test_registered_with_what_it_needs():
    cls = MODELS.get("painn")
    assert cls is PaiNN and cls.needs == ("positions",) and cls.per_atom_target
    assert (dataclasses.asdict(cls.Config())
            == {"hidden": 128, "interactions": 3, "rbf": 20, "cutoff": 5.0,
                                                "max_z": 100})


def test_energy_is_invariant_to_rotation_and_translation(qm9):
    model = painn(qm9).eval()
    batch = collate(qm9, np.arange(6))
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))
    moved = dataclasses.replace(batch, positions=batch.positions @ q.T
                                + torch.tensor([1.0, -2.0, 0.5]))
    torch.testing.assert_close(model(moved), model(batch), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pad_vectors_and_pad_edge_messages_are_exactly_zero(qm9, backend):
    idx = np.arange(8)
    shape = STRATEGIES.create("dynamic-budget", max_nodes=int(qm9.n_node[idx].sum()) + 30).prepare(
        qm9.n_node, qm9.n_edge, np.random.default_rng(0)).shape
    batch = collate(qm9, idx, shape)
    assert (~batch.edge_mask).sum() > 0 and (~batch.node_mask).sum() > 0
    ops = graph_ops(batch, backend)
    messages, vectors = [], []
    real_scatter = ops.scatter_sum
    ops.scatter_sum = lambda msg: messages.append(msg) or real_scatter(msg)
    model = painn(qm9)
    for update in model.updates:
        update.register_forward_hook(lambda mod, args, out: vectors.append(out[1]))
    model(batch, ops=ops)
    assert len(messages) == 2 * len(model.messages) and len(vectors) == len(model.updates)
    for msg in messages:
        assert torch.count_nonzero(msg[~batch.edge_mask]) == 0
    for v in vectors:
        assert torch.count_nonzero(v[~batch.node_mask]) == 0
        assert torch.count_nonzero(v[batch.node_mask]) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_strategy_matches_each_graph_alone_in_single_precision(qm9, backend):
    strategies = {n: STRATEGIES.create(n, **params_for(n, qm9)) for n in runnable_strategies()}
    assert check_batching(painn(qm9), qm9, strategies, backend=backend, dtype=torch.float32) == []


@pytest.mark.slow
def test_compiled_batches_match_each_graph_alone(qm9):
    model = painn(qm9, hidden=8, interactions=1)
    compiled = torch.compile(model)
    alone = torch.cat([model(collate(qm9, np.array([g])),
                             ops=TorchOps(collate(qm9, np.array([g]))))[:1]
                       for g in range(qm9.n_graph)])[:, 0].detach()
    strategy = STRATEGIES.create("pack-lpfhp", max_nodes=int(qm9.n_node.max()) + 4,
                                 packs_per_batch=2)
    batches = list(BatchLoader(qm9, strategy, seed=1).epoch(0))
    assert len({b.shape for b in batches}) == 1
    for batch in batches:
        model.zero_grad()
        eager = model(batch, ops=TorchOps(batch))[:, 0]
        eager[batch.graph_mask].sum().backward()
        eager_grads = {k: p.grad.clone() for k, p in model.named_parameters()}
        model.zero_grad()
        out = compiled(batch, ops=TorchOps(batch))[:, 0]
        out[batch.graph_mask].sum().backward()
        real = batch.graph_index[batch.graph_mask]
        got, ref = out[batch.graph_mask].detach(), alone[real]
        assert float(((got - ref).abs() / ref.abs().clamp(min=1)).max()) < PRED_TOL
        for k, p in model.named_parameters():
            torch.testing.assert_close(p.grad, eager_grads[k], rtol=GRAD_TOL, atol=GRAD_TOL * float(
                eager_grads[k].abs().max().clamp(min=1e-6)))
