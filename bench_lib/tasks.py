"""What a dataset's target is, how a cell trains on it and how it is scored.

A target has a **task**:

- ``regression``: one numeric column; squared error in standardised units;
  scored by MAE (or RMSE);
- ``binary``: one column of two classes (index 1 the positive one); binary
  cross-entropy on one logit; scored by ROC-AUC (or average precision,
  accuracy);
- ``multiclass``: one column of K classes; cross-entropy on K logits;
  scored by accuracy;
- ``multilabel``: several binary columns, labels missing (NaN) per graph
  and column; binary cross-entropy per known label; scored by average
  precision (or ROC-AUC), the mean over the columns that hold both classes
  (OGB's definition).

The task is known for built-in and OGB sets (:func:`dataset_task`, OGB's own
``master.csv``), declared by a local file's reader for text labels
(``StoreMeta.task``), else inferred (:func:`resolve_task`: a column holding
only two values is binary, and says so). Every loss and metric is masked per
label, and padding graphs never enter either.

Example::

    task = resolve_task(store, "BBB+/BBB-")       # Task(kind="binary", ...)
    metric = METRICS[task.metric]                  # ROC-AUC, higher is better
    score(task.metric, y_true, y_pred)             # over the real graphs
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench_lib.deps import quiet_jit_deprecation

__all__ = ["TASKS", "Metric", "METRICS", "DEFAULT_METRIC", "Task", "dataset_task", "resolve_task",
           "score",
           "ogb_score", "check_target", "MAX_CLASSES", "task_loss", "class_balance", "LOSSES",
           "check_goal"]

TASKS = ("regression", "binary", "multiclass", "multilabel")

#: A multiclass column with more classes than this is refused unless the suite raises it
#: (``max_classes``).
MAX_CLASSES = 50


@dataclass(frozen=True)
class Metric:
    """A validation metric: its name in records, how a reader sees it, its direction and range."""

    name: str
    label: str
    higher_is_better: bool
    tasks: tuple[str, ...]
    low: float = 0.0
    high: float = math.inf

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def reached(self, value: float, target: float) -> bool:
        """Whether ``value`` is at the target or beyond it in the metric's direction."""
        return value >= target if self.higher_is_better else value <= target

    def best(self, values) -> float:
        values = [v for v in values if v == v]
        if not values:
            return float("nan")
        return max(values) if self.higher_is_better else min(values)

    def check_value(self, value) -> str | None:
        """Why ``value`` cannot be a target of this metric, or None."""
        if isinstance(value, bool) or not isinstance(value,
                                                     (int, float)) or not math.isfinite(value):
            return f"a {self.label} target must be a finite number (got {value!r})"
        if not self.low < value <= self.high:
            span = (f"> {self.low:g}" if self.high == math.inf
                    else f"in ({self.low:g}, {self.high:g}]")
            return f"a {self.label} target must be {span} (got {value!r})"
        return None


METRICS: dict[str, Metric] = {
    "mae": Metric("mae", "MAE", False, ("regression",)),
    "rmse": Metric("rmse", "RMSE", False, ("regression",)),
    "rocauc": Metric("rocauc", "ROC-AUC", True, ("binary", "multilabel"), 0.0, 1.0),
    "ap": Metric("ap", "average precision", True, ("binary", "multilabel"), 0.0, 1.0),
    "accuracy": Metric("accuracy", "accuracy", True, ("binary", "multiclass"), 0.0, 1.0),
}
DEFAULT_METRIC = {"regression": "mae", "binary": "rocauc", "multiclass": "accuracy",
                  "multilabel": "ap"}

#: Built-in sets whose task is fixed (OGB sets read theirs from OGB's master.csv).
_KNOWN = {"qm9": ("regression", "mae"), "nci5k": ("regression", "mae"),
          "hydronet-like": ("regression", "mae"),
          "zinc": ("regression", "mae"), "pcqm4mv2": ("regression", "mae"),
          "peptides-func": ("multilabel", "ap")}
