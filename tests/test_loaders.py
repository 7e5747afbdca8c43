"""bench_lib's strategies in a user's own PyG, DGL or plain-PyTorch loop (``bench_lib.loaders``),
and the ``pyg``/``pyg-dynamic``/``dgl-loader`` baselines that batch through those libraries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.strategies.fairness import budgets_for, resolve
from bench_lib.loaders import (BatchSampler, DglPadCollater, GraphBatchCollater, PygPadCollater,
                               graph_batch_from_dgl,
                               graph_batch_from_pyg, sizes_of)
from bench_lib.models import create_model
from bench_lib.strategies import STRATEGIES, GraphTooLargeError, collate
from bench_lib.strategies.interop import dgl_graphs, pyg_graphs
from bench_lib.strategies.loader import BatchLoader

FIELDS = ("node_features", "senders", "receivers", "n_node", "n_edge", "node_graph", "node_mask",
          "edge_mask",
          "graph_mask", "targets", "positions", "edge_features")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {"nci5k": load_dataset("nci5k", n_graphs=300, seed=0, cache_dir=cache),
            "qm9": load_dataset("qm9", n_graphs=200, seed=0, cache_dir=cache)}


def assert_same_batch(got, ref, what):
    for f in FIELDS:
        a, b = getattr(got, f), getattr(ref, f)
        assert (a is None) == (b is None), (what, f)
        if a is not None:
            assert a.dtype == b.dtype and torch.equal(a, b), (what, f, a.shape, b.shape)


@pytest.mark.parametrize("dataset", ["nci5k", "qm9"])
@pytest.mark.parametrize("name", ["pyg", "pyg-dynamic",
                                  pytest.param("dgl-loader", marks=pytest.mark.dgl)])
def test_baselines_build_the_batch_bench_lib_builds(stores, dataset, name):
    """PyG's Batch.from_data_list and dgl.batch, converted, give bench_lib's collate tensors
    exactly."""
    store = stores[dataset]
    strategy = STRATEGIES.create(name)
    loader = BatchLoader(store, strategy, seed=3)
    plan = loader.plan(0)
    for b, positions in enumerate(plan.batches()):
        got = loader.collate(loader.indices[positions], plan.shape_of(b))
        assert_same_batch(got, collate(store, loader.indices[positions]), f"{name} batch {b}")
        assert torch.equal(got.graph_index, collate(store, loader.indices[positions]).graph_index)
        if b == 3:
            break
    assert not STRATEGIES.get(name).static_shape and STRATEGIES.get(name).baseline


def test_baselines_are_named_not_in_all():
    from bench_lib.config import parse_config

    assert {"pyg", "pyg-dynamic", "dgl-loader"} <= set(STRATEGIES.names())
    assert not {"pyg", "pyg-dynamic", "dgl-loader"} & set(STRATEGIES.names(baselines=False))
    cfg = parse_config({"suite": {"strategies": "all"}, "datasets": {"nci5k": {"node_slots": 512}}})
    assert "pyg" not in cfg.strategies and "pack-lpfhp" in cfg.strategies


def test_pyg_dynamic_plans_as_pygs_dynamic_batch_sampler(stores):
    """The same shuffled order through PyG's own DynamicBatchSampler (node mode) gives the same
    batches."""
    from torch_geometric.loader import DynamicBatchSampler

    store = stores["nci5k"]
    data = pyg_graphs(store)
    torch.manual_seed(5)
    theirs = [b for b in iter(DynamicBatchSampler(data, max_num=300, mode="node", shuffle=True))]
    torch.manual_seed(5)
    order = torch.randperm(len(data)).numpy()
    planner = STRATEGIES.create("pyg-dynamic", max_nodes=300).prepare(
        store.n_node[order], store.n_edge[order], np.random.default_rng(0))

    # the planner's shuffle replaced by PyG's order (identity over the reordered sizes)
    class Fixed:
        def permutation(self, n):
            return np.arange(n)

    ours = [order[b].tolist() for b in planner.plan_epoch(Fixed()).batches()]
    assert ours == theirs


def test_sampler_gives_the_suites_batches(stores):
    """A budget given as the suite gives it: the sampler's epochs are the suite's loader's plans."""
    store = stores["nci5k"]
    n, e = store.n_node, store.n_edge
    settings = type("S", (), {"node_slots": 512, "edge_slots": None, "graphs_per_step": 32,
                              "pack_nodes": 128})
    for view, budget in budgets_for(settings, n, e,
                                    ("equal-padded-budget", "equal-real-graphs")).items():
        for name in ("pad", "dynamic", "dynamic-budget", "pad-bucket", "pack-lpfhp",
                     "pack-cutstock"):
            params, _ = resolve(name, budget, n, e)
            suite = BatchLoader(store, STRATEGIES.create(name, **params), seed=4)
            asked = {"node_slots": 512, "pack_nodes": 128} if view == "equal-padded-budget" else \
                {"graphs_per_step": 32, "pack_nodes": 128}
            sampler = BatchSampler(name, (n, e), asked, seed=4)
            for epoch in (0, 1):
                sampler.set_epoch(epoch)
                assert list(sampler) == [b.tolist()
                                         for b in suite.plan(epoch).batches()], (view, name, epoch)


