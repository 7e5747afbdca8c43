"""The batching check: models that are safe to batch pass, leaky ones are refused.

The fixture models live in one plugin module, installed the way pip would
(a module plus a dist-info with its entry points) in a temporary folder:
``toy-sum``, a complete third-party model that is safe, and four leaky ones
(BatchNorm over all node slots, a mean over all nodes of the batch, a
softmax across the batch, and a leak in the gradient only).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.models import ENTRY_POINT_GROUP, MODELS, create_model
from bench_lib.models.check import GRAD_TOL, PRED_TOL, check_batching, sample_graphs
from bench_lib.models.norm import MaskedBatchNorm
from bench_lib.strategies import STRATEGIES
from tests.models.test_equivalence import SMALL, params_for
from tests.stack import BACKENDS, runnable_strategies

PLUGIN = '''
from dataclasses import dataclass

import torch
from torch import nn

from bench_lib.models import Model, graph_ops


@dataclass(frozen=True)
class ToySumConfig:
    hidden: int = 16


class ToySum(Model):
    """Atom types through an MLP, one round of neighbour sums, summed per graph."""

    name = "toy-sum"
    Config = ToySumConfig
    needs = ("node_features",)

    def __init__(self, cfg, n_targets=1):
        super().__init__(n_targets)
        self.embed = nn.Embedding(128, cfg.hidden)
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(),
                                 nn.Linear(cfg.hidden, n_targets))

    def mix(self, h, batch):  # the leaky subclasses change this
        return h

    def forward(self, batch, backend="torch", ops=None):
        ops = ops or graph_ops(batch, backend)
        h = self.embed(batch.node_features[:, 0].long().clamp(0, 127))
        h = self.mix(h + ops.scatter_sum(ops.gather(h)), batch)
        per_node = self.mlp(h) * batch.node_mask[:, None]
        return self.denormalise(ops.sum_nodes(per_node) / self.mean_nodes)


class LeakyBatchNorm(ToySum):
    """BatchNorm over every node slot: padding enters its statistics."""

    name = "leaky-batchnorm"

    def __init__(self, cfg, n_targets=1):
        super().__init__(cfg, n_targets)
        self.norm = nn.BatchNorm1d(cfg.hidden)

    def mix(self, h, batch):
        return self.norm(h)


class LeakyMean(ToySum):
    """Subtracts the mean over all nodes of the batch."""

    name = "leaky-mean"

    def mix(self, h, batch):
        return h - h.mean(dim=0, keepdim=True)


class LeakySoftmax(ToySum):
    """Graph outputs through a softmax across the batch's graph slots."""

    name = "leaky-softmax"

    def forward(self, batch, backend="torch", ops=None):
        out = super().forward(batch, backend, ops)
        return out * torch.softmax(out.detach() * 0 + out, dim=0) * out.shape[0]


class LeakyGradient(ToySum):
    """Outputs equal to ToySum's, but the gradient flows through the batch's mean."""

    name = "leaky-gradient"

    def mix(self, h, batch):
        m = h.mean(dim=0, keepdim=True)
        return h + (m - m.detach())
