"""The execution axis: compiled steps, their counters and failures, and the input pipeline.

Compiling is slow on a CPU (tens of seconds a graph, from a cold cache), so
these tests compile tiny models, and as few times as the checks allow.
"""

from __future__ import annotations

import dataclasses
import re
import threading

import numpy as np
import pytest
import torch

from bench_lib.data import load_dataset
from bench_lib.deps import dgl_available
from bench_lib.schema import CellSpec
from bench_lib.harness.compiles import dynamo_counts
from bench_lib.harness.pipeline import BatchSource
from bench_lib.harness.runner import run_group
from bench_lib.harness.step import compile_kwargs, make_loss
from bench_lib.models import create_model
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.loader import BatchLoader
from tests.models.test_equivalence import ATOL

cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA GPU (torch.cuda.is_available())")


@pytest.fixture(scope="module")
def qm9(tmp_path_factory):
    return load_dataset("qm9", n_graphs=40, seed=2, cache_dir=tmp_path_factory.mktemp("cache"))


def _model(store):
    torch.manual_seed(0)
    m = create_model("schnet", store, hidden=16, filters=16, interactions=1, gaussians=8)
    per_atom = torch.from_numpy(store.targets[:, 0]) / torch.from_numpy(store.n_node).float()
    m.set_target_stats(per_atom.mean(), per_atom.std())
    return m


def _losses_and_grads(model, loss, batches):
    out = []
    for batch in batches:
        model.zero_grad()
        value = loss(batch)
        value.backward()
        out.append((float(value), {k: p.grad.clone() for k, p in model.named_parameters()
                                   if p.grad is not None}))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy,params,execution", [
    ("pack-lpfhp", {"max_nodes": 36, "packs_per_batch": 2}, "compile"),
    ("dynamic", {"batch_graphs": 9}, "compile-dynamic"),
])
def test_compiled_loss_and_gradients_match_eager(qm9, strategy, params, execution):
    batches = list(BatchLoader(qm9, STRATEGIES.create(strategy, **params), seed=1).epoch(0))[:3]
    model = _model(qm9)
    spec = CellSpec(dataset="qm9", strategy=strategy, model="schnet", backend="torch",
                    execution=execution)
    before = dynamo_counts()["compiles"]
    eager = _losses_and_grads(model, make_loss(model, 0,
                                               dataclasses.replace(spec, execution="eager")),
                              batches)
    compiled = _losses_and_grads(model, make_loss(model, 0, spec), batches)
    # compiled once, for every shape of these batches
    assert dynamo_counts()["compiles"] - before == 1
    if strategy == "dynamic":
        assert len({b.shape for b in batches}) > 1  # the check covers shapes that change
    for (le, ge), (lc, gc) in zip(eager, compiled):
        assert lc == pytest.approx(le, rel=ATOL, abs=ATOL)
        assert set(ge) == set(gc)
        for k in ge:
            torch.testing.assert_close(gc[k], ge[k], rtol=ATOL, atol=ATOL)


def test_compile_kwargs_name_the_variants():
    spec = CellSpec(dataset="qm9", strategy="dynamic", backend="torch", execution="compile")
    assert compile_kwargs(spec) == {"dynamic": None}
    assert (compile_kwargs(dataclasses.replace(spec, execution="compile-dynamic"))
            == {"dynamic": True})
    assert (compile_kwargs(dataclasses.replace(spec, execution="cudagraphs"))
            == {"mode": "reduce-overhead"})
    assert (compile_kwargs(dataclasses.replace(spec, execution="compile-static"))
            == {"dynamic": False})
    assert (compile_kwargs(dataclasses.replace(spec, execution="compile-marked"))
            == {"dynamic": None})
    aot = dataclasses.replace(spec, compile_options={"backend": "aot_eager"})
    assert compile_kwargs(aot)["backend"] == "aot_eager"