#: OGB's master.csv, for a machine whose ogb package lacks it (the values of ogb 1.3.6).
_OGB_FALLBACK = {"ogbg-molhiv": ("binary", "rocauc", 1), "ogbg-molpcba": ("multilabel", "ap", 128)}


@functools.lru_cache(maxsize=None)
def _ogb_master(name: str) -> tuple[str, str, int] | None:
    """``(task, metric, tasks)`` of an ``ogbg-mol*`` set from ``ogb``'s own metadata."""
    try:
        import pandas as pd

        with quiet_jit_deprecation():
            import ogb.graphproppred

        master = pd.read_csv(os.path.join(os.path.dirname(ogb.graphproppred.__file__),
                                          "master.csv"), index_col=0)
    except (ImportError, OSError):
        master = None
    if master is None or name not in master.columns:
        return _OGB_FALLBACK.get(name)
    row = master[name]
    n = int(row["num tasks"])
    kind = ("regression" if "regression" in str(row["task type"])
            else ("binary" if n == 1 else "multilabel"))
    return kind, str(row["eval metric"]), n


def dataset_task(name: str) -> tuple[str, str] | None:
    """``(task, default metric)`` of a built-in or OGB set, None for a local file."""
    if name in _KNOWN:
        return _KNOWN[name]
    if name.startswith("ogbg-"):
        found = _ogb_master(name)
        return None if found is None else found[:2]
    return None


@dataclass(frozen=True)
class Task:
    """What one cell trains on.

    Attributes:
      kind: one of :data:`TASKS`.
      columns: the store's target columns it uses (one, or several for multilabel).
      names: their names.
      metric: the validation metric's name (:data:`METRICS`).
      classes: the values a class column holds, by class index (binary: the
        positive value last); empty for regression and multilabel (0/1).
      class_names: how a reader names those classes.
      note: how the task was decided, for the user (empty when declared).
    """

    kind: str
    columns: tuple[int, ...]
    names: tuple[str, ...]
    metric: str
    classes: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()
    note: str = ""

    @property
    def n_outputs(self) -> int:
        return {"multiclass": len(self.classes), "multilabel": len(self.columns)}.get(self.kind, 1)

    @property
    def classification(self) -> bool:
        return self.kind != "regression"

    def labels(self, targets: np.ndarray) -> np.ndarray:
        """The store's target rows ``[G, T]`` -> float32 labels ``[G, len(columns)]``: values for
        regression, class indices for a class column (0/1 for binary), NaN where the label is
        missing."""
        y = np.asarray(targets, dtype=np.float64)[:, list(self.columns)]
        if not self.classes:
            return y.astype(np.float32)
        out = np.full(y.shape, np.nan, dtype=np.float32)
        for k, value in enumerate(self.classes):
            out[y == value] = k
        return out

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _values(store, column: int) -> np.ndarray:
    y = np.asarray(store.targets[:, column], dtype=np.float64)
    return np.unique(y[np.isfinite(y)])


def _fmt(v: float) -> str:
    return f"{v:g}"


def resolve_task(store, target: str | None, kind: str | None = None, metric: str | None = None,
                 dataset: str | None = None) -> Task | None:
    """The :class:`Task` of ``store`` trained on ``target`` (a column name; None: the first), or
    None when the store has no target.

    ``kind``: the task the user declared (``--task``); else the dataset's
    own (:func:`dataset_task`, ``store.meta.task``); else inferred from the
    values: a column holding only two values is ``binary`` (the larger one
    positive) and the note says so. ``metric``: the user's, else the task's
    default (OGB's for an OGB set). ``ValueError`` when the declared task
    does not fit the values."""
    names = tuple(store.meta.target_names)
    if not names:
        return None
    target = target or names[0]
    if target not in names:
        raise ValueError(f"target {target!r} is not one of the dataset's targets {list(names)}")
    known = dataset_task(dataset) if dataset else None
    kind, note = (kind, "") if kind is not None else _own_or_inferred_kind(store, target, known)
    if kind not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} (got {kind!r})")
    if metric is None:
        metric = known[1] if known is not None and known[0] == kind else DEFAULT_METRIC[kind]
    if kind == "multilabel":
        columns = (tuple(range(len(names))) if target == names[0] or known is not None
                   else (names.index(target),))
    else:
        columns = (names.index(target),)
    classes, class_names = _classes(store, kind, target, columns)
    return Task(kind=kind, columns=columns, names=tuple(names[c] for c in columns), metric=metric,
                classes=classes, class_names=class_names, note=note)