'''

LEAKY = ("leaky-batchnorm", "leaky-mean", "leaky-softmax", "leaky-gradient")


def install_plugin(folder, monkeypatch, module: str = "toy_models") -> None:
    """Lay ``PLUGIN`` out as pip would, visible to this process and to the suite's workers."""
    (folder / f"{module}.py").write_text(PLUGIN)
    dist = folder / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{ENTRY_POINT_GROUP}]
        toy-sum = {module}:ToySum
        leaky-batchnorm = {module}:LeakyBatchNorm
        leaky-mean = {module}:LeakyMean
        leaky-softmax = {module}:LeakySoftmax
        leaky-gradient = {module}:LeakyGradient
    """))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))  # the workers are other processes
    MODELS.load_plugins(reload=True)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch)
    yield
    for name in ("toy-sum",) + LEAKY:
        MODELS.unregister(name)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {"nci5k": load_dataset("nci5k", n_graphs=40, seed=2, cache_dir=cache),
            "qm9": load_dataset("qm9", n_graphs=40, seed=2, cache_dir=cache)}


def every_strategy(store) -> dict:
    return {name: STRATEGIES.create(name, **params_for(name,
                                                       store)) for name in runnable_strategies()}


def built(name: str, store, **params):
    torch.manual_seed(0)
    m = create_model(name, store, **params)
    y = torch.from_numpy(store.targets[:, :1])
    m.set_target_stats(y.mean(0), y.std(0), mean_nodes=float(store.n_node.mean()))
    return m


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dataset,model", [("nci5k", "gin"), ("nci5k", "gin-ogb"),
                                           ("qm9", "schnet"),
                                           ("qm9", "painn")])
def test_built_in_models_pass(stores, dataset, model, backend):
    store = stores[dataset]
    name, params = SMALL[model]
    assert check_batching(built(name, store, **params), store, every_strategy(store),
                          backend=backend) == []


def test_sample_has_the_extremes(stores):
    store = stores["qm9"]
    idx = np.arange(5, 35)
    s = sample_graphs(store, idx, n=8)
    assert len(s) == 8 and set(s) <= set(idx)
    for sizes in (store.n_node, store.n_edge):
        assert sizes[s].max() == sizes[idx].max() and sizes[s].min() == sizes[idx].min()


@pytest.mark.parametrize("leaky,part", [("leaky-batchnorm", "padding"), ("leaky-mean", "isolation"),
                                        ("leaky-softmax", "isolation"),
                                        ("leaky-gradient", "isolation")])
def test_leaky_models_are_caught(plugin, stores, leaky, part):
    store = stores["nci5k"]
    strategies = every_strategy(store)
    failures = check_batching(built(leaky, store), store, strategies)
    assert failures, f"{leaky} passed the batching check"
    assert {f.part for f in failures} == {part}
    worst = max(failures, key=lambda f: f.difference)
    assert worst.difference > (GRAD_TOL if worst.what == "gradient" else PRED_TOL)
    assert worst.graph in set(range(store.n_graph)) and worst.n_node == store.n_node[worst.graph]
    if leaky == "leaky-gradient":  # its predictions are exact; the gradient names the leak
        assert {f.what for f in failures} == {"gradient"}
    # BatchNorm on running statistics is per graph; padding is what leaks
    if leaky == "leaky-batchnorm":
        assert ("pad" in {f.strategy for f in failures} and "dynamic" not
                in {f.strategy for f in failures})
    assert check_batching(built("toy-sum", store), store, strategies) == []


def test_masked_batchnorm_is_batchnorm_of_the_real_rows():
    torch.manual_seed(0)
    x, mask = torch.randn(12, 5), torch.tensor([True] * 9 + [False] * 3)
    x[~mask] = 1e3  # padding rows far off: they must not move anything
    ours, ref = MaskedBatchNorm(5), torch.nn.BatchNorm1d(5)
    torch.testing.assert_close(ours(x, mask)[mask], ref(x[mask]))
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x, mask), ref(x))


def test_virtual_node_of_padding_never_reaches_real_graphs(stores):
    """gin-virtual, BatchNorm in training mode: a padded batch equals the unpadded one on real
    graphs."""
    from bench_lib.strategies import collate

    store = stores["nci5k"]
    name, params = SMALL["gin-ogb"]
    model = built(name, store, **params).train()
    idx = np.arange(10)
    shape = STRATEGIES.create("dynamic-budget",
                              max_nodes=int(store.n_node[idx].sum()) + 40).prepare(
        store.n_node, store.n_edge, np.random.default_rng(0)).shape
    padded, bare = collate(store, idx, shape), collate(store, idx)
    torch.testing.assert_close(model(padded)[padded.graph_mask], model(bare)[bare.graph_mask],
                               rtol=1e-5, atol=1e-5)


def test_every_built_in_model_is_covered():
    """A model added to bench_lib must join SMALL, so that the equivalence tests and the check cover
    it."""
    built_in = {n for n in MODELS.names() if not MODELS.is_plugin(n)}
    assert built_in == {name for name, _ in SMALL.values()}


def test_masked_batchnorm_keeps_running_statistics_below_two_rows():
    bn = MaskedBatchNorm(3)
    x = torch.randn(4, 3)
    for mask in (torch.zeros(4, dtype=torch.bool), torch.tensor([True, False, False, False])):
        bn(x, mask)
        assert (torch.equal(bn.running_mean, torch.zeros(3))
                and torch.equal(bn.running_var, torch.ones(3)))
    bn(x, torch.ones(4, dtype=torch.bool))
    assert not torch.equal(bn.running_mean, torch.zeros(3))


def test_a_large_target_mean_does_not_hide_a_leak(plugin, stores):
    """Outputs are compared standardised: a leak of 1e-3 of the batch mean shows through a mean of
    1e4."""
    store = stores["nci5k"]
    model = built("leaky-mean", store)
    model.set_target_stats(1e4, 1e-2, float(model.mean_nodes))
    assert check_batching(model, store, {"dynamic": STRATEGIES.create("dynamic", batch_graphs=7)})


def test_evaluation_mode_is_checked_too(plugin, stores):
    """A model that mixes graphs only in evaluation mode (as validation runs it) is caught there."""
    import toy_models

    class LeaksInEvaluation(toy_models.ToySum):
        name = "leaks-in-evaluation"

        def mix(self, h, batch):
            return h if self.training else h - h.mean(dim=0, keepdim=True)

    store = stores["nci5k"]
    torch.manual_seed(0)
    failures = check_batching(LeaksInEvaluation(toy_models.ToySumConfig()), store,
                              {"dynamic": STRATEGIES.create("dynamic", batch_graphs=7)})
    assert [f.part for f in failures] == ["evaluation"]
