"""A cell: dataset x strategy x model x budget x seed, and its result record.

A :class:`CellSpec` is built once at the edge (suite config or CLI) and sent
as JSON to the worker process that runs it. The worker's answer is a flat
record (:data:`RECORD_FIELDS`): the spec, the status, every metric with its
unit in its name (:data:`METRICS` says what each holds), and the
environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bench_lib.strategies.budget import VIEWS
from bench_lib.tasks import LOSSES

__all__ = ["TrainSettings", "CellSpec", "EXECUTIONS", "PREFETCH_MODES",
           "CONTENDED_SHARE", "COLD_CACHE_FLAG", "execution_tags", "SCHEMA_VERSION",
           "RECORD_FIELDS", "METRICS", "METRIC_FIELDS", "VIEWS",
           "EnvironmentSkip", "ENVIRONMENT_SKIP"]


class EnvironmentSkip(NotImplementedError):
    """A cell this machine cannot run (no GPU...): recorded as skipped, retried by a rerun."""


#: How an environment skip's ``error`` starts in the records.
ENVIRONMENT_SKIP = "EnvironmentSkip:"

# 10: compile_args, graph_break_reasons, compile_warm_s, shape_changes, frames_not_compiled;
# 9: retried (a data-parallel cell run again); 8: node and edge slots_per_step_min
SCHEMA_VERSION = 10

#: How a cell's training step runs (docs/compile.md): ``eager``; ``torch.compile`` of forward,
#: loss and backward with ``dynamic=False`` (``compile-static``), torch's default ``dynamic=None``
#: (``compile``), the default with ``mark_dynamic`` on the node, edge and graph dimensions within
#: the plan's bounds (``compile-marked``), ``dynamic=True`` (``compile-dynamic``, which torch now
#: advises against); ``cudagraphs``: ``mode="reduce-overhead"`` (CUDA only).
EXECUTIONS = ("eager", "compile-static", "compile", "compile-marked", "compile-dynamic",
              "cudagraphs")


#: How a cell's prefetching worker runs beside the training loop (``prefetch_with``).
PREFETCH_MODES = ("thread", "process")

#: A timed window in which the process got less than this share of a CPU per thread was contended.
CONTENDED_SHARE = 0.8

#: Set by the runner in a compiled cell's worker whose inductor cache is a fresh folder of its own.
COLD_CACHE_FLAG = "BENCH_LIB_COLD_INDUCTOR_CACHE"


def execution_tags(execution: str, prefetch: int, ranks: int = 1) -> list[str]:
    """What sets a cell's step apart from an eager, inline, one-process one (``["compile",
    "prefetch2", "2ranks"]``; none for eager, inline and one rank): cell labels and report rows are
    named with these."""
    return (([] if execution == "eager" else [execution])
            + ([f"prefetch{prefetch}"] if prefetch else [])
            + ([f"{ranks}ranks"] if ranks > 1 else []))

#: Fields added after schema 2: left out of ``cell_id`` while at their default,
#: so that the cells of earlier results keep their ids (resume still matches).
_NEW_FIELD_DEFAULTS = {"execution": "eager", "compile_options": {}, "prefetch": 0,
                       "prefetch_with": "thread",
                       "ranks": 1, "task": "regression", "metric": "mae", "target_value": None,
                       "loss": "mse",
                       "data_seed": None}


@dataclass(frozen=True)
class TrainSettings:
    """How every cell measures and trains: the one definition of these defaults.

    Attributes:
      lr: Adam learning rate, constant (the same schedule for every cell).
      warmup_steps: untimed training steps before the first timed window.
      window_s: a timed window runs whole steps until at least this long.
      windows: timed windows per repeat; the cells of a group take turns,
        one window each, so that every repeat spreads over the same stretch
        of time for every strategy (ABCABC..., not AAABBBCCC).
      eval_every: steps between validation passes in the time-to-accuracy run.
      max_steps: the time-to-accuracy run's step budget; a cell that has not
        reached the target by then is censored (``reached_target`` false).
      train_time_limit_s: a safety limit on that run's wall-clock time,
        recorded as the reason it stopped when it is what stopped it; it
        must stay below the cell's ``timeout_s``, which covers the whole cell.
    """

    lr: float = 1e-3
    warmup_steps: int = 3
    window_s: float = 0.05
    windows: int = 16
    eval_every: int = 25
    max_steps: int = 2000
    train_time_limit_s: float = 300.0


@dataclass(frozen=True)
class CellSpec:
    """Everything one cell needs; equal specs give the same ``cell_id``.

    Attributes:
      dataset, n_graphs, dataset_options: the data (``n_graphs`` None: all).
      strategy, strategy_params: the batching strategy and its resolved
        parameters (see :mod:`bench_lib.strategies.fairness`).
      model, model_params: a registered model's name (``schnet``, ``painn``, ``gin``, a
        plugin's) and its parameters, or ``none`` (loader-only cell).
      views: the fairness views this cell serves (``VIEWS``); a cell whose
        parameters are the same in two views runs once and serves both.
      node_slots_budget, edge_slots_budget: node and edge slots per step of
        the ``equal-padded-budget`` view (None when the cell does not serve it).
      graphs_per_step_budget: mean real graphs per step of the
        ``equal-real-graphs`` view (None when the cell does not serve it).
      target: target column (a multilabel task: the first of its columns).
      task, metric: what the target is (``regression``, ``binary``,
        ``multiclass``, ``multilabel``; :mod:`bench_lib.tasks`) and the
        validation metric that scores it (``mae``, ``rmse``, ``rocauc``,
        ``ap``, ``accuracy``).
      target_value: the validation score to reach in the metric's direction
        (None: no time-to-accuracy run); target_mae: the same for metric
        ``mae``, where it is kept (a MAE target is always stored there, so
        that regression cells keep their ids).
      loss: a regression target's training loss, ``mse`` (squared error) or
        ``l1`` (absolute error), both in standardised units; classification
        tasks have their own (see :func:`bench_lib.tasks.task_loss`).
      seed: initialisation, data order and dropout; and the dataset (subset, generated graphs) and
        its split unless ``data_seed`` fixes them.
      data_seed: the seed of the dataset and its split (None: ``seed``); a suite fixes it (0 by
        default), so that its seeds vary the training and not the data.
      device, backend: where and how the model runs (backend ``torch``: plain torch operators;
        ``dgl``: DGL's kernels, on the ``bench_lib[dgl]`` stack only).
      threads: torch (and OpenMP) threads of the cell's process.
      clock: what times a step. ``auto``: the process's CPU clock on a CPU
        device with one thread (the time the step actually ran: the time
        slices other programs get do not count against it, though what they
        do to the shared caches and cores still slows it), else the wall
        clock (with device synchronisation on CUDA). ``wall``: always the
        wall clock.
        The wall-clock rate is recorded either way (``graphs_per_wall_s``).
      malloc: ``keep``: the worker's glibc malloc keeps freed memory for reuse
        (``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``) instead of
        handing each step's large tensors back to the kernel and faulting
        them in again, a cost that varies from process to process;
        ``default``: glibc's own behaviour (whatever the environment sets).
      execution: how the training step runs (:data:`EXECUTIONS`); anything
        but ``eager`` needs backend ``torch`` (DGL's kernels cannot be
        traced; such a cell is recorded as skipped).
      compile_options: more keyword arguments of ``torch.compile``
        (``backend``, ``options``, ``fullgraph``...), for compiled cells.
      prefetch: batches built ahead of the step in the background (0: each
        batch built inline, when the step needs it).
      prefetch_with: ``thread`` or ``process`` (a ``torch.utils.data`` worker).
        A cell with ``prefetch`` is timed on the wall clock: the background
        builder's CPU time would otherwise count against the step.
      ranks: data-parallel processes (``torch.distributed.run``, gloo on a CPU,
        NCCL on CUDA; :mod:`bench_lib.harness.distributed`), each with
        ``threads`` threads; a global step trains one batch per rank. A cell
        with ``ranks > 1`` is timed on the wall clock. Its rates
        (graphs/s, nodes/s, window rates) count every rank's graphs over the
        slowest rank's time; per-step latencies, batch sizes, page faults
        and memory are rank 0's (every rank's peak is in ``rank_peak_rss_mib``).
      repeats: timed repeats (each of ``windows`` windows); 0: a train-only cell (a seed that
        measures steps to the target and no throughput; its time to target is steps x the step time
        its strategy measured in the timed seeds, filled in by the report).
      lr ... train_time_limit_s: see :class:`TrainSettings`.
      timeout_s: the whole cell's wall-clock limit (the worker is killed);
        not part of ``cell_id``, so a cell that timed out can be re-run with
        a longer limit and replace its record.
    """

    dataset: str
    strategy: str
    model: str = "none"
    seed: int = 0
    data_seed: int | None = None
    n_graphs: int | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    strategy_params: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, Any] = field(default_factory=dict)
    views: tuple[str, ...] = ("manual",)
    node_slots_budget: int | None = None
    edge_slots_budget: int | None = None
    graphs_per_step_budget: int | None = None
    target: str | None = None
    target_mae: float | None = None
    task: str = "regression"
    metric: str = "mae"
    target_value: float | None = None
    loss: str = "mse"
    device: str = "cpu"
    backend: str = "torch"
    threads: int = 1
    clock: str = "auto"
    malloc: str = "keep"
    execution: str = "eager"
    compile_options: dict[str, Any] = field(default_factory=dict)
    prefetch: int = 0
    prefetch_with: str = "thread"
    ranks: int = 1
    repeats: int = 5
    lr: float = TrainSettings.lr
    warmup_steps: int = TrainSettings.warmup_steps
    window_s: float = TrainSettings.window_s
    windows: int = TrainSettings.windows
    eval_every: int = TrainSettings.eval_every
    max_steps: int = TrainSettings.max_steps
    train_time_limit_s: float = TrainSettings.train_time_limit_s
    timeout_s: float = 900.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "views", tuple(self.views))
        if self.metric == "mae" and self.target_value is not None:  # one place for a MAE target
            if self.target_mae is not None and self.target_mae != self.target_value:
                raise ValueError(
                    f"CellSpec: target_mae {self.target_mae} and target_value {self.target_value} "
                    "disagree for metric mae")
            object.__setattr__(self, "target_mae", self.target_value)
            object.__setattr__(self, "target_value", None)
        if self.metric != "mae" and self.target_mae is not None:
            raise ValueError(f"CellSpec: target_mae is a MAE target; metric {self.metric!r} takes "
                             f"target_value")
        bad = [v for v in self.views if v not in VIEWS]
        if bad or not self.views:
            raise ValueError(f"CellSpec.views must be one or more of {VIEWS} (got {self.views!r})")
        if self.clock not in ("auto", "wall"):
            raise ValueError(f"CellSpec.clock must be 'auto' or 'wall' (got {self.clock!r})")
        if self.malloc not in ("keep", "default"):
            raise ValueError(f"CellSpec.malloc must be 'keep' or 'default' (got {self.malloc!r})")
        if self.loss not in LOSSES:
            raise ValueError(f"CellSpec.loss must be {' or '.join(map(repr, LOSSES))} (got "
                             f"{self.loss!r})")
        if self.backend not in ("dgl", "torch"):
            raise ValueError(f"CellSpec.backend must be 'dgl' or 'torch' (got {self.backend!r})")
        if self.execution not in EXECUTIONS:
            raise ValueError(f"CellSpec.execution must be one of {', '.join(EXECUTIONS)} (got "
                             f"{self.execution!r})")
        if self.prefetch_with not in PREFETCH_MODES:
            raise ValueError(f"CellSpec.prefetch_with must be one of {', '.join(PREFETCH_MODES)} "
                             f"(got {self.prefetch_with!r})")
        if self.prefetch < 0:
            raise ValueError(f"CellSpec.prefetch must be >= 0 (got {self.prefetch})")
        for name in ("warmup_steps", "repeats", "windows", "eval_every", "max_steps", "threads",
                     "ranks"):
            if getattr(self, name) < (0 if name in ("warmup_steps", "repeats") else 1):
                raise ValueError(f"CellSpec.{name} must be positive (got {getattr(self, name)})")
        if self.window_s < 0:
            raise ValueError(f"CellSpec.window_s must be >= 0 (got {self.window_s})")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CellSpec":
        return cls(**json.loads(text))

    @property
    def cell_id(self) -> str:
        """Stable hash of what the cell measures (what resume matches on)."""
        what = dataclasses.asdict(self)
        del what["timeout_s"]
        for name, default in _NEW_FIELD_DEFAULTS.items():
            if what[name] == default:
                del what[name]
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def dataset_seed(self) -> int:
        """The seed the dataset and its split are made with."""
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def timed_on_cpu_clock(self) -> bool:
        """Whether steps are timed on the process's CPU clock (see ``clock``)."""
        return (self.clock == "auto" and self.device == "cpu" and self.threads == 1
                and self.prefetch == 0
                and self.ranks == 1)

    @property
    def goal(self) -> float | None:
        """The validation score that counts as reached (None: no time-to-accuracy run)."""
        return self.target_mae if self.metric == "mae" else self.target_value

    @property
    def compiled(self) -> bool:
        return self.execution != "eager"

    def label(self) -> str:
        how = "".join(f"/{tag}" for tag in execution_tags(self.execution, self.prefetch,
                                                          self.ranks))
        views = "+".join(self.views)
        return f"{self.dataset}/{self.strategy}/{self.model}{how}/{views}/seed{self.seed}"

    def group_key(self) -> tuple:
        """Cells with the same key are timed in the same windows (interleaved):
        one dataset, model, seed and device, every strategy and view."""
        return (self.dataset, self.n_graphs, json.dumps(self.dataset_options, sort_keys=True),
                self.model,
                json.dumps(self.model_params, sort_keys=True), self.seed, self.device, self.backend)


