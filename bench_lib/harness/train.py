"""Run one cell in this process: throughput, memory, time-to-accuracy.

Called by the worker process (:mod:`bench_lib.harness.worker`), one cell per
process, so that peak memory is the cell's own. Phases:

1. setup: dataset (from cache), seeded split, the strategy's plan, model.
2. throughput: ``warmup_steps`` training steps, then ``repeats`` windows of
   ``timed_steps`` steps; each step's batch building (collate, host-to-device
   copy) and compute (forward, backward, optimiser) are timed separately,
   with device synchronisation on CUDA.
3. time-to-accuracy (when ``target_mae`` is set): from the same initial
   weights, train until the validation MAE reaches the target, evaluating
   every ``eval_every`` steps; evaluation time is not counted as training
   time. Validation always uses the same unpadded batches, whatever the
   strategy, so the metric is computed identically for every cell.
"""

from __future__ import annotations

import copy
import gc
import os
import resource
import statistics
import time
from typing import Iterator

import numpy as np
import torch

from bench_lib.data import load_dataset, store_splits
from bench_lib.harness.cell import CellSpec
from bench_lib.models import create_model
from bench_lib.strategies import STRATEGIES, GraphBatch
from bench_lib.strategies.loader import BatchLoader

__all__ = ["run_cell_inprocess", "masked_loss", "evaluate_mae"]


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-memory high-water mark (Linux >= 4.0), so
    that the peak read later is the training phase's own, not the imports' or
    the dataset build's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    """VmHWM of this process (since the last reset), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def masked_loss(pred: torch.Tensor, batch: GraphBatch, column: int, std: torch.Tensor) -> torch.Tensor:
    """Mean squared error in standardised units over the batch's real graphs only."""
    err = (pred[:, 0] - batch.targets[:, column]) / std.reshape(-1)[0]
    err = torch.where(batch.graph_mask, err, torch.zeros_like(err))
    return err.pow(2).sum() / batch.graph_mask.sum().clamp(min=1)


@torch.no_grad()
def evaluate_mae(model, loader: BatchLoader, column: int, device: torch.device, backend: str) -> float:
    """Mean absolute error over the real graphs of one pass of ``loader``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in loader.epoch(0):
        batch = batch.to(device)
        pred = model(batch, backend=backend)[:, 0]
        err = (pred - batch.targets[:, column]).abs()
        total += float(err[batch.graph_mask].sum())
        count += int(batch.graph_mask.sum())
    model.train(was_training)
    return total / max(count, 1)


def _stream(loader: BatchLoader) -> Iterator[GraphBatch]:
    epoch = 0
    while True:
        yield from loader.epoch(epoch)
        epoch += 1


def _train_step(model, opt, batch, column, backend) -> None:
    """One optimiser step; reads nothing back, so it adds no device sync."""
    opt.zero_grad(set_to_none=True)
    masked_loss(model(batch, backend=backend), batch, column, model.target_std).backward()
    opt.step()


def _target_stats(store, train: np.ndarray, column: int, model_name: str):
    y = store.targets[train, column].astype(np.float64)
    if model_name == "schnet":  # per-atom standardisation (the seed paper's)
        y = y / store.n_node[train]
    return torch.tensor(y.mean(), dtype=torch.float32), torch.tensor(max(y.std(), 1e-6), dtype=torch.float32)


def run_cell_inprocess(spec: CellSpec) -> dict:
    """Run ``spec``; returns its metrics. ``NotImplementedError``: the cell does not apply."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    device = torch.device(spec.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("device 'cuda' requested but torch sees no GPU")
    store = load_dataset(spec.dataset, n_graphs=spec.n_graphs, seed=spec.seed, **spec.dataset_options)
    splits = store_splits(store, seed=spec.seed)
    strategy = STRATEGIES.create(spec.strategy, **spec.strategy_params)
    t0 = time.perf_counter()
    loader = BatchLoader(store, strategy, splits["train"], seed=spec.seed)
    metrics: dict = {"prepare_s": time.perf_counter() - t0}
    plan = loader.plan(0)
    node_eff, edge_eff = plan.efficiency(loader.n_node, loader.n_edge)
    metrics.update(node_efficiency=node_eff, edge_efficiency=edge_eff,
                   graphs_per_step_mean=len(plan.graph_index) / max(plan.n_batch, 1))
    if spec.model == "none":
        metrics["baseline_rss_mib"] = _rss_mib()
        _reset_peak_rss()
        metrics.update(_loader_only(loader, spec))
        return _memory(metrics, device)

    target = spec.target or store.meta.target_names[0]
    if target not in store.meta.target_names:
        raise ValueError(f"target {target!r} not in {spec.dataset}'s targets {list(store.meta.target_names)}")
    column = store.meta.target_names.index(target)
    model = create_model(spec.model, store, **spec.model_params)
    mean, std = _target_stats(store, splits["train"], column, spec.model)
    if spec.model == "schnet":
        model.set_target_stats(mean, std)
    else:
        model.set_target_stats(mean, std, mean_nodes=float(store.n_node[splits["train"]].mean()))
    model.to(device).train()
    init_state = copy.deepcopy(model.state_dict())
    gc.collect()
    metrics["baseline_rss_mib"] = _rss_mib()
    _reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    # -- throughput --------------------------------------------------------------
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    stream = _stream(loader)
    for _ in range(spec.warmup_steps):
        _train_step(model, opt, next(stream).to(device), column, spec.backend)
    rates, node_rates, slot_rates, step_times, build_share, pad_b, batch_b = [], [], [], [], [], [], []
    for _ in range(spec.repeats):
        build = compute = 0.0
        graphs = nodes = slots = 0
        for _ in range(spec.timed_steps):
            tb = time.perf_counter()
            batch = next(stream).to(device)
            _sync(device)
            tc = time.perf_counter()
            _train_step(model, opt, batch, column, spec.backend)
            _sync(device)
            te = time.perf_counter()
            build += tc - tb
            compute += te - tc
            graphs += batch.n_real_graph
            nodes += int(batch.node_mask.sum())
            slots += batch.node_mask.shape[0]
            pad_b.append(batch.padding_bytes())
            batch_b.append(batch.nbytes())
        total = build + compute
        rates.append(graphs / total)
        node_rates.append(nodes / total)
        slot_rates.append(slots / total)
        step_times.append(total / spec.timed_steps)
        build_share.append(build / total)
    metrics.update(
        graphs_per_s=statistics.median(rates), graphs_per_s_min=min(rates), graphs_per_s_max=max(rates),
        real_nodes_per_s=statistics.median(node_rates), padded_nodes_per_s=statistics.median(slot_rates),
        step_s=statistics.median(step_times), batch_build_share=statistics.median(build_share),
        padding_mib_per_step=float(np.mean(pad_b)) / 2**20, batch_mib_per_step=float(np.mean(batch_b)) / 2**20)

    # -- time to accuracy ------------------------------------------------------------
    if spec.target_mae is not None:
        model.load_state_dict(init_state)
        torch.manual_seed(spec.seed)
        metrics.update(_time_to_accuracy(model, store, splits, loader, spec, column, device))
    return _memory(metrics, device)


