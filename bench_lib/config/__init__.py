"""Suite configuration: a TOML file, validated once, then frozen dataclasses.

Layout of a suite file (see ``benchmarks/default.toml``)::

    [suite]                 name, strategies, fairness, seeds, repeats, threads,
                            clock, malloc, interleave, device, backend, timeout_s, mode,
                            execution, execution_only, strategy_fairness, compile_options,
                            prefetch, prefetch_with,
                            ranks, timed_seeds, train_parallel, margin, decide,
                            decide_looks, decide_budget_s, min_timed_s
                            (timed_seeds = N: only the first N seeds are timed, the
                            others train to the target only, their time to target at
                            the step time the timed seeds measured; train_parallel:
                            cells that train to their target side by side, after
                            the group's timed turns, which stay alone;
                            margin: the verdicts' equivalence margin m, 0.05 = ±5%;
                            min_timed_s: windows are raised until each cell is timed
                            for at least this long, 4 s by default, 0 to keep them;
                            decide = true: after the fixed turns, add as many turns again
                            while a verdict is undecided, up to decide_looks looks in all
                            or decide_budget_s seconds of added turns per group)
                            (execution_only: {execution = [strategies]} runs that execution
                            for those strategies only; strategy_fairness: {strategy = [views]}
                            runs that strategy in those views only, e.g. a library's loader
                            in the view its own batch size means; ranks: data-parallel processes per
                            cell, a list to sweep, e.g. [1, 2]; ranks > 1 runs eager cells only)
    [train]                 lr, warmup_steps, window_s, windows, eval_every,
                            max_steps, train_time_limit_s (see TrainSettings)
    [models.<name>]         model hyper-parameters (dataclass fields of the model's config)
    [strategies.<name>]     fixed parameters of a strategy (its cells run in the manual view)
    [datasets.<name>]       n_graphs, options, models, node_slots, edge_slots,
                            graphs_per_step, pack_nodes, target, target_mae, task,
                            max_classes, loss
                            (target: a column name, or a table
                            {column, metric, value}: the validation score to reach,
                            e.g. {metric = "rocauc", value = 0.75}; target_mae = X is
                            the regression shorthand for {metric = "mae", value = X})
    [slurm]                 partition, time_min, gpus_per_job, cpus_per_job, mem_gb,
                            array_parallelism, account, qos, additional, folder
                            (for --launcher slurm; see bench_lib.harness.launch)

Every unknown section or key, every unknown name and every bad value is a
``ConfigError`` naming the field, the value and the valid choices, raised
before any cell runs. :func:`parse_config` reads the sections in turn (one
function each); the command line's flags are laid on the file's tables before
it (:class:`~bench_lib.config.overrides.Overrides`), so each setting is checked
once, and a problem with a flag's setting is said in the flag's words.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench_lib.config.checks import (ConfigError, Problems, check_choice, check_executions,
                                     check_out, check_ranks, check_seeds, check_whole, flat_target,
                                     one_of, take)
from bench_lib.data import FILE_KINDS, check_dataset_name
from bench_lib.deps import BACKEND_CHOICES
from bench_lib.schema import EXECUTIONS, PREFETCH_MODES, VIEWS, CellSpec, TrainSettings
from bench_lib.strategies import STRATEGIES
from bench_lib.verdicts import MIN_TIMED_S
from bench_lib.tasks import LOSSES, MAX_CLASSES, check_goal
from bench_lib.config.overrides import Overrides, located

__all__ = ["ConfigError", "DatasetSettings", "TrainSettings", "SuiteConfig", "SlurmSettings",
           "load_config", "parse_config", "read_suite_file", "flat_target", "Overrides",
           "Problems", "check_choice", "check_executions",
           "check_ranks", "check_goal", "check_out", "check_whole", "check_seeds"]


@dataclass(frozen=True)
class DatasetSettings:
    """One dataset's part of the suite.

    ``node_slots`` and ``edge_slots`` (slots per step, padding included) are
    the equal-padded-budget view's budget (``edge_slots`` None: derived from
    the data, see :mod:`bench_lib.strategies.fairness`), ``graphs_per_step``
    the equal-real-graphs view's; ``pack_nodes`` is the packers' pack
    capacity; ``target`` the target column (None: the dataset's first);
    ``task`` the task when the user declares it (None: the dataset's own or
    inferred, see :mod:`bench_lib.tasks`); ``metric`` and ``target_value``
    the validation score that counts as reached (``target_mae`` the same for
    metric ``mae``; neither: no time-to-accuracy run); ``max_classes`` the
    most classes a multiclass column may have; ``loss`` a regression
    target's training loss (``mse`` or ``l1``; MAE is reported either way);
    ``data_seed`` the seed of the graphs (a subset, a generated stand-in) and
    their split, the same in every seed of the suite (``"seed"``: each seed's
    own, so that seeds vary the data as well as the training).
    """

    name: str
    n_graphs: int | None = None
    data_seed: Any = 0
    options: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    node_slots: int = 512
    edge_slots: int | None = None
    graphs_per_step: int = 32
    pack_nodes: int | None = None
    target: str | None = None
    target_mae: float | None = None
    task: str | None = None
    metric: str | None = None
    target_value: float | None = None
    max_classes: int = MAX_CLASSES
    loss: str = "mse"

    def seed_for(self, seed: int) -> int:
        """The seed of the graphs and their split in the suite's seed ``seed`` (a cell's
        ``dataset_seed``)."""
        return seed if self.data_seed == "seed" else self.data_seed


@dataclass(frozen=True)
class SlurmSettings:
    """The ``[slurm]`` table of a suite file (CLI flags override single fields).

    Attributes:
      partition: Slurm partition (None: the cluster's default).
      time_min: wall-clock limit of one array task (one group of cells), minutes.
      gpus_per_job: GPUs per task (at least the largest ``ranks`` of a CUDA suite).
      cpus_per_job: CPUs per task (None: the largest ``threads x ranks`` of the suite's cells).
      mem_gb: memory per task (None: the cluster's default).
      array_parallelism: tasks of the array running at once.
      account, qos: passed to Slurm when given.
      additional: more ``sbatch`` options, e.g. ``{constraint = "a100"}``.
      folder: submitit's folder for scripts and job logs (default ``<results>/jobs/slurm``).
    """

    partition: str | None = None
    time_min: int = 240
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    mem_gb: int | None = None
    array_parallelism: int = 32
    account: str | None = None
    qos: str | None = None
    additional: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None


@dataclass(frozen=True)
class SuiteConfig:
    name: str
    datasets: tuple[DatasetSettings, ...]
    strategies: tuple[str, ...]
    fairness: tuple[str, ...] = ("equal-padded-budget",)
    seeds: tuple[int, ...] = (0,)
    repeats: int = CellSpec.repeats
    device: str = CellSpec.device
    backend: str = "auto"  # dgl where DGL imports (CPU), else torch: bench_lib.deps.resolve_backend
    threads: int = CellSpec.threads
    clock: str = CellSpec.clock
    malloc: str = CellSpec.malloc
    interleave: bool = True
    timeout_s: float = CellSpec.timeout_s
    mode: str = "train"
    execution: tuple[str, ...] = ("eager",)
    execution_only: dict[str, Any] = field(default_factory=dict)
    strategy_fairness: dict[str, Any] = field(default_factory=dict)
    compile_options: dict[str, Any] = field(default_factory=dict)
    prefetch: int = CellSpec.prefetch
    prefetch_with: str = CellSpec.prefetch_with
    ranks: tuple[int, ...] = (1,)
    timed_seeds: int | None = None
    train_parallel: int = 1
    min_timed_s: float = MIN_TIMED_S
    margin: float = 0.05
    decide: bool = False
    decide_looks: int = 4
    decide_budget_s: float = 600.0
    slurm: SlurmSettings = SlurmSettings()
    train: TrainSettings = TrainSettings()
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    strategy_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def parse_config(data: dict[str, Any], default_name: str = "suite",
                 overrides: Overrides | None = None) -> SuiteConfig:
    """Validate a parsed TOML document, with the command line's ``overrides`` laid on it, and
    build the :class:`SuiteConfig` (every problem found, as one ``ConfigError`` with one message
    each; a flag's setting's problem in the flag's words)."""
    problems = Problems()
    where: dict[str, str] = {}
    if overrides is not None:
        data, where = overrides.apply(data, problems)
    known_sections = {"suite", "train", "models", "datasets", "strategies", "slurm"}
    for key in data:
        if key not in known_sections:
            problems.append(f"unknown section [{key}]; valid sections: "
                            f"{', '.join(sorted(known_sections))}")
    suite = _suite_section(data, default_name, problems)
    train = _train_section(data, suite, problems)
    model_params = _models_section(data, problems)
    strategy_params = _strategies_section(data, problems)
    datasets = _datasets_section(data, problems)
    if problems:
        raise ConfigError(located(problems, where))
    return SuiteConfig(datasets=tuple(datasets), train=train, model_params=model_params,
                       strategy_params=strategy_params, **suite)


def _suite_section(data: dict[str, Any], default_name: str, problems: Problems) -> dict[str, Any]:
    """``[suite]`` and ``[slurm]``: the :class:`SuiteConfig` fields they set, checked
    (``strategies`` resolved: ``"all"`` is bench_lib's own)."""
    suite = problems.check(take, "suite", dict(data.get("suite", {})), SuiteConfig,
                           skip=("datasets", "train", "model_params", "strategy_params", "slurm"),
                           problems=problems) or {}
    if not 0 < suite.get("margin", 0.05) < 1:
        problems.append(f"[suite] margin must be between 0 and 1, e.g. 0.05 for ±5% (got "
                        f"{suite['margin']!r})")
    if suite.get("decide_looks", 4) < 2:
        problems.append(
            f"[suite] decide_looks must be at least 2 (got {suite['decide_looks']!r}): the first "
            f"look is the fixed turns alone")
    if "seeds" in suite:
        check_seeds("[suite] seeds", suite["seeds"], problems)
    if "ranks" in suite:
        check_ranks("[suite] ranks", suite["ranks"], problems)
        suite["ranks"] = tuple(dict.fromkeys(suite["ranks"]))
    slurm = problems.check(take, "slurm", data.get("slurm", {}), SlurmSettings,
                           problems=problems) or {}
    suite["slurm"] = SlurmSettings(**slurm)
    suite.setdefault("name", default_name)
    strategies = suite.get("strategies", "all")
    everything = strategies in ("all", ("all",))  # bench_lib's own; the baselines are named to run
    suite["strategies"] = (tuple(STRATEGIES.names(baselines=False)) if everything
                           else tuple(strategies))
    for s in suite["strategies"]:
        problems.check(check_choice, "[suite] strategies", s, STRATEGIES.names())
    _check_arms(suite, problems)
    for key, valid in (("mode", ("train", "loader")), ("clock", ("auto", "wall")),
                       ("malloc", ("keep", "default")),
                       ("backend", BACKEND_CHOICES), ("device", ("cpu", "cuda")),
                       ("prefetch_with", PREFETCH_MODES)):
        if key in suite:
            problems.check(one_of, f"[suite] {key}", suite[key], valid)
    if suite.get("backend") == "dgl" and suite.get("device") == "cuda":
        problems.append("[suite] backend: dgl runs on the CPU only (PyPI's DGL); device cuda needs "
                        "backend torch")
    return suite


def _check_arms(suite: dict[str, Any], problems: Problems) -> None:
    """``[suite]``'s executions and views, and the strategies it runs in some of them only
    (``execution_only``, ``strategy_fairness``): known names, the suite's own strategies and
    views."""
    if "execution" in suite:
        check_executions("[suite] execution", suite["execution"], problems)
    for ex, names in suite.get("execution_only", {}).items():
        problems.check(check_choice, "[suite] execution_only", ex, EXECUTIONS)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append(f"[suite] execution_only.{ex} must be a list of strategy names (got "
                            f"{names!r})")
            continue
        for n in names:
            problems.check(check_choice, f"[suite] execution_only.{ex}", n, STRATEGIES.names())
    for view in suite.get("fairness", ("equal-padded-budget",)):
        problems.check(check_choice, "[suite] fairness", view, VIEWS[:2])
    for name, views in suite.get("strategy_fairness", {}).items():
        if name not in suite["strategies"]:
            problems.append(f"[suite] strategy_fairness.{name}: {name!r} is not one of [suite] "
                            f"strategies ({', '.join(suite['strategies'])})")
        if not isinstance(views, list) or not views or not all(isinstance(v, str) for v in views):
            problems.append(f"[suite] strategy_fairness.{name} must be a non-empty list of views "
                            f"(got {views!r})")
            continue
        for v in views:
            problems.check(check_choice, f"[suite] strategy_fairness.{name}", v,
                           suite.get("fairness", ("equal-padded-budget",)))


def _train_section(data: dict[str, Any], suite: dict[str, Any],
                   problems: Problems) -> TrainSettings:
    """``[train]``, its time limit below the suite's ``timeout_s``."""
    train_table = problems.check(take, "train", data.get("train", {}), TrainSettings,
                                 problems=problems)
    train = TrainSettings(**(train_table or {}))
    timeout = suite.get("timeout_s", SuiteConfig.timeout_s)
    if train.train_time_limit_s >= timeout:
        problems.append(f"[train] train_time_limit_s ({train.train_time_limit_s:g}) must be below "
                        f"[suite] timeout_s ({timeout:g}), which covers the whole cell (setup, "
                        f"timing and training)")
    return train


def _models_section(data: dict[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    """``[models.<name>]``: each known model's hyper-parameters, checked against its config's
    fields."""
    from bench_lib.models import MODELS

    model_params = {}
    for name, params in data.get("models", {}).items():
        if problems.check(check_choice, "[models]", name,
                          MODELS.names()) is None and name in MODELS:
            model_params[name] = problems.check(take, f"models.{name}", params,
                                                MODELS.config(name),
                                               problems=problems) or {}
    return model_params


def _strategies_section(data: dict[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    """``[strategies.<name>]``: the parameters the suite fixes for a strategy."""
    strategy_params = {}
    for name, params in data.get("strategies", {}).items():
        problems.check(check_choice, "[strategies]", name, STRATEGIES.names())
        if not isinstance(params, dict):
            problems.append(f"[strategies.{name}] must be a table")
        else:
            strategy_params[name] = dict(params)
    return strategy_params


def _datasets_section(data: dict[str, Any], problems: Problems) -> list[DatasetSettings]:
    """``[datasets.<name>]``: each dataset's settings (at least one dataset)."""
    datasets = []
    for name, table in data.get("datasets", {}).items():
        try:
            check_dataset_name(name)
        except ValueError as err:
            problems.append(f"[datasets]: {err}")
            continue
        d = _dataset(name, table, problems)
        if d is not None:
            datasets.append(d)
    if not datasets and "datasets" not in data:
        problems.append("the suite has no [datasets.<name>] section")
    return datasets


def _dataset(name: str, table, problems: Problems) -> DatasetSettings | None:
    """One ``[datasets.<name>]`` table's settings (None: the table cannot be read as settings)."""
    from bench_lib.models import MODELS

    if isinstance(table, dict):
        table = flat_target(name, table, problems)
    d = problems.check(take, f"datasets.{name}", table, DatasetSettings, skip=("name",),
                       problems=problems)
    if d is None:
        return None
    problems += check_goal(f"[datasets.{name}]", d.get("task"), d.get("metric"),
                           d.get("target_value"),
                           d.get("target_mae"))
    seed = d.get("data_seed", 0)
    if seed != "seed" and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        problems.append(f"[datasets.{name}] data_seed must be a whole number >= 0 (the same graphs "
                        f"in every seed) or \"seed\" (each seed its own graphs); got {seed!r}")
    if d.get("loss", "mse") not in LOSSES:
        problems.append(f"[datasets.{name}] loss must be {' or '.join(map(repr, LOSSES))} (got "
                        f"{d['loss']!r})")
    for m in d.get("models", ()):
        problems.check(check_choice, f"[datasets.{name}] models", m, MODELS.names())
    if "models" in d and not d["models"]:
        problems.append(f"[datasets.{name}] models is empty; leave it out to choose by what the "
                        f"data has")
    kind = name.split(":", 1)[0]
    if kind == "xyz" and d.get("target") not in (None, "energy"):
        problems.append(f"[datasets.{name}] target: an XYZ file's only target is 'energy', the "
                        f"comment line's last number (got {d['target']!r})")
    if kind in ("csv", "sdf") and d.get("target") and "target_columns" not in d.get("options", {}):
        d["options"] = {**d.get("options", {}), "target_columns": [d["target"]]}
    return DatasetSettings(name=name, **d)


def read_suite_file(path: Path | str) -> dict[str, Any]:
    """A suite file's parsed TOML document (a ``ConfigError`` for a file missing or not TOML)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except (UnicodeDecodeError, IsADirectoryError) as err:
        raise ConfigError(f"{path}: not a TOML text file ({err})") from None
    return data


def load_config(path: Path | str, overrides: Overrides | None = None) -> SuiteConfig:
    """Read and validate a suite file, with the command line's ``overrides``; every problem in
    the file is prefixed with its name (a flag's is said in the flag's words)."""
    path = Path(path)
    data = read_suite_file(path)
    try:
        return parse_config(data, default_name=path.stem, overrides=overrides)
    except ConfigError as err:
        raise ConfigError([p if p.startswith("--") else f"{path}: {p}"
                           for p in err.problems]) from None