@pytest.mark.parametrize("name", ["pack-lpfhp", "dynamic-budget", "pad", "pad-bucket", "dynamic"])
def test_pyg_loop_visits_each_graph_once_per_epoch_in_one_shape(stores, name):
    from torch_geometric.loader import DataLoader

    store = stores["nci5k"]
    data = pyg_graphs(store)
    sampler = BatchSampler(name, sizes_of(data), {"node_slots": 512, "pack_nodes": 128}, seed=0)
    loader, pad = DataLoader(data, batch_sampler=sampler), PygPadCollater(sampler)
    orders = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        seen, shapes = [], set()
        for batch in loader:
            batch = pad(batch)
            shapes.add((batch.num_nodes, batch.edge_index.shape[1], batch.num_graphs))
            seen += graph_batch_from_pyg(batch,
                                         graph_index=np.arange(int(batch.graph_mask.sum()))).n_node[
                batch.graph_mask].tolist()
            # the graphs' own sizes, in batch order, are those the plan put there
        plan = sampler.plan(epoch)
        assert (len(plan.graph_index) == len(data) and sorted(plan.graph_index.tolist())
                == list(range(len(data))))
        assert seen == store.n_node[plan.graph_index].tolist()
        assert len(shapes) == plan.distinct_shapes(store.n_node, store.n_edge), (name, shapes)
        orders.append(plan.graph_index.tolist())
    assert orders[0] != orders[1]  # set_epoch reshuffles
    if STRATEGIES.get(name).static_shape:
        assert len(shapes) == 1


def test_padded_pyg_batches_equal_bench_libs_and_give_its_outputs(stores):
    """Through PyG's DataLoader and the pad collater, the model sees bench_lib's batch: same
    outputs."""
    from torch_geometric.loader import DataLoader

    for dataset, model in (("nci5k", "gin"), ("qm9", "schnet")):
        store = stores[dataset]
        torch.manual_seed(0)
        net = create_model(model, store, hidden=16,
                           **({"filters": 16, "interactions": 1} if model == "schnet"
                                                       else {"layers": 2})).eval()
        data = pyg_graphs(store)
        sampler = BatchSampler("pack-lpfhp", sizes_of(data),
                               {"node_slots": 576, "pack_nodes": 72 if dataset == "qm9"
                                                              else 144}, seed=1)
        pad, plan = PygPadCollater(sampler), sampler.plan(0)
        for b, batch in enumerate(DataLoader(data, batch_sampler=sampler)):
            index = plan.graph_index[plan.batch_ptr[b]:plan.batch_ptr[b + 1]]
            got, ref = graph_batch_from_pyg(pad(batch),
                                            graph_index=index), collate(store, index, plan.shape)
            assert_same_batch(got, ref, (dataset, b))
            with torch.no_grad():
                torch.testing.assert_close(net(got, backend="torch")[got.graph_mask],
                                           net(ref, backend="torch")[ref.graph_mask], rtol=0,
                                           atol=0)
            if b == 2:
                break