def test_a_warm_compile_with_no_time_left_is_not_tried():
    from bench_lib.harness.warm import warm_compile_metrics

    spec = CellSpec(dataset="qm9", strategy="dynamic", backend="torch", execution="compile")
    assert warm_compile_metrics(spec, 2, timeout_s=3.0) == {
        "compile_warm_error": "not tried: 3 s left of the cell's timeout"}


@pytest.mark.slow
def test_a_marked_cell_compiles_once_and_again_from_its_warm_cache(tmp_path):
    """Through the runner, as the suite runs it: unpadded batches marked dynamic within the plan's
    bounds compile once; the worker then compiles the step again from the cell's own cache."""
    marked = _spec(strategy="dynamic", strategy_params={"batch_graphs": 6},
                   execution="compile-marked")
    (rec,) = run_group([marked], log_dir=tmp_path)
    from bench_lib.harness.step import bounded_marks

    if not bounded_marks():  # torch 2.2 (DGL's stack): skipped for the stack, and said why
        assert rec["status"] == "skipped" and "lacks" in rec["error"], rec["error"]
        return
    assert rec["status"] == "ok", rec["error"]
    args = rec["compile_args"]  # (a dict here; JSON text in records.csv)
    assert args["torch.compile"] == {"dynamic": None} and set(args["mark_dynamic"]) >= {"node"}
    assert rec["compiles"] == 1 and rec["recompiles"] == 0 and rec["graph_breaks"] == 0
    assert rec["compile_warm_compiles"] == rec["compiles"]
    assert 0 < rec["compile_warm_s"] < rec["compile_s"]


def _spec(**kw) -> CellSpec:
    base = dict(dataset="qm9", n_graphs=60, strategy="pack-lpfhp",
                strategy_params={"max_nodes": 36},
                model="schnet", model_params={"hidden": 16, "filters": 16, "interactions": 1,
                                              "gaussians": 8},
                backend="torch", repeats=1, windows=2, warmup_steps=2, timeout_s=300)
    return CellSpec(**{**base, **kw})


@pytest.mark.slow
def test_a_compile_failure_is_a_failed_record_and_the_others_run(tmp_path):
    # An inductor with no working C++ compiler: the compile itself fails, in the first step.
    broken = _spec(
        execution="compile", compile_options={"options": {"cpp.cxx": ("/nonexistent/c++",)}})
    eager = _spec()
    # run where DGL imports (on today's stack it cannot)
    dgl = _spec(execution="compile", backend="dgl")
    graphs = _spec(execution="cudagraphs")
    import tempfile
    from pathlib import Path

    def caches():
        return set(Path(tempfile.gettempdir()).glob("bench_lib_inductor_*"))
    before = caches()
    cells = [broken, eager, graphs] + ([dgl] if dgl_available() else [])
    records = run_group(cells, log_dir=tmp_path)
    by = {r["cell_id"]: r for r in records}
    assert by[broken.cell_id]["status"] == "failed"
    # torch 2.2 wraps the failure as BackendCompilerFailed, newer torch as InductorError
    assert by[broken.cell_id]["error"].startswith(("BackendCompilerFailed (during warmup)",
                                                  "InductorError (during warmup)"))
    assert "InvalidCxxCompiler" in by[broken.cell_id]["error"]
    assert by[eager.cell_id]["status"] == "ok" and by[eager.cell_id]["compiles"] == 0
    if dgl_available():
        assert (by[dgl.cell_id]["status"] == "skipped" and "needs backend 'torch'"
                in by[dgl.cell_id]["error"])
    if not torch.cuda.is_available():
        assert by[graphs.cell_id]["status"] == "skipped"
        assert (by[graphs.cell_id]["error"].startswith("EnvironmentSkip:") and "cuda"
                in by[graphs.cell_id]["error"])
    assert caches() <= before  # each compiled cell's cold cache is removed with it


