"""Loader-only measurement: plan + collate (+ ``to_dgl``), no model.

It measures the input pipeline's own graphs/s, so that a slow loader is
never mistaken for a slow strategy, and each strategy's padding.
"""

from __future__ import annotations

import statistics
import time

from bench_lib.strategies.loader import BatchLoader

__all__ = ["measure_loader"]


def measure_loader(loader: BatchLoader, epochs: int = 3, to_dgl: bool = True) -> dict[str, float]:
    """Run ``epochs`` epochs of collation of a planned loader; epoch 0 is warm-up.

    Returns metrics with units in their names: ``graphs_per_s`` (median over
    timed epochs) with ``graphs_per_s_min``/``_max``, ``real_nodes_per_s``,
    ``padded_nodes_per_s`` (all node slots), ``node_efficiency``,
    ``edge_efficiency``, ``n_batch``, ``graphs_per_batch_mean``,
    ``padding_mib_per_epoch``, and the static shape (0 when shapes vary).
    """
    if epochs < 2:
        raise ValueError(f"`epochs` must be >= 2 (one warm-up epoch) (got {epochs})")
    rates, slot_rates, node_rates = [], [], []
    for epoch in range(epochs):
        real_g = real_n = slots_n = slots_e = real_e = pad_bytes = n_batch = 0
        t = time.perf_counter()
        for batch in loader.epoch(epoch):
            if to_dgl:
                batch.to_dgl()
            n_batch += 1
            real_g += batch.n_real_graph
            real_n += int(batch.node_mask.sum())
            real_e += int(batch.edge_mask.sum())
            slots_n += len(batch.node_mask)
            slots_e += len(batch.edge_mask)
            pad_bytes += batch.padding_bytes()
        dt = time.perf_counter() - t
        if epoch:  # epoch 0 warms caches and lazy imports
            rates.append(real_g / dt)
            node_rates.append(real_n / dt)
            slot_rates.append(slots_n / dt)
    shape = loader.shape
    return {
        "graphs_per_s": statistics.median(rates), "graphs_per_s_min": min(rates), "graphs_per_s_max": max(rates),
        "real_nodes_per_s": statistics.median(node_rates), "padded_nodes_per_s": statistics.median(slot_rates),
        "node_efficiency": real_n / slots_n if slots_n else 1.0,
        "edge_efficiency": real_e / slots_e if slots_e else 1.0,
        "n_batch": n_batch, "graphs_per_batch_mean": real_g / max(n_batch, 1),
        "padding_mib_per_epoch": pad_bytes / 2**20,
        "shape_n_node": shape.n_node if shape else 0, "shape_n_edge": shape.n_edge if shape else 0,
        "shape_n_graph": shape.n_graph if shape else 0,
    }
