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
                            in the view its own batch size means; ranks: data-parallel processes per cell,
                            a list to sweep, e.g. [1, 2]; ranks > 1 runs eager cells only)
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
before any cell runs.
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

from bench_lib.data import DATA_DIR_DATASETS
from bench_lib.harness.cell import EXECUTIONS, PREFETCH_MODES, VIEWS, CellSpec, TrainSettings
from bench_lib.harness.launch import SlurmSettings
from bench_lib.verdicts import MIN_TIMED_S
from bench_lib.tasks import LOSSES, MAX_CLASSES

__all__ = ["ConfigError", "DatasetSettings", "TrainSettings", "SuiteConfig", "load_config", "parse_config",
           "apply_overrides"]


class ConfigError(ValueError):
    """A suite configuration that cannot run: one message per problem (``problems``)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class _Problems(list):
    """Collects every problem of a configuration before raising them together."""

    def check(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as err:
            self.extend(err.problems)
            return None

    def raise_any(self, prefix: str = "") -> None:
        if self:
            raise ConfigError([prefix + p for p in self])


@dataclass(frozen=True)
class DatasetSettings:
    """One dataset's part of the suite.

    ``node_slots`` and ``edge_slots`` (slots per step, padding included) are
    the equal-padded-budget view's budget (``edge_slots`` None: derived from
    the data, see :mod:`bench_lib.harness.fairness`), ``graphs_per_step``
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


@dataclass(frozen=True)
class SuiteConfig:
    name: str
    datasets: tuple[DatasetSettings, ...]
    strategies: tuple[str, ...]
    fairness: tuple[str, ...] = ("equal-padded-budget",)
    seeds: tuple[int, ...] = (0,)
    repeats: int = CellSpec.repeats
    device: str = CellSpec.device
    backend: str = CellSpec.backend
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


def _choices(kind: str, value: str, known) -> None:
    if value not in known:
        raise ConfigError(f"{kind}: unknown name {value!r}; valid: {', '.join(sorted(known))}")


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _take(section: str, table: dict, cls, skip: tuple[str, ...] = (), problems: list | None = None) -> dict:
    """Check ``table``'s keys against ``cls``'s fields and the values' types.

    The good keys are returned; the problems are appended to ``problems``
    when given, else raised together as one ``ConfigError``."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table (got {type(table).__name__})")
    valid = {k: f for k, f in _fields(cls).items() if k not in skip}
    out, found = {}, _Problems()
    problems = found if problems is None else problems
    for key, value in table.items():
        if key not in valid:
            problems.append(f"[{section}] has no key {key!r}; valid keys: {', '.join(sorted(valid))}")
            continue
        kind = str(valid[key].type)
        if kind in ("int", "float", "int | None", "float | None") and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"[{section}] {key} must be a number (got {value!r})")
                continue
            if kind.startswith("int") and not isinstance(value, int):
                problems.append(f"[{section}] {key} must be a whole number (got {value!r})")
                continue
            if value < 0 or (value == 0 and key not in ("warmup_steps", "window_s", "prefetch", "gpus_per_job",
                                                        "min_timed_s")):
                problems.append(f"[{section}] {key} must be > 0 (got {value!r})")
                continue
        if kind.startswith("str") and value is not None and not isinstance(value, str):
            problems.append(f"[{section}] {key} must be a string (got {value!r})")
            continue
        if kind == "bool" and not isinstance(value, bool):
            problems.append(f"[{section}] {key} must be true or false (got {value!r})")
            continue
        if kind.startswith("tuple") and not isinstance(value, (list, tuple)):
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list):
                problems.append(f"[{section}] {key} must be a list (got {value!r})")
                continue
        if kind.startswith("dict") and not isinstance(value, dict):
            problems.append(f"[{section}] {key} must be a table (got {value!r})")
            continue
        out[key] = tuple(value) if isinstance(value, list) else value
    found.raise_any()
    return out


def _check_executions(where: str, executions, problems: list) -> None:
    """An execution list (suite file or ``--execution``): not empty, each one known."""
    if not executions:
        problems.append(f"{where} is empty; name at least one of " + ", ".join(EXECUTIONS))
    for ex in executions:
        problems.check(_choices, where, ex, EXECUTIONS)


def _check_ranks(where: str, ranks, problems: list) -> None:
    """A ranks list (suite file or ``--ranks``): not empty, each a whole number >= 1."""
    if not ranks:
        problems.append(f"{where} is empty; name at least one number of ranks (1: one process)")
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            problems.append(f"{where}: each must be a whole number >= 1 (got {r!r})")


def check_goal(where: str, task: str | None, metric: str | None, value, target_mae, cli: bool = False) -> list[str]:
    """What is wrong with a dataset's declared task and target (before its data is read); ``cli``: say it
    in the command line's flags."""
    import math

    from bench_lib.tasks import METRICS, TASKS

    problems = []
    names = (("--task", "--target-metric", "--target-mae", "--target-value") if cli else
             (f"{where} task", f"{where} target metric", f"{where} target_mae", f"{where} target value"))
    if task is not None and task not in TASKS:
        problems.append(f"{names[0]}: unknown task {task!r}; valid: {', '.join(TASKS)}")
    if metric is not None and metric not in METRICS:
        problems.append(f"{names[1]}: unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    for name, v in ((names[2], target_mae), (names[3], value)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            problems.append(f"{name} must be a finite number (got {v!r}): a target every strategy reaches at "
                            "step 0 measures nothing")
    if target_mae is not None and value is not None:
        problems.append(f"{names[2]} and {names[3]}: give one of them, not both")
    if target_mae is not None and metric not in (None, "mae"):
        problems.append(f"{names[2]} is a MAE target, but the metric is {metric}; give the value in {metric}'s "
                        f"terms (target = {{metric = \"{metric}\", value = X}}, or --target-value X)")
    return problems


