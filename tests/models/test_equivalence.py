"""No cross-contamination: a graph's output does not depend on its batch.

For fixed weights, every registered strategy gives the same per-graph
predictions as ``dynamic`` (all graphs in one unpadded batch), and the same
parameter gradients for a pass over the same set of real graphs, in both
backends. A padding node or a neighbour in the same pack that changed a
graph's output would fail here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.models import create_model
from bench_lib.strategies import STRATEGIES, collate
from bench_lib.strategies.loader import BatchLoader
from tests.stack import BACKENDS, backends_here, runnable_strategies

ATOL = 1e-5


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {"nci5k": load_dataset("nci5k", n_graphs=40, seed=2, cache_dir=cache),
            "qm9": load_dataset("qm9", n_graphs=40, seed=2, cache_dir=cache)}


def params_for(name: str, store) -> dict:
    big = int(store.n_node.max())
    if name in ("pad", "dynamic", "pyg", "dgl-loader"):
        return {"batch_graphs": 7}
    if name == "pyg-dynamic":
        return {"max_nodes": big + 20}
    if name == "dynamic-budget":
        return {"max_nodes": big + 20}
    if name == "pad-bucket":
        return {"max_nodes": big + 20, "buckets": 3}
    if name.startswith("pack-"):
        return {"max_nodes": big + 4, "packs_per_batch": 2}
    return {}


#: Small versions of each model; ``gin-ogb`` is GIN as OGB's gin-virtual baseline trains it
#: (BatchNorm over real nodes, a virtual node per graph).
SMALL = {"schnet": ("schnet", {"hidden": 32, "filters": 32, "interactions": 2}),
         "painn": ("painn", {"hidden": 32, "interactions": 2}),
         "gin": ("gin", {"hidden": 32, "layers": 2}),
         "gin-ogb": ("gin", {"hidden": 32, "layers": 3, "norm": "batch", "virtual_node": True})}


def make_model(model: str, store):
    """``SMALL[model]`` with seeded weights and the targets' statistics, in evaluation mode
    (BatchNorm on its running statistics, which one training step has moved off their start)."""
    torch.manual_seed(0)
    name, params = SMALL[model]
    m = create_model(name, store, **params)
    y = torch.from_numpy(store.targets[:, :1])
    if m.per_atom_target:
        per_atom = y[:, 0] / torch.from_numpy(store.n_node).float()
        m.set_target_stats(per_atom.mean(), per_atom.std())
    else:
        m.set_target_stats(y.mean(0), y.std(0), mean_nodes=float(store.n_node.mean()))
    with torch.no_grad():  # running statistics away from (0, 1)
        m.train()(collate(store, np.arange(min(store.n_graph, 16))))
    return m.eval()


def run_epoch(model, store, strategy, backend):
    """Predictions by store index and summed-loss gradients over one epoch."""
    loader = BatchLoader(store, strategy, seed=1)
    preds = {}
    model.zero_grad()
    for batch in loader.epoch(0):
        out = model(batch, backend=backend)[:, 0]
        y = batch.targets[:, 0]
        err = torch.where(batch.graph_mask, (out - y) / model.target_std, torch.zeros_like(out))
        (err.pow(2).sum() / store.n_graph).backward()
        for g, p in zip(batch.graph_index[batch.graph_mask].tolist(),
                        out[batch.graph_mask].tolist()):
            preds[g] = p
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return np.array([preds[g] for g in range(store.n_graph)]), grads


CASES = [("nci5k", "gin"), ("nci5k", "gin-ogb"), ("qm9", "gin"), ("qm9", "schnet"),
         ("qm9", "painn")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dataset,model", CASES)
def test_every_strategy_matches_dynamic(samples, dataset, model, backend):
    store = samples[dataset]
    net = make_model(model, store)
    ref_pred, ref_grad = run_epoch(net, store,
                                   STRATEGIES.create("dynamic", batch_graphs=store.n_graph),
                                   backend)
    for name in runnable_strategies():
        strategy = STRATEGIES.create(name, **params_for(name, store))
        pred, grad = run_epoch(net, store, strategy, backend)
        scale = np.maximum(1.0, np.abs(ref_pred))
        assert np.max(np.abs(pred - ref_pred) / scale) < ATOL, f"{name}: predictions differ"
        assert grad.keys() == ref_grad.keys()
        for k in ref_grad:
            torch.testing.assert_close(grad[k], ref_grad[k], atol=ATOL, rtol=1e-4,
                                       msg=f"{name}: grad {k}")


@pytest.mark.dgl
@pytest.mark.parametrize("dataset,model", CASES)
def test_backends_agree(samples, dataset, model):
    store = samples[dataset]
    net = make_model(model, store)
    batch = collate(store, np.arange(store.n_graph))
    torch.testing.assert_close(net(batch, backend="torch"), net(batch, backend="dgl"), atol=1e-4,
                               rtol=1e-5)


@pytest.mark.parametrize("dataset,model", CASES)
def test_junk_in_padding_changes_nothing(samples, dataset, model):
    """Fill every padding slot with junk: real graphs' outputs must not move."""
    store = samples[dataset]
    net = make_model(model, store)
    idx = np.arange(12)
    shape = STRATEGIES.create("dynamic-budget",
                              max_nodes=int(store.n_node[idx].sum()) + 30).prepare(
        store.n_node, store.n_edge, np.random.default_rng(0)).shape
    clean = collate(store, idx, shape)
    gen = torch.Generator().manual_seed(0)
    pn, pe = ~clean.node_mask, ~clean.edge_mask
    feats = clean.node_features.clone()
    feats[pn] = torch.randint(0, 2, feats[pn].shape, generator=gen).to(feats.dtype)
    junk = {"node_features": feats}
    if clean.positions is not None:
        pos = clean.positions.clone()
        pos[pn] = torch.randn(pos[pn].shape, generator=gen)
        junk["positions"] = pos
    if clean.edge_features is not None:
        ef = clean.edge_features.clone()
        ef[pe] = torch.randint(0, 2, ef[pe].shape, generator=gen).to(ef.dtype)
        junk["edge_features"] = ef
    # pad edges spread over all pad nodes instead of one self-loop
    first_pad = int(clean.node_mask.sum())
    n_pad = int(pn.sum())
    s, r = clean.senders.clone(), clean.receivers.clone()
    s[pe] = first_pad + torch.randint(0, n_pad, (int(pe.sum()),), generator=gen)
    r[pe] = first_pad + torch.randint(0, n_pad, (int(pe.sum()),), generator=gen)
    dirty = dataclasses.replace(clean, senders=s, receivers=r, **junk)
    for backend in backends_here():
        a = net(clean, backend=backend)[clean.graph_mask]
        b = net(dirty, backend=backend)[clean.graph_mask]
        assert torch.equal(a, b), backend


