"""Scoring a model on the cell's validation batches, and the training labels' statistics it is
given.

Validation always uses the same unpadded batches, whatever the strategy.
Labels may be missing per graph and column (NaN, as in ogbg-molpcba): the
statistics and the metric use the finite labels of real graphs only. An OGB
set is scored by OGB's own evaluator.
"""

from __future__ import annotations

import numpy as np
import torch

from bench_lib.strategies.loader import BatchLoader
from bench_lib.tasks import Task, ogb_score, score

__all__ = ["predict", "evaluate_score", "evaluate_mae", "target_stats"]


@torch.no_grad()
def predict(model, loader: BatchLoader, device: torch.device,
            backend: str) -> tuple[np.ndarray, np.ndarray]:
    """``(labels [n, L], predictions [n, outputs])`` of the real graphs of one pass of ``loader``,
    in the model's evaluation mode."""
    was_training = model.training
    model.eval()
    labels, preds = [], []
    for batch in loader.epoch(0):
        batch = batch.to(device)
        pred = model(batch, backend=backend)
        labels.append(batch.targets[batch.graph_mask].double().cpu().numpy())
        preds.append(pred[batch.graph_mask].double().cpu().numpy())
    model.train(was_training)
    return np.concatenate(labels), np.concatenate(preds)


def evaluate_score(model, loader: BatchLoader, task: Task, device: torch.device, backend: str,
                   dataset: str = "") -> tuple[float, str]:
    """``(score, what computed it)``: the task's metric over one pass of ``loader`` (a batch of the
    cell's labelled store); OGB's evaluator for an OGB set scored by its own metric."""
    y, pred = predict(model, loader, device, backend)
    # a diverged model: not reached, recorded as such (the rankers raise on NaN)
    if not np.isfinite(pred).all():
        return float("nan"), "bench_lib"
    official = ogb_score(dataset, task.metric, y, pred) if dataset else None
    if official is not None:
        return official, f"ogb evaluator ({dataset})"
    return score(task.metric, y, pred), "bench_lib"


def evaluate_mae(model, loader: BatchLoader, column: int, device: torch.device,
                 backend: str) -> float:
    """Mean absolute error of output 0 on target ``column`` over the real graphs with a known
    label."""
    y, pred = predict(model, loader, device, backend)
    return score("mae", y[:, [column]], pred[:, :1])


def target_stats(store, train: np.ndarray, column: int, per_atom: bool) -> tuple[float, float]:
    """Mean and std of the finite labels of ``column`` over the training graphs
    (per atom for the models that standardise per atom, as SchNet and PaiNN do)."""
    y = store.targets[train, column].astype(np.float64)
    if per_atom:
        y = y / store.n_node[train]
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise ValueError(f"no training graph has a finite label in target column {column}")
    return float(y.mean()), float(max(y.std(), 1e-6))