def test_new_fields_at_their_defaults_keep_earlier_cell_ids():
    import pandas as pd
    from pathlib import Path

    records = pd.read_csv(Path(__file__).parents[2] / "results" / "default-reference"
                          / "records.csv")
    row = records.iloc[0].to_dict()
    import json

    fields = {f.name for f in dataclasses.fields(CellSpec)}
    spec = {k: (json.loads(v) if isinstance(v,
                                            str) and v[:1] in "[{" else v) for k, v in row.items()
            if k in fields}
    spec = {k: (None if isinstance(v, float) and v != v else v) for k, v in spec.items()}
    for k in ("n_graphs", "node_slots_budget", "edge_slots_budget", "graphs_per_step_budget",
              "seed", "threads",
              "repeats", "warmup_steps", "windows", "eval_every", "max_steps"):
        if spec.get(k) is not None:
            spec[k] = int(spec[k])
    assert CellSpec(**spec).cell_id == row["cell_id"]
    assert CellSpec(**{**spec, "execution": "compile"}).cell_id != row["cell_id"]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
               for x, y in zip(a.__dict__.values(), b.__dict__.values()))


@pytest.mark.parametrize("prefetch,mode", [(2, "thread"), (3, "process")])
def test_prefetched_batches_are_the_inline_batches_in_order(qm9, prefetch, mode):
    loader = BatchLoader(qm9, STRATEGIES.create("dynamic", batch_graphs=7), seed=1)

    def stream():
        for e in range(3):
            yield from loader.epoch(e)

    inline = BatchSource(stream)
    ahead = BatchSource(stream, prefetch=prefetch, mode=mode)
    for _ in range(12):  # across epochs
        a, _, build_a = inline.next()
        b, _, build_b = ahead.next()
        assert _same(a, b) and build_a > 0 and build_b > 0
    ahead.close()
    inline.close()
    assert not [t for t in threading.enumerate() if t.name == "bench_lib-prefetch"]


def test_a_build_error_in_the_background_reaches_the_step():
    def broken():
        yield from ()
        raise ValueError("bad graph")

    source = BatchSource(broken, prefetch=2)
    with pytest.raises((ValueError, RuntimeError),
                       match="bad graph|generator raised StopIteration"):
        source.next()
    source.close()