def _time_to_accuracy(model, store, splits, loader, spec: CellSpec, column: int, device) -> dict:
    val = BatchLoader(store, STRATEGIES.create("dynamic", batch_graphs=256), splits["val"], seed=spec.seed)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    stream = _stream(loader)  # the same plan, from epoch 0 again
    curve, train_s, step = [], 0.0, 0
    reached_at = None
    mae = evaluate_mae(model, val, column, device, spec.backend)
    curve.append([0, 0.0, mae])
    if mae <= spec.target_mae:
        reached_at = (0, 0.0)
    while reached_at is None and step < spec.max_steps and train_s < spec.train_time_limit_s:
        t = time.perf_counter()
        for _ in range(spec.eval_every):
            _train_step(model, opt, next(stream).to(device), column, spec.backend)
            step += 1
            if step >= spec.max_steps:
                break
        _sync(device)
        train_s += time.perf_counter() - t
        mae = evaluate_mae(model, val, column, device, spec.backend)
        curve.append([step, round(train_s, 4), mae])
        if mae <= spec.target_mae:
            reached_at = (step, train_s)
            break
    maes = [c[2] for c in curve]
    return {"reached_target": reached_at is not None,
            "time_to_target_s": reached_at[1] if reached_at else None,
            "steps_to_target": reached_at[0] if reached_at else None,
            "best_val_mae": min(maes), "final_val_mae": maes[-1], "train_steps": step, "train_s": train_s,
            "curve": curve}


def _loader_only(loader: BatchLoader, spec: CellSpec) -> dict:
    from bench_lib.harness.loader_bench import measure_loader

    m = measure_loader(loader, epochs=max(2, spec.repeats + 1), to_dgl=spec.backend == "dgl")
    keep = ("graphs_per_s", "graphs_per_s_min", "graphs_per_s_max", "real_nodes_per_s", "padded_nodes_per_s")
    out = {k: m[k] for k in keep}
    out["padding_mib_per_step"] = m["padding_mib_per_epoch"] / max(m["n_batch"], 1)
    return out


def _memory(metrics: dict, device: torch.device) -> dict:
    """``peak_rss_mib``: the resident peak since the baseline was taken (after
    setup), ``train_rss_mib``: that peak above the baseline."""
    metrics["peak_rss_mib"] = _peak_rss_mib()
    metrics.setdefault("baseline_rss_mib", _rss_mib())
    metrics["train_rss_mib"] = max(0.0, metrics["peak_rss_mib"] - metrics["baseline_rss_mib"])
    if device.type == "cuda":
        metrics["cuda_max_mem_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return metrics