#: Metric columns, units in the names, and what each holds.
METRICS: dict[str, str] = {
    "prepare_s": "seconds the strategy took to plan the training split (prepare)",
    "torch_threads": "torch threads the cell's process ran with",
    "step_clock": "what timed the steps: cpu (the process's CPU clock) or wall",
    "graphs_per_s": "real graphs per second of batch building + training step (on step_clock), "
                    "median over repeats",
    "graphs_per_s_min": "slowest repeat's graphs/s",
    "graphs_per_s_max": "fastest repeat's graphs/s",
    "repeat_graphs_per_s": "graphs/s of each repeat (JSON list)",
    "window_graphs_per_s": "graphs/s of each timed window, in the order they ran (JSON list)",
    "graphs_per_wall_s": "real graphs per second of wall-clock window time, median over repeats",
    "real_nodes_per_s": "real nodes per second, median over repeats",
    "padded_nodes_per_s": "node slots (real + padding) per second, median over repeats",
    "step_s": "seconds per step (build + compute, on step_clock), median over repeats",
    "step_s_p10": "10th percentile of single-step latency over every timed step",
    "step_s_p50": "median single-step latency",
    "step_s_p90": "90th percentile of single-step latency",
    "page_faults_per_step": "minor page faults of the process per timed step (memory handed back "
                            "and faulted in again)",
    "batch_build_share": "share of a step spent building the batch or waiting for it (collate, "
                         "copy, DGLGraph), median over repeats",
    "batch_build_s": "seconds to build one batch wherever it was built (inline or ahead), mean "
                     "over timed steps",
    "batch_wait_s": "seconds a step waited for its batch (inline: the whole build), mean over "
                    "timed steps",
    "build_hidden_share": "share of the build hidden behind compute by prefetching: 1 - wait / "
                          "build (0 inline)",
    "compile_s": "wall seconds of the steps that compiled (dynamo frames compiled during the "
                 "step), less the steady step time each: the whole cell, training included (0 for "
                 "eager)",
    "compile_cache": "the inductor cache a compiled cell started from: cold (a fresh folder per "
                     "cell, as the suite runs them) or shared (the process's default, possibly "
                     "warm)",
    "compiles": "dynamo frame compilations of the cell (first compile, graph-break resumes and "
                "recompiles)",
    "recompiles": "compilations after the first step (new shapes or failed guards)",
    "graph_breaks": "graph breaks dynamo reported",
    "frames_not_compiled": "frames dynamo tried to compile and ran eagerly instead (compile-static "
                           "past the recompile limit: a shape not yet compiled runs eagerly)",
    "graph_break_reasons": "JSON {reason: count} of the graph breaks dynamo reported (empty: none)",
    "compile_args": "JSON of what the compiled step passed: torch.compile's keyword arguments, and "
                    "for compile-marked the bounds given to mark_dynamic per dimension ({} for "
                    "eager)",
    "compile_warm_s": "compile seconds of the same step in a second process on the cell's own, "
                      "now warm inductor cache (what a user's second run pays); empty where not "
                      "measured",
    "compile_warm_compiles": "frames the warm-cache process compiled (the cell's compiles, if "
                             "the warm run went as far)",
    "compile_warm_error": "why compile_warm_s was not measured (empty: measured or not tried)",
    "compiled_graphs": "FX graphs dynamo compiled (unique_graphs)",
    "compile_steps_timed": "timed steps that compiled; they are left out of the steady rates above",
    "distinct_shapes": "distinct (nodes, edges, graphs) batch shapes of the first epoch's plan",
    "shape_changes": "times a batch of the first epoch's plan, in order, changed a dimension "
                     "(nodes, edges, graphs) no earlier batch had changed: the recompiles of "
                     "automatic dynamic shapes",
    "node_efficiency": "real node slots / all node slots over the first epoch's plan",
    "edge_efficiency": "real edge slots / all edge slots over the first epoch's plan",
    "graphs_per_step_mean": "mean real graphs per step (first epoch)",
    "node_slots_per_step": "mean node slots per step (padded; real nodes for unpadded batches)",
    "node_slots_per_step_max": "largest node slots of a step",
    "node_slots_per_step_min": "smallest node slots of a step (with the largest: the range a "
                               "compiler sees)",
    "edge_slots_per_step": "mean edge slots per step (padded; real edges for unpadded batches)",
    "edge_slots_per_step_max": "largest edge slots of a step",
    "edge_slots_per_step_min": "smallest edge slots of a step",
    "graph_slots_per_step": "mean graph slots per step (real, padding and empty graphs)",
    "padding_mib_per_step": "MiB of the batch's node and edge tensors that hold padding, mean per "
                            "timed step",
    "batch_mib_per_step": "MiB of the whole batch, mean per timed step",
    "baseline_rss_mib": "resident memory after setup (imports, data, plan, model)",
    "peak_reset_ok": "whether the kernel's resident high-water mark could be reset after setup",
    "throughput_peak_rss_mib": "resident peak of the throughput phase (warm-up and timed windows)",
    "throughput_rss_mib": "that peak above the baseline",
    "train_peak_rss_mib": "resident peak of the training steps of the time-to-accuracy run "
                          "(validation apart)",
    "train_rss_mib": "that peak above the baseline",
    "validation_peak_rss_mib": "resident peak of the validation passes (256-graph unpadded "
                               "batches, every strategy alike)",
    "validation_rss_mib": "that peak above the baseline",
    "cuda_throughput_peak_mib": "CUDA memory allocated at peak in the throughput phase",
    "cuda_train_peak_mib": "CUDA memory allocated at peak in the training steps of the "
                           "time-to-accuracy run",
    "windows_timed": "timed windows run",
    "turn_group": "the run of turns the cell's windows took part in (an id): cells with the same "
                  "id took turns, window by window; a cell re-run apart from its group gets an id "
                  "of its own",
    "decide_looks": "looks at the verdicts a 'decide' suite planned (each at a Bonferroni share of "
                    "5%); 1 otherwise",
    "decided_turns": "turns after which every verdict of the cell within its group was decided "
                     "(empty: never, or not a 'decide' suite)",
    "retried": "data-parallel cells: the first attempt's error when the cell failed for a reason "
               "of timing (a rank that went away or joined too late on a busy machine) and ran "
               "once more, alone; empty: it ran once",
    "contended_windows": "timed windows in which the process got less than 80% of a CPU per thread",
    "cpu_share_median": "process CPU time / (wall time x threads), median over windows",
    "others_cpus_mean": "CPUs busy with other work while the cell's windows ran (machine-wide, "
                        "/proc/stat)",
    "global_steps_timed": "data-parallel cells: global steps (one batch per rank) in the timed "
                          "windows",
    "graphs_per_global_step": "data-parallel cells: real graphs of a global step (every rank's "
                              "batch), mean",
    "straggler_share_mean": "data-parallel cells: the ranks' wait for the slowest rank (each "
                            "rank's wait for the gradient all-reduce less the step's smallest "
                            "wait, the all-reduce's own time) over their step time (build + "
                            "compute + wait), both summed over ranks; mean over timed global steps",
    "straggler_share_p90": "data-parallel cells: 90th percentile over timed global steps of that "
                           "share",
    "allreduce_share_mean": "data-parallel cells: the all-reduce's own time (the step's smallest "
                            "wait) x ranks over the ranks' step time, mean over timed global steps",
    "rank_compute_s": "data-parallel cells: seconds per step of each rank's compute (forward, "
                      "backward until its last gradient bucket is ready, optimiser step), mean per "
                      "rank (JSON list)",
    "rank_wait_s": "data-parallel cells: seconds per step each rank waited for the gradient "
                   "all-reduce, mean per rank (JSON list)",
    "rank_build_s": "data-parallel cells: seconds per step each rank built its batch, mean per "
                    "rank (JSON list)",
    "rank_real_nodes_per_step": "data-parallel cells: real nodes of each rank's batches, mean per "
                                "step (JSON list)",
    "rank_real_edges_per_step": "data-parallel cells: real edges of each rank's batches, mean per "
                                "step (JSON list)",
    "rank_peak_rss_mib": "data-parallel cells: each rank's resident peak of the throughput phase "
                         "(JSON list)",
    "node_imbalance": "data-parallel cells: largest rank's real nodes over the ranks' mean, mean "
                      "over global steps",
    "edge_imbalance": "data-parallel cells: the same for real edges",
    "class_balance": "classification: the training split's positive share (binary; multilabel: the "
                     "mean over label columns) or each class's share (multiclass, JSON list)",
    "positive_class": "binary: the class counted as positive (class index 1)",
    "metric_source": "what computed the validation score: the OGB evaluator of the set, or "
                     "bench_lib",
    "steps_to_target": "training steps until the validation score first reached the target (empty: "
                       "not reached)",
    "time_to_target_s": "steps_to_target x step_s: training time to the target at the cell's "
                        "measured step time",
    "time_to_target_with_compile_s": "time_to_target_s plus compile_s: what a run from a cold "
                                     "start pays",
    "time_to_target_wall_s": "wall-clock training time to the target as it ran (validation "
                             "excluded)",
    "reached_target": "whether the target was reached within max_steps",
    "train_stop": "why training stopped: target, max_steps or time_limit",
    "best_val_score": "best validation score seen, in the metric's direction (the metric column "
                      "names it)",
    "final_val_score": "validation score when training stopped",
    "best_val_mae": "lowest validation MAE seen (metric mae)",
    "final_val_mae": "validation MAE when training stopped (metric mae)",
    "train_steps": "training steps run",
    "train_wall_s": "wall-clock training time (validation excluded)",
    "curve": "validation curve: JSON [[step, train wall s, validation score], ...]",
    "counted_error": "why the cell's costs could not be counted (the cell's measurements stand); "
                     "empty when counted",
    "counted_steps": "training steps counted for flops_per_step and the columns after it (the "
                     "first batches of the first epoch, plain-torch operators, no clock; "
                     "bench_lib/costs/count.py)",
    "flops_per_step": "floating-point operations per training step (forward, backward, Adam), mean "
                      "over counted steps",
    "flops_per_graph": "flops_per_step per real graph",
    "bytes_per_step": "bytes read and written by the step's operators, unfused (an upper bound on "
                      "memory traffic)",
    "bytes_per_graph": "bytes_per_step per real graph",
    "ops_per_step": "operators launched per step (a kernel each on a GPU; views and allocations "
                    "not counted)",
    "ops_forward": "operators launched by the forward pass and the loss",
    "ops_backward": "operators launched by the backward pass",
    "ops_optimizer": "operators launched by the optimiser step",
    "ops_optimizer_foreach": "operators of the same Adam step as a GPU runs it by default "
                             "(foreach: one per list of tensors); a CPU's Adam loops over the "
                             "parameters (ops_optimizer)",
    "syncs_per_step": "operators per forward and backward that read a value back to the host "
                      "(.item(), nonzero); the optimiser's read its step counters, kept on the "
                      "host",
    "peak_tensor_mib": "largest total of live tensors the step creates over forward and backward "
                       "(MiB), largest over counted steps; parameters, optimiser state and batch "
                       "apart",
    "padding_flops_share": "share of flops_per_step spent on padding slots (1 - the same graphs "
                           "unpadded / as batched)",
    "padding_bytes_share": "share of bytes_per_step spent on padding slots",
    "padding_peak_share": "share of peak_tensor_mib spent on padding slots",
    "resident_mib": "what lives across steps (MiB): parameters, Adam's two moments, the largest "
                    "counted batch",
    "costs_by_kind": "JSON {kind: [operators, FLOPs, bytes, denormal FLOPs, denormal bytes, bytes "
                     "squared]} per step by kind of operator (bench_lib.costs.count.TALLY; matmul, "
                     "gather, scatter, reduction, copy, special, elementwise; "
                     "bench_lib.costs.count.KINDS): what a projection prices, each kind at its own "
                     "rate (bench_lib.costs.project)",
    "costs_by_kind_unpadded": "costs_by_kind of the same graphs batched without padding slots",
}
METRIC_FIELDS = list(METRICS)

#: Every record column, in order.
RECORD_FIELDS = (["schema_version", "cell_id", "status", "error", "wall_s"]
                 + [f.name for f in dataclasses.fields(CellSpec)] + METRIC_FIELDS + ["environment"])