@pytest.mark.dgl
def test_padded_dgl_batches_equal_bench_libs(stores):
    from bench_lib.deps import import_dgl

    GraphDataLoader = import_dgl().dataloading.GraphDataLoader
    store = stores["qm9"]
    items = dgl_graphs(store)
    sampler = BatchSampler("pack-cutstock", sizes_of(items), {"node_slots": 576, "pack_nodes": 72},
                           seed=2)
    plan = sampler.plan(0)
    loader = GraphDataLoader(items, batch_sampler=sampler, collate_fn=DglPadCollater(sampler))
    for b, (graph, labels, graph_mask) in enumerate(loader):
        assert graph.batch_size == plan.shape.n_graph and graph.num_nodes() == plan.shape.n_node
        index = plan.graph_index[plan.batch_ptr[b]:plan.batch_ptr[b + 1]]
        assert_same_batch(graph_batch_from_dgl(graph, labels, graph_mask),
                          collate(store, index, plan.shape), b)
        if b == 2:
            break


def test_plain_torch_loop_yields_graph_batches(stores):
    store = stores["nci5k"]
    split = np.arange(50, 250)
    sampler = BatchSampler("pack-lpfhp", (store.n_node[split], store.n_edge[split]),
                           {"graphs_per_step": 16}, seed=0)
    collate = GraphBatchCollater(store, sampler, indices=split)
    loader = torch.utils.data.DataLoader(range(len(split)), batch_sampler=sampler,
                                         collate_fn=collate)
    seen = []
    for batch in loader:
        assert batch.shape == sampler.shape and batch.static_shape
        seen += batch.graph_index[batch.graph_mask].tolist()
    assert sorted(seen) == split.tolist()


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_share_an_epoch_in_one_shape(stores, drop_last):
    store = stores["nci5k"]
    sizes = (store.n_node, store.n_edge)
    whole = BatchSampler("pack-lpfhp", sizes, {"node_slots": 512, "pack_nodes": 128},
                         seed=0).plan(0)
    ranks = [BatchSampler("pack-lpfhp", sizes, {"node_slots": 512, "pack_nodes": 128}, seed=0,
                          rank=r,
                          world_size=3, drop_last=drop_last) for r in range(3)]
    batches = [list(s) for s in ranks]
    assert (len({len(b) for b in batches}) == 1
            and all(len(s) == len(b) for s, b in zip(ranks, batches)))
    assert whole.n_batch % 3, "the case needs a short last round"
    seen = [g for b in batches for batch in b for g in batch]
    assert len(seen) == len(set(seen))  # never twice
    if drop_last:
        assert len(batches[0]) == whole.n_batch // 3 and len(seen) < store.n_graph
    else:
        assert sorted(seen) == list(range(store.n_graph))  # every graph once
        empty = [b[-1] for b in batches if not b[-1]]
        assert len(empty) == 3 - whole.n_batch % 3
        full = GraphBatchCollater(store, ranks[0])([])
        assert full.shape == ranks[0].shape and not full.graph_mask.any()
        assert PygPadCollater(ranks[0])([]).num_nodes == ranks[0].shape.n_node