def test_prefetching_hides_the_build_behind_the_step(qm9):
    """The builder thread works while the step runs: with a build (sleep 20 ms) shorter than the
    step (sleep 40 ms), waiting for a prefetched batch takes a fraction of its build; inline, all of
    it."""
    import time

    loader = BatchLoader(qm9, STRATEGIES.create("dynamic", batch_graphs=7), seed=1)

    def slow():
        for e in range(100):
            for batch in loader.epoch(e):
                time.sleep(0.02)
                yield batch

    waits = {}
    for prefetch in (0, 2):
        source = BatchSource(slow, prefetch=prefetch)
        source.next()  # the first batch is built while nothing else runs
        spent = []
        for _ in range(8):
            time.sleep(0.04)  # the step
            t = time.perf_counter()
            source.next()
            spent.append(time.perf_counter() - t)
        source.close()
        waits[prefetch] = sorted(spent)[len(spent) // 2]
    assert waits[0] >= 0.02 and waits[2] < 0.5 * waits[0], waits


@pytest.mark.slow
def test_a_prefetched_cell_records_how_much_build_it_hid():
    rec = run_group([_spec(strategy="dynamic", strategy_params={"batch_graphs": 8}, prefetch=2)])[0]
    assert rec["status"] == "ok", rec["error"]
    # the builder thread's CPU time must not count against the step
    assert rec["step_clock"] == "wall"
    assert 0.0 <= rec["build_hidden_share"] <= 1.0 and rec["batch_build_s"] > 0


@cuda
def test_pinned_batches_copy_to_the_gpu(qm9):
    batch = next(BatchLoader(qm9, STRATEGIES.create("dynamic", batch_graphs=7), seed=1).epoch(0))
    pinned = batch.pin_memory()
    assert pinned.node_features.is_pinned()
    on_gpu = pinned.to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    assert _same(on_gpu.to("cpu"), batch)


@pytest.mark.slow
@cuda
def test_cudagraphs_cell_runs_on_a_gpu():
    rec = run_group([_spec(execution="cudagraphs", device="cuda", prefetch=2)])[0]
    assert rec["status"] == "ok", rec["error"]
    assert rec["recompiles"] == 0 and rec["compiles"] >= 1


def test_suite_files_and_flags_for_the_execution_axis():
    from pathlib import Path

    from bench_lib.config import ConfigError, Overrides, load_config, parse_config

    bench = Path(__file__).parents[2] / "benchmarks"
    compile_cfg = load_config(bench / "compile.toml")
    assert (compile_cfg.backend == "torch" and set(compile_cfg.execution)
            == {"eager", "compile", "compile-dynamic"})
    gpu = load_config(bench / "gpu.toml")
    assert gpu.device == "cuda" and "cudagraphs" in gpu.execution and "pad-bucket" in gpu.strategies
    assert (gpu.model_params["schnet"]
            == {"hidden": 100, "filters": 100, "interactions": 4, "gaussians": 25,
                                          "cutoff": 6.0})
    cfg = load_config(bench / "compile.toml", Overrides(execution=["eager", "compile"], prefetch=2))
    assert cfg.execution == ("eager", "compile") and cfg.prefetch == 2
    with pytest.raises(ConfigError, match="--execution: unknown name 'jit'; valid: compile, "
                                          "compile-dynamic"):
        load_config(bench / "compile.toml", Overrides(execution=["jit"]))
    with pytest.raises(ConfigError) as err:
        parse_config({"suite": {"execution": ["eager", "xla"],
                                "execution_only": {"compile": ["no-such"]},
                                "prefetch_with": "fork"}, "datasets": {"nci5k": {}}})
    text = "\n".join(err.value.problems)
    assert ("[suite] execution: unknown name 'xla'" in text
            and "execution_only.compile: unknown name 'no-such'" in text)
    assert "[suite] prefetch_with must be 'thread' or 'process'" in text


def test_execution_only_limits_a_variant_to_its_strategies():
    from bench_lib.config import parse_config
    from bench_lib.suite import expand_cells

    cfg = parse_config({"suite": {"strategies": ["dynamic", "pack-lpfhp"], "backend": "torch",
                                  "execution": ["eager", "compile-dynamic"],
                                  "execution_only": {"compile-dynamic": ["dynamic"]}},
                        "datasets": {"nci5k": {"n_graphs": 300, "node_slots": 256,
                                               "pack_nodes": 128}}})
    cells = expand_cells(cfg)
    assert sorted((c.strategy, c.execution) for c in cells) == [
        ("dynamic", "compile-dynamic"), ("dynamic", "eager"), ("pack-lpfhp", "eager")]
    assert len({c.cell_id for c in cells}) == 3


def test_strategy_fairness_limits_a_strategy_to_its_views():
    from bench_lib.config import ConfigError, parse_config
    from bench_lib.suite import expand_cells

    suite = {"strategies": ["dynamic", "pyg"], "backend": "torch",
             "fairness": ["equal-padded-budget", "equal-real-graphs"],
             "strategy_fairness": {"pyg": ["equal-real-graphs"]}}
    data = {"nci5k": {"n_graphs": 300, "node_slots": 256, "graphs_per_step": 16, "pack_nodes": 128}}
    cells = expand_cells(parse_config({"suite": suite, "datasets": data}))
    assert sorted({(c.strategy, v) for c in cells for v in c.views}) == [
        ("dynamic", "equal-padded-budget"), ("dynamic",
                                             "equal-real-graphs"), ("pyg", "equal-real-graphs")]
    for bad, words in (({"pad": ["equal-real-graphs"]}, "'pad' is not one of [suite] strategies"),
                       ({"pyg": ["manual"]}, "strategy_fairness.pyg: unknown name 'manual'"),
                       ({"pyg": []}, "must be a non-empty list of views")):
        with pytest.raises(ConfigError, match=re.escape(words)):
            parse_config({"suite": {**suite, "strategy_fairness": bad}, "datasets": data})