def _target_table(name: str, table: dict, problems: list) -> dict:
    """``target = {column, metric, value}`` -> the settings' ``target``, ``metric`` and ``target_value``."""
    target = table.get("target")
    if not isinstance(target, dict):
        return table
    table = {k: v for k, v in table.items() if k != "target"}
    unknown = set(target) - {"column", "metric", "value"}
    if unknown:
        problems.append(f"[datasets.{name}] target has no key(s) {sorted(unknown)}; valid: column, metric, value")
    if "column" in target:
        table["target"] = target["column"]
    if "metric" in target:
        table["metric"] = target["metric"]
    if "value" in target:
        table["target_value"] = target["value"]
    return table


def _one_of(where: str, value, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{where} must be {' or '.join(repr(v) for v in valid)} (got {value!r})")


def parse_config(data: dict[str, Any], default_name: str = "suite") -> SuiteConfig:
    """Validate a parsed TOML document and build the :class:`SuiteConfig`
    (every problem found, as one ``ConfigError`` with one message each)."""
    from bench_lib.data import FILE_KINDS, check_dataset_name
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    problems = _Problems()
    known_sections = {"suite", "train", "models", "datasets", "strategies", "slurm"}
    for key in data:
        if key not in known_sections:
            problems.append(f"unknown section [{key}]; valid sections: {', '.join(sorted(known_sections))}")
    suite = problems.check(_take, "suite", dict(data.get("suite", {})), SuiteConfig,
                           skip=("datasets", "train", "model_params", "strategy_params", "slurm"),
                           problems=problems) or {}
    if not 0 < suite.get("margin", 0.05) < 1:
        problems.append(f"[suite] margin must be between 0 and 1, e.g. 0.05 for ±5% (got {suite['margin']!r})")
    if suite.get("decide_looks", 4) < 2:
        problems.append(f"[suite] decide_looks must be at least 2 (got {suite['decide_looks']!r}): the first look "
                        "is the fixed turns alone")
    if "ranks" in suite:
        _check_ranks("[suite] ranks", suite["ranks"], problems)
        suite["ranks"] = tuple(dict.fromkeys(suite["ranks"]))
    slurm = problems.check(_take, "slurm", data.get("slurm", {}), SlurmSettings, problems=problems) or {}
    suite["slurm"] = SlurmSettings(**slurm)
    suite.setdefault("name", default_name)
    strategies = suite.get("strategies", "all")
    everything = strategies in ("all", ("all",))  # bench_lib's own; the baselines are named to run
    suite["strategies"] = tuple(STRATEGIES.names(baselines=False)) if everything else tuple(strategies)
    for s in suite["strategies"]:
        problems.check(_choices, "[suite] strategies", s, STRATEGIES.names())
    if "execution" in suite:
        _check_executions("[suite] execution", suite["execution"], problems)
    for ex, names in suite.get("execution_only", {}).items():
        problems.check(_choices, "[suite] execution_only", ex, EXECUTIONS)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append(f"[suite] execution_only.{ex} must be a list of strategy names (got {names!r})")
            continue
        for n in names:
            problems.check(_choices, f"[suite] execution_only.{ex}", n, STRATEGIES.names())
    for view in suite.get("fairness", ("equal-padded-budget",)):
        problems.check(_choices, "[suite] fairness", view, VIEWS[:2])
    for name, views in suite.get("strategy_fairness", {}).items():
        if name not in suite["strategies"]:
            problems.append(f"[suite] strategy_fairness.{name}: {name!r} is not one of [suite] strategies "
                            f"({', '.join(suite['strategies'])})")
        if not isinstance(views, list) or not views or not all(isinstance(v, str) for v in views):
            problems.append(f"[suite] strategy_fairness.{name} must be a non-empty list of views (got {views!r})")
            continue
        for v in views:
            problems.check(_choices, f"[suite] strategy_fairness.{name}", v,
                           suite.get("fairness", ("equal-padded-budget",)))
    for key, valid in (("mode", ("train", "loader")), ("clock", ("auto", "wall")), ("malloc", ("keep", "default")),
                       ("backend", ("dgl", "torch")), ("device", ("cpu", "cuda")), ("prefetch_with", PREFETCH_MODES)):
        if key in suite:
            problems.check(_one_of, f"[suite] {key}", suite[key], valid)
    train_table = problems.check(_take, "train", data.get("train", {}), TrainSettings, problems=problems)
    train = TrainSettings(**(train_table or {}))
    timeout = suite.get("timeout_s", SuiteConfig.timeout_s)
    if train.train_time_limit_s >= timeout:
        problems.append(f"[train] train_time_limit_s ({train.train_time_limit_s:g}) must be below [suite] timeout_s "
                        f"({timeout:g}), which covers the whole cell (setup, timing and training)")
    model_params = {}
    for name, params in data.get("models", {}).items():
        if problems.check(_choices, "[models]", name, MODELS.names()) is None and name in MODELS:
            model_params[name] = problems.check(_take, f"models.{name}", params, MODELS.config(name),
                                               problems=problems) or {}
    strategy_params = {}
    for name, params in data.get("strategies", {}).items():
        problems.check(_choices, "[strategies]", name, STRATEGIES.names())
        if not isinstance(params, dict):
            problems.append(f"[strategies.{name}] must be a table")
        else:
            strategy_params[name] = dict(params)
    datasets = []
    for name, table in data.get("datasets", {}).items():
        try:
            check_dataset_name(name)
        except ValueError as err:
            problems.append(f"[datasets]: {err}")
            continue
        if isinstance(table, dict):
            table = _target_table(name, table, problems)
        d = problems.check(_take, f"datasets.{name}", table, DatasetSettings, skip=("name",),
                           problems=problems)
        if d is None:
            continue
        problems += check_goal(f"[datasets.{name}]", d.get("task"), d.get("metric"), d.get("target_value"),
                               d.get("target_mae"))
        seed = d.get("data_seed", 0)
        if seed != "seed" and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            problems.append(f"[datasets.{name}] data_seed must be a whole number >= 0 (the same graphs in every "
                            f"seed) or \"seed\" (each seed its own graphs); got {seed!r}")
        if d.get("loss", "mse") not in LOSSES:
            problems.append(f"[datasets.{name}] loss must be {' or '.join(map(repr, LOSSES))} (got {d['loss']!r})")
        for m in d.get("models", ()):
            problems.check(_choices, f"[datasets.{name}] models", m, MODELS.names())
        if "models" in d and not d["models"]:
            problems.append(f"[datasets.{name}] models is empty; leave it out to choose by what the data has")
        kind = name.split(":", 1)[0]
        if kind in FILE_KINDS and d.get("target") and "target_columns" not in d.get("options", {}):
            d["options"] = {**d.get("options", {}), "target_columns": [d["target"]]}
        datasets.append(DatasetSettings(name=name, **d))
    if not datasets and "datasets" not in data:
        problems.append("the suite has no [datasets.<name>] section")
    problems.raise_any()
    return SuiteConfig(datasets=tuple(datasets), train=train, model_params=model_params,
                       strategy_params=strategy_params, **suite)


def load_config(path: Path | str) -> SuiteConfig:
    """Read and validate a suite file; every problem is prefixed with the file's name."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except (UnicodeDecodeError, IsADirectoryError) as err:
        raise ConfigError(f"{path}: not a TOML text file ({err})") from None
    try:
        return parse_config(data, default_name=path.stem)
    except ConfigError as err:
        raise ConfigError([f"{path}: {p}" for p in err.problems]) from None


def apply_overrides(cfg: SuiteConfig, *, datasets: list[str] | None = None, strategies: list[str] | None = None,
                    models: list[str] | None = None, repeats: int | None = None,
                    device: str | None = None, data_dir: str | None = None, target: list[str] | None = None,
                    target_mae: float | None = None, task: str | None = None,
                    target_metric: str | None = None, target_value: float | None = None,
                    smiles_column: str | None = None,
                    id_column: str | None = None, options: dict[str, Any] | None = None,
                    execution: list[str] | None = None, prefetch: int | None = None,
                    ranks: list[int] | None = None, slurm: dict[str, Any] | None = None) -> SuiteConfig:
    """Command-line flags that override single fields (names validated; every problem reported).

    ``datasets`` may name datasets the config does not have (any known name,
    or ``csv:``/``sdf:``/``xyz:PATH``): they join with default settings.
    ``target``, ``target_mae``, ``task``, ``target_metric``, ``target_value``,
    ``smiles_column``, ``id_column`` and ``options`` apply to the datasets
    named in ``datasets`` (all of them)."""
    from bench_lib.data import FILE_KINDS, check_dataset_name
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    problems = _Problems()
    changes: dict[str, Any] = {}
    per_dataset = {"target": target, "target_mae": target_mae, "task": task, "target_metric": target_metric,
                   "target_value": target_value, "smiles_column": smiles_column,
                   "id_column": id_column, "option": options}
    if datasets is None and any(v is not None and v != {} for v in per_dataset.values()):
        given = ", ".join(f"--{k.replace('_', '-')}" for k, v in per_dataset.items() if v is not None and v != {})
        problems.append(f"{given}: given without --datasets; these flags apply to the datasets named there")
    for flag, given in (("--datasets", datasets), ("--strategies", strategies), ("--models", models)):
        if given is not None and not given:
            problems.append(f"{flag} is empty; name at least one, or leave it out for the config's")
    if datasets is not None:
        have = {d.name: d for d in cfg.datasets}
        chosen = []
        for name in datasets:
            if name in have:
                chosen.append(have[name])
                continue
            try:
                check_dataset_name(name)
            except ValueError as err:
                problems.append(f"--datasets: {err}; the config has {', '.join(have) or 'none'}")
                continue
            chosen.append(DatasetSettings(name=name))
        for k, d in enumerate(chosen):
            kind = d.name.split(":", 1)[0] if ":" in d.name else None
            opts = dict(d.options)
            if options:
                opts.update(options)
            for flag, key, value in (("--smiles-column", "smiles_column", smiles_column),
                                     ("--id-column", "id_column", id_column)):
                if value is not None:
                    if kind != "csv":
                        problems.append(f"{flag} applies to csv:PATH datasets only (not {d.name!r})")
                    opts[key] = value
            fields: dict[str, Any] = {"options": opts}
            if target:
                fields["target"] = target[0]
                if kind in FILE_KINDS:
                    if kind == "xyz":
                        if list(target) != ["energy"]:
                            problems.append(f"--target: an XYZ file's only target is 'energy', the comment line's "
                                            f"last number (dataset {d.name!r}; got {', '.join(target)})")
                    else:
                        opts["target_columns"] = list(target)
            if target_mae is not None:
                if not target_mae > 0:  # (inf: check_goal)
                    problems.append(f"--target-mae must be > 0 (got {target_mae!r})")
                fields.update(target_mae=target_mae, target_value=None, metric=None)
            if task is not None:
                fields["task"] = task
            if target_metric is not None:
                fields["metric"] = target_metric
                if target_mae is None and target_metric != "mae":
                    fields["target_mae"] = None  # the config's MAE target does not carry over to another metric
            if target_value is not None:
                if (target_metric or d.metric) == "mae":
                    fields.update(target_mae=target_value, target_value=None)
                else:
                    fields.update(target_value=target_value, target_mae=None)
            chosen[k] = dataclasses.replace(d, **fields)
            if any(v is not None for v in (target_mae, task, target_metric, target_value)):
                found = check_goal("", chosen[k].task, chosen[k].metric, chosen[k].target_value,
                                   chosen[k].target_mae, cli=True)
                problems += [p for p in found if p not in problems]
        changes["datasets"] = tuple(chosen)
    if strategies is not None:
        for s in strategies:
            problems.check(_choices, "--strategies", s, STRATEGIES.names())
        changes["strategies"] = tuple(strategies)
    if models is not None:
        for m in models:
            problems.check(_choices, "--models", m, MODELS.names())
        ds = changes.get("datasets", cfg.datasets)  # they replace each dataset's list
        changes["datasets"] = tuple(dataclasses.replace(d, models=tuple(models)) for d in ds)
    if data_dir is not None:
        ds = changes.get("datasets", cfg.datasets)
        changes["datasets"] = tuple(dataclasses.replace(d, options={**d.options, "data_dir": data_dir})
                                    if d.name in DATA_DIR_DATASETS else d for d in ds)
    if execution is not None:
        _check_executions("--execution", execution, problems)
        changes["execution"] = tuple(execution)
    if ranks is not None:
        _check_ranks("--ranks", ranks, problems)
        changes["ranks"] = tuple(dict.fromkeys(ranks))
    slurm = {k: v for k, v in (slurm or {}).items() if v is not None}
    if slurm:
        for k, v in slurm.items():
            if isinstance(v, int) and v < (0 if k == "gpus_per_job" else 1):
                problems.append(f"--{k.replace('_', '-')} must be >= {0 if k == 'gpus_per_job' else 1} (got {v})")
        changes["slurm"] = dataclasses.replace(cfg.slurm, **slurm)
    if prefetch is not None:
        if prefetch < 0:
            problems.append(f"--prefetch must be >= 0 (got {prefetch})")
        changes["prefetch"] = prefetch
    if repeats is not None:
        if repeats < 1:
            problems.append(f"--repeats must be >= 1 (got {repeats})")
        changes["repeats"] = repeats
    if device is not None:
        if device not in ("cpu", "cuda"):
            problems.append(f"--device must be 'cpu' or 'cuda' (got {device!r})")
        changes["device"] = device
        if device == "cuda":
            changes["backend"] = "torch"  # PyPI's DGL is CPU-only
    problems.raise_any()
    return dataclasses.replace(cfg, **changes)