def test_zero_recompiles_after_the_first_step_with_packing(stores):
    """A PyG loop on pack-lpfhp trains under torch.compile with one compile; dynamic batches
    recompile."""
    from torch_geometric.loader import DataLoader
    import torch._dynamo

    store = stores["nci5k"]
    data = pyg_graphs(store)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Linear(9, 16)
            self.out = torch.nn.Linear(16, 1)

        def forward(self, x, edge_index, batch, n_graph: int):
            h = torch.relu(self.embed(x.float()))
            h = h + torch.zeros_like(h).index_add_(0, edge_index[1], h[edge_index[0]])
            pooled = torch.zeros(n_graph, h.shape[1]).index_add_(0, batch, h)
            return self.out(pooled)[:, 0]

    def compiles(strategy: str, steps: int = 6) -> int:
        count = [0]

        def backend(gm, example_inputs):
            count[0] += 1
            return gm.forward

        torch._dynamo.reset()
        torch.manual_seed(0)
        net = Net()
        step = torch.compile(net, backend=backend, dynamic=False)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        sampler = BatchSampler(strategy, sizes_of(data), {"node_slots": 512, "pack_nodes": 128},
                               seed=0)
        pad = PygPadCollater(sampler)
        for k, batch in enumerate(DataLoader(data, batch_sampler=sampler)):
            batch = pad(batch)
            out = step(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            loss = ((out - batch.y[:, 0]) ** 2 * batch.graph_mask).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if k + 1 == steps:
                break
        return count[0]

    assert compiles("pack-lpfhp") == 1
    assert compiles("dynamic") > 1  # a new shape each step: the check can fail


def test_bad_inputs_are_one_clear_error(stores):
    store = stores["nci5k"]
    sizes = (store.n_node, store.n_edge)
    with pytest.raises(ValueError, match="sizes describe 300 graphs but the dataset has 299"):
        BatchSampler("pack-lpfhp", sizes, {"node_slots": 512}, dataset_len=299)
    with pytest.raises(GraphTooLargeError, match="graph 300 has 600 nodes, more than"):
        BatchSampler(STRATEGIES.create("dynamic-budget", max_nodes=512),
                     (np.append(store.n_node, 600), np.append(store.n_edge, 1)))
    big = int(store.n_node.max())
    with pytest.raises(ValueError, match=f"smaller than the largest graph \\({big} nodes\\)"):
        BatchSampler("pack-lpfhp", sizes, {"node_slots": big - 1})
    with pytest.raises(ValueError, match="rank 2 is not one of the 2 ranks 0..1"):
        BatchSampler("pack-lpfhp", sizes, {"node_slots": 512}, rank=2, world_size=2)
    with pytest.raises(ValueError, match="not both"):
        BatchSampler("pack-lpfhp", sizes, {"node_slots": 512, "graphs_per_step": 32})
    with pytest.raises(ValueError, match="unknown strategy 'pack-magic'"):
        BatchSampler("pack-magic", sizes, {"node_slots": 512})
    with pytest.raises(ValueError, match="already has its parameters"):
        BatchSampler(STRATEGIES.create("dynamic"), sizes, {"node_slots": 512})
    with pytest.raises(ValueError, match="two 1-D arrays of one length"):
        BatchSampler("dynamic", (store.n_node, store.n_edge[:-1]))
    with pytest.raises(ValueError, match="fits none of the shapes"):
        PygPadCollater(BatchSampler("pack-lpfhp", sizes,
                                    {"node_slots": 512}).shape)(pyg_graphs(store)[:60])
    with pytest.raises(ValueError, match="needs a padded shape"):
        GraphBatchCollater(store, None)([])


SAMPLERS = __import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "samplers.md"


def ratio_sentence(data: dict) -> str:
    """docs/samplers.md's sentence on collate against the libraries, from
    ``results/foundation/libraries.json``."""
    def span(arm):
        values = [r["collate_over"][arm] for r in data["records"]]
        return f"{min(values):.1f}x to {max(values):.1f}x"

    return (f"{span('pyg')} the rate of PyG's `Batch.from_data_list` ({span('pyg+convert')} with "
            f"the conversion to `GraphBatch`) and {span('dgl')} that of `dgl.batch` "
            f"({span('dgl+convert')} with it)")


def test_the_samplers_page_quotes_the_committed_library_comparison():
    import json

    data = json.loads((SAMPLERS.parents[1] / "results" / "foundation"
                       / "libraries.json").read_text())
    assert {r["dataset"] for r in data["records"]} == {"nci5k", "qm9", "hydronet-like"}
    assert all(len(v) == r["repeats"] for r in data["records"] for v in r["rates"].values())
    text = " ".join(SAMPLERS.read_text().split())
    assert ratio_sentence(data) in text


@pytest.mark.parametrize("marker", ["pyg-example",
                                    pytest.param("dgl-example", marks=pytest.mark.dgl)])
def test_the_samplers_page_examples_run(marker, monkeypatch, tmp_path):
    """The PyG and DGL examples of docs/samplers.md, as written (ten lines each), on the embedded
    data."""
    import re

    code = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", SAMPLERS.read_text(),
                     re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 11
    scope: dict = {}
    exec(compile(code, f"docs/samplers.md {marker}", "exec"), scope)
    shape = scope["sampler"].shape
    if marker == "pyg-example":
        batch = scope["batch"]
        assert ((batch.num_nodes, batch.edge_index.shape[1], batch.num_graphs)
                == (shape.n_node, shape.n_edge, shape.n_graph))
        assert (f"{shape.n_node:,} nodes, {shape.n_edge:,} edges, {shape.n_graph} graph slots "
                f"every step") in code
    else:
        graph = scope["graph"]
        assert ((graph.num_nodes(), graph.num_edges(), graph.batch_size)
                == (shape.n_node, shape.n_edge, shape.n_graph))
        assert (scope["labels"].shape[0] == shape.n_graph
                and 0 < int(scope["graph_mask"].sum()) < shape.n_graph)
    assert scope["epoch"] == 1