def _own_or_inferred_kind(store, target: str, known: tuple[str, str] | None) -> tuple[str, str]:
    """``(kind, note)`` of a target whose task the user did not declare: the dataset's own
    (``known``, then ``store.meta.task``), else inferred from the values: a column holding only two
    values is binary, and the note says so."""
    if known is not None:
        return known[0], ""
    if store.meta.task is not None:
        return store.meta.task, ""
    values = _values(store, tuple(store.meta.target_names).index(target))
    if len(values) != 2:
        return "regression", ""
    return "binary", (f"{target!r} holds only two values ({', '.join(map(_fmt, values))}): binary "
                      f"classification, {_fmt(values[1])} the positive class (--task regression to "
                      f"regress it)")


def _classes(store, kind: str, target: str, columns: tuple[int, ...]) -> tuple[tuple[float, ...],
             tuple[str, ...]]:
    """``(classes, class names)`` of a binary or multiclass target (a text column's indices and
    labels, else its values), empty for the other tasks; ``ValueError`` when the values do not fit
    the task (two classes for binary, whole numbers for multiclass, 0 and 1 in each multilabel
    column)."""
    names = tuple(store.meta.target_names)
    classes, class_names = (), ()
    text = store.meta.target_classes.get(target)
    if kind in ("binary", "multiclass"):
        values = _values(store, columns[0])
        if text:
            classes = tuple(float(k) for k in range(len(text)))
            class_names = tuple(text)
        else:
            if kind == "multiclass" and not np.all(values == np.round(values)):
                raise ValueError(f"--task multiclass: {target!r} holds non-integer values "
                                 f"({', '.join(map(_fmt, values[:4]))}...); class labels are whole "
                                 f"numbers or text")
            classes = tuple(float(v) for v in values)
            class_names = tuple(_fmt(v) for v in values)
        if kind == "binary" and len(classes) != 2:
            shown = ", ".join(class_names[:6]) + ("..." if len(class_names) > 6 else "")
            raise ValueError(f"--task binary: {target!r} holds {len(classes)} distinct value(s) "
                             f"({shown}), not two")
    elif kind == "multilabel":
        for c in columns:
            bad = [v for v in _values(store, c) if v not in (0.0, 1.0)]
            if bad:
                raise ValueError(f"--task multilabel: {names[c]!r} holds values other than 0 and 1 "
                                 f"({', '.join(map(_fmt, bad[:4]))})")
    return classes, class_names


def class_balance(task: Task, labels: np.ndarray) -> float | list[float] | None:
    """How the classes are shared among ``labels`` (``Task.labels`` rows of the training graphs):
    the positive share (binary; multilabel: the mean over columns), each class's share (multiclass),
    or None (regression)."""
    if task.kind == "regression":
        return None
    y = labels[np.isfinite(labels)]
    if task.kind == "multiclass":
        counts = np.bincount(y.astype(np.int64), minlength=len(task.classes))
        return [round(float(c) / max(len(y), 1), 4) for c in counts]
    if task.kind == "binary":
        return float(y.mean()) if len(y) else float("nan")
    shares = [float(np.nanmean(c)) for c in labels.T if np.isfinite(c).any()]
    return float(np.mean(shares)) if shares else float("nan")