def classified(store, kind: str):
    """``store`` with a classification target made from its first target column (tertiles for
    multiclass; two label columns with missing labels for multilabel), and its
    :class:`~bench_lib.tasks.Task`."""
    from bench_lib.harness.train import labelled_store
    from bench_lib.tasks import resolve_task

    y = store.targets[:, 0].astype(np.float64)
    if kind == "binary":
        t = (y > np.median(y)).astype(np.float32)[:, None]
    elif kind == "multiclass":
        t = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(np.float32)[:, None]
    else:
        t = np.stack([(y > np.median(y)), (y > np.quantile(y, 0.25))], 1).astype(np.float32)
        t[::3, 1] = np.nan  # missing labels
    names = tuple(f"label_{k}" for k in range(t.shape[1]))
    raw = dataclasses.replace(store, targets=t,
                              meta=dataclasses.replace(store.meta, target_names=names))
    task = resolve_task(raw, None, kind=kind)
    return labelled_store(raw, task), task


@pytest.mark.parametrize("dataset,model,kind,backend", [
    ("nci5k", "gin", "multilabel", "torch"), pytest.param("nci5k", "gin-ogb", "multiclass", "dgl",
                                                          marks=pytest.mark.dgl),
    ("qm9", "schnet", "multiclass", "torch"), ("qm9", "painn", "binary", "torch")])
def test_classification_heads_match_dynamic(samples, dataset, model, kind, backend):
    """Per-graph logits (every output) and the gradients of the task's masked loss are the same
    under every strategy as in one unpadded batch."""
    from bench_lib.tasks import task_loss

    store, task = classified(samples[dataset], kind)
    torch.manual_seed(0)
    name, params = SMALL[model]
    net = create_model(name, store, n_targets=task.n_outputs, **params)
    assert net(collate(store, np.arange(3)), backend=backend).shape[1] == task.n_outputs
    with torch.no_grad():
        net.train()(collate(store, np.arange(16)))
    net.eval()

    def epoch(strategy):
        preds = {}
        net.zero_grad()
        for batch in BatchLoader(store, strategy, seed=1).epoch(0):
            out = net(batch, backend=backend)
            loss = task_loss(out, batch.targets, batch.graph_mask, task.kind, net.target_std,
                             denominator=1)
            (loss / store.n_graph).backward()  # the summed loss: the same total over any batching
            for g, row in zip(batch.graph_index[batch.graph_mask].tolist(),
                              out[batch.graph_mask].tolist()):
                preds[g] = row
        return np.array([preds[g] for g in range(store.n_graph)]), {
            k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}

    ref_pred, ref_grad = epoch(STRATEGIES.create("dynamic", batch_graphs=store.n_graph))
    for strategy_name in runnable_strategies():
        pred, grad = epoch(STRATEGIES.create(strategy_name, **params_for(strategy_name, store)))
        assert pred.shape == (store.n_graph, task.n_outputs)
        np.testing.assert_allclose(pred, ref_pred, atol=ATOL, rtol=1e-5,
                                   err_msg=f"{strategy_name}: logits differ")
        for k in ref_grad:
            torch.testing.assert_close(grad[k], ref_grad[k], atol=ATOL, rtol=1e-4,
                                       msg=f"{strategy_name}: grad {k}")