# ---- metrics ---------------------------------------------------------------------------
def _per_column(fn, y_true: np.ndarray, y_pred: np.ndarray, what: str) -> float:
    """The mean over columns holding both classes among their known labels (OGB's rule)."""
    values = []
    for k in range(y_true.shape[1]):
        known = np.isfinite(y_true[:, k])
        y = y_true[known, k]
        if (y == 1).any() and (y == 0).any():
            values.append(fn(y, y_pred[known, k]))
    if not values:
        raise ValueError(
            f"{what} needs both classes among the labels of at least one column; the validation "
            "split has one class only")
    return float(np.mean(values))


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``metric`` over real graphs: ``y_true`` ``[n, L]`` labels (``Task.labels``, NaN where
    missing), ``y_pred`` ``[n, outputs]`` (regression: values in the target's units; binary and
    multilabel: logits; multiclass: one logit per class)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if metric in ("mae", "rmse"):
        known = np.isfinite(y_true[:, 0])
        if not known.any():
            raise ValueError("no validation graph has a label")
        err = y_pred[known, 0] - y_true[known, 0]
        return float(np.abs(err).mean()) if metric == "mae" else float(np.sqrt((err ** 2).mean()))
    if metric == "rocauc":
        return _per_column(roc_auc_score, y_true, y_pred, "ROC-AUC")
    if metric == "ap":
        return _per_column(average_precision_score, y_true, y_pred, "average precision")
    if metric == "accuracy":
        known = np.isfinite(y_true[:, 0])
        if not known.any():
            raise ValueError("no validation graph has a label")
        guess = (y_pred[known].argmax(1) if y_pred.shape[1] > 1
                 else (y_pred[known, 0] > 0).astype(np.int64))
        return float((guess == y_true[known, 0]).mean())
    raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")


def ogb_score(dataset: str, metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """The value OGB's own evaluator gives (``ogb.graphproppred.Evaluator``, ``PCQM4Mv2Evaluator``),
    when ``dataset`` is an OGB set scored by ``metric``; None otherwise."""
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    if dataset == "pcqm4mv2" and metric == "mae":
        with quiet_jit_deprecation():
            from ogb.lsc import PCQM4Mv2Evaluator

        known = np.isfinite(y_true[:, 0])
        return float(PCQM4Mv2Evaluator().eval({"y_pred": y_pred[known, 0],
                                               "y_true": y_true[known, 0]})["mae"])
    found = _ogb_master(dataset) if dataset.startswith("ogbg-") else None
    if found is None or found[1] != metric or y_true.shape[1] != found[2]:
        return None
    return float(_ogb_evaluator(dataset).eval({"y_true": y_true, "y_pred": y_pred})[metric])


@functools.lru_cache(maxsize=None)
def _ogb_evaluator(dataset: str):
    with quiet_jit_deprecation():
        from ogb.graphproppred import Evaluator

    return Evaluator(dataset)


# ---- checks before any cell ---------------------------------------------------------------------
def check_target(task: Task, value: float | None, labels_by_split: dict[str, np.ndarray],
                 max_classes: int = MAX_CLASSES) -> list[str]:
    """Every reason ``task`` cannot run to ``value`` on these splits (``Task.labels`` rows per
    split)."""
    problems = []
    metric = METRICS.get(task.metric)
    if metric is None:
        return [f"unknown metric {task.metric!r}; known: {', '.join(METRICS)}"]
    if task.kind not in metric.tasks:
        fits = [m for m, x in METRICS.items() if task.kind in x.tasks]
        shown = ", ".join(map(repr, task.names[:3]))
        problems.append(f"metric {task.metric} does not fit a {task.kind} target ({shown}"
                        f"{'...' if len(task.names) > 3 else ''}); use {' or '.join(fits)}")
    if value is not None:
        why = metric.check_value(value)
        if why:
            problems.append(why)
    if task.kind == "multiclass" and len(task.classes) > max_classes:
        problems.append(
            f"{task.names[0]!r} has {len(task.classes)} classes, more than "
            f"max_classes={max_classes}; raise max_classes for this dataset if that is meant")
    if task.classification:
        for split in ("train", "val"):
            y = labels_by_split.get(split)
            if y is None or not len(y):
                continue
            if task.kind in ("binary", "multiclass"):
                seen = np.unique(y[np.isfinite(y[:, 0]), 0])
                if len(seen) < 2:
                    name = task.class_names[int(seen[0])] if len(seen) else "none"
                    problems.append(
                        f"the {split} split holds one class only ({task.names[0]!r}: {name}); a "
                        f"classification target needs both classes in each split (more rows, or "
                        f"another seed)")
            elif task.kind == "multilabel" and split == "val" and task.metric in ("rocauc", "ap"):
                both = [((c == 1).any() and (c == 0).any()) for c in (y[np.isfinite(y[:, k]), k]
                                                                   for k in range(y.shape[1]))]
                if not any(both):
                    problems.append(
                        f"{metric.label} on the validation split: no label column holds both "
                        "classes there")
    return problems


# ---- loss ---------------------------------------------------------------------------------------
#: Regression losses (classification tasks have one each).
LOSSES = ("mse", "l1")


def task_loss(pred, labels, graph_mask, kind: str, std=None, denominator: int | None = None,
              loss: str = "mse"):
    """The training loss over the real graphs' known labels (torch; traceable by ``torch.compile``).

    ``pred`` ``[G, outputs]``; ``labels`` ``[G, L]`` (``Task.labels``);
    ``graph_mask`` ``[G]`` real graphs. Regression: the error divided by
    ``std``, squared (``loss`` ``mse``) or absolute (``l1``); binary and
    multilabel: binary cross-entropy with logits per known label;
    multiclass: cross-entropy. The sum is divided by the known
    labels (or by ``denominator``, a data-parallel step's count over every
    rank)."""
    import torch
    import torch.nn.functional as F

    # padding rows set to 0 first: an inf there would make 0 x inf = NaN in the backward of the
    # masked sum
    pred = torch.where(graph_mask[:, None], pred, torch.zeros_like(pred))
    if kind in ("regression", "multiclass"):
        y = labels[:, 0]
        valid = graph_mask & torch.isfinite(y)
        safe = torch.where(valid, y, torch.zeros_like(y))
        if kind == "regression":
            err = (pred[:, 0] - safe) / std.reshape(-1)[0]
            per = err.abs() if loss == "l1" else err.pow(2)
        else:
            per = F.cross_entropy(pred, safe.long(), reduction="none")
    else:
        valid = graph_mask[:, None] & torch.isfinite(labels)
        safe = torch.where(valid, labels, torch.zeros_like(labels))
        per = F.binary_cross_entropy_with_logits(pred[:, :labels.shape[1]], safe, reduction="none")
    total = torch.where(valid, per, torch.zeros_like(per)).sum()
    if denominator is not None:
        return total / max(int(denominator), 1)
    return total / valid.sum().clamp(min=1)


def check_goal(where: str, task: str | None, metric: str | None, value, target_mae,
               cli: bool = False) -> list[str]:
    """What is wrong with a dataset's declared task and target (before its data is read); ``cli``:
    say it in the command line's flags."""
    problems = []
    names = (("--task", "--target-metric", "--target-mae", "--target-value") if cli else
             (f"{where} task", f"{where} target metric", f"{where} target_mae",
              f"{where} target value"))
    if task is not None and task not in TASKS:
        problems.append(f"{names[0]}: unknown task {task!r}; valid: {', '.join(TASKS)}")
    if metric is not None and metric not in METRICS:
        problems.append(f"{names[1]}: unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    for name, v in ((names[2], target_mae), (names[3], value)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not math.isfinite(v)):
            problems.append(
                f"{name} must be a finite number (got {v!r}): a target every strategy reaches at "
                "step 0 measures nothing")
    if target_mae is not None and value is not None:
        problems.append(f"{names[2]} and {names[3]}: give one of them, not both")
    if target_mae is not None and metric not in (None, "mae"):
        problems.append(f"{names[2]} is a MAE target, but the metric is {metric}; give the value "
                        f"in {metric}'s terms (target = {{metric = \"{metric}\", value = X}}, or "
                        f"--target-value X)")
    return problems
