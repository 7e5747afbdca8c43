"""Suite configuration: a TOML file, validated once, then frozen dataclasses.

Layout of a suite file (see ``benchmarks/default.toml``)::

    [suite]                 name, strategies, fairness, seeds, repeats, threads,
                            clock, malloc, interleave, device, backend, timeout_s, mode
    [train]                 lr, warmup_steps, window_s, windows, eval_every,
                            max_steps, train_time_limit_s (see TrainSettings)
    [models.<name>]         model hyper-parameters (dataclass fields of the model's config)
    [strategies.<name>]     fixed parameters of a strategy (its cells run in the manual view)
    [datasets.<name>]       n_graphs, options, models, node_slots, edge_slots,
                            graphs_per_step, pack_nodes, target, target_mae

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

from bench_lib.harness.cell import VIEWS, CellSpec, TrainSettings

__all__ = ["ConfigError", "DatasetSettings", "TrainSettings", "SuiteConfig", "load_config", "parse_config",
           "apply_overrides"]


#: Datasets read from a downloaded copy under a data root (``data_dir``).
DATA_DIR_DATASETS = ("ogbg-molhiv", "ogbg-molpcba", "pcqm4mv2", "zinc", "peptides-func")


class ConfigError(ValueError):
    """A suite configuration that cannot run."""


@dataclass(frozen=True)
class DatasetSettings:
    """One dataset's part of the suite.

    ``node_slots`` and ``edge_slots`` (slots per step, padding included) are
    the equal-padded-budget view's budget (``edge_slots`` None: derived from
    the data, see :mod:`bench_lib.harness.fairness`), ``graphs_per_step``
    the equal-real-graphs view's; ``pack_nodes`` is the packers' pack
    capacity; ``target_mae`` the validation MAE that counts as reached (None:
    no time-to-accuracy run).
    """

    name: str
    n_graphs: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    node_slots: int = 512
    edge_slots: int | None = None
    graphs_per_step: int = 32
    pack_nodes: int | None = None
    target: str | None = None
    target_mae: float | None = None


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


def _take(section: str, table: dict, cls, skip: tuple[str, ...] = ()) -> dict:
    """Check ``table``'s keys against ``cls``'s fields and the values' types."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table (got {type(table).__name__})")
    valid = {k: f for k, f in _fields(cls).items() if k not in skip}
    out = {}
    for key, value in table.items():
        if key not in valid:
            raise ConfigError(f"[{section}] has no key {key!r}; valid keys: {', '.join(sorted(valid))}")
        kind = str(valid[key].type)
        if kind in ("int", "float", "int | None", "float | None") and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[{section}] {key} must be a number (got {value!r})")
            if kind.startswith("int") and not isinstance(value, int):
                raise ConfigError(f"[{section}] {key} must be a whole number (got {value!r})")
            if value < 0 or (value == 0 and key not in ("warmup_steps", "window_s")):
                raise ConfigError(f"[{section}] {key} must be > 0 (got {value!r})")
        if kind == "bool" and not isinstance(value, bool):
            raise ConfigError(f"[{section}] {key} must be true or false (got {value!r})")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def parse_config(data: dict[str, Any], default_name: str = "suite") -> SuiteConfig:
    """Validate a parsed TOML document and build the :class:`SuiteConfig`."""
    from bench_lib.data import check_dataset_name
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    known_sections = {"suite", "train", "models", "datasets", "strategies"}
    for key in data:
        if key not in known_sections:
            raise ConfigError(f"unknown section [{key}]; valid sections: {', '.join(sorted(known_sections))}")
    suite = _take("suite", dict(data.get("suite", {})), SuiteConfig,
                  skip=("datasets", "train", "model_params", "strategy_params"))
    suite.setdefault("name", default_name)
    strategies = suite.get("strategies", "all")
    suite["strategies"] = tuple(STRATEGIES.names()) if strategies in ("all", ("all",)) else tuple(strategies)
    for s in suite["strategies"]:
        _choices("[suite] strategies", s, STRATEGIES.names())
    for view in suite.get("fairness", ("equal-padded-budget",)):
        _choices("[suite] fairness", view, VIEWS[:2])
    if suite.get("mode", "train") not in ("train", "loader"):
        raise ConfigError(f"[suite] mode must be 'train' or 'loader' (got {suite['mode']!r})")
    if suite.get("clock", "auto") not in ("auto", "wall"):
        raise ConfigError(f"[suite] clock must be 'auto' or 'wall' (got {suite['clock']!r})")
    if suite.get("malloc", "keep") not in ("keep", "default"):
        raise ConfigError(f"[suite] malloc must be 'keep' or 'default' (got {suite['malloc']!r})")
    if suite.get("backend", "dgl") not in ("dgl", "torch"):
        raise ConfigError(f"[suite] backend must be 'dgl' or 'torch' (got {suite['backend']!r})")
    if suite.get("device", "cpu") not in ("cpu", "cuda"):
        raise ConfigError(f"[suite] device must be 'cpu' or 'cuda' (got {suite['device']!r})")
    train = TrainSettings(**_take("train", data.get("train", {}), TrainSettings))
    timeout = suite.get("timeout_s", SuiteConfig.timeout_s)
    if train.train_time_limit_s >= timeout:
        raise ConfigError(f"[train] train_time_limit_s ({train.train_time_limit_s:g}) must be below [suite] timeout_s "
                          f"({timeout:g}), which covers the whole cell (setup, timing and training)")
    model_params = {}
    for name, params in data.get("models", {}).items():
        _choices("[models]", name, MODELS)
        model_params[name] = _take(f"models.{name}", params, MODELS[name])
    strategy_params = {}
    for name, params in data.get("strategies", {}).items():
        _choices("[strategies]", name, STRATEGIES.names())
        if not isinstance(params, dict):
            raise ConfigError(f"[strategies.{name}] must be a table")
        strategy_params[name] = dict(params)
    datasets = []
    for name, table in data.get("datasets", {}).items():
        try:
            check_dataset_name(name)
        except ValueError as err:
            raise ConfigError(f"[datasets]: {err}") from None
        d = _take(f"datasets.{name}", table, DatasetSettings, skip=("name",))
        for m in d.get("models", ()):
            _choices(f"[datasets.{name}] models", m, MODELS)
        datasets.append(DatasetSettings(name=name, **d))
    if not datasets:
        raise ConfigError("the suite has no [datasets.<name>] section")
    return SuiteConfig(datasets=tuple(datasets), train=train, model_params=model_params,
                       strategy_params=strategy_params, **suite)


def load_config(path: Path | str) -> SuiteConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse_config(data, default_name=path.stem)


def apply_overrides(cfg: SuiteConfig, *, datasets: list[str] | None = None, strategies: list[str] | None = None,
                    models: list[str] | None = None, repeats: int | None = None,
                    device: str | None = None, data_dir: str | None = None) -> SuiteConfig:
    """Command-line flags that override single fields (names validated)."""
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    changes: dict[str, Any] = {}
    if datasets is not None:
        have = {d.name: d for d in cfg.datasets}
        for d in datasets:
            _choices("--datasets", d, have)
        changes["datasets"] = tuple(have[d] for d in datasets)
    if strategies is not None:
        for s in strategies:
            _choices("--strategies", s, STRATEGIES.names())
        changes["strategies"] = tuple(strategies)
    if models is not None:
        for m in models:
            _choices("--models", m, MODELS)
        ds = changes.get("datasets", cfg.datasets)
        changes["datasets"] = tuple(dataclasses.replace(d, models=tuple(m for m in d.models if m in models))
                                    for d in ds)
    if data_dir is not None:
        ds = changes.get("datasets", cfg.datasets)
        changes["datasets"] = tuple(dataclasses.replace(d, options={**d.options, "data_dir": data_dir})
                                    if d.name in DATA_DIR_DATASETS else d for d in ds)
    if repeats is not None:
        if repeats < 1:
            raise ConfigError(f"--repeats must be >= 1 (got {repeats})")
        changes["repeats"] = repeats
    if device is not None:
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"--device must be 'cpu' or 'cuda' (got {device!r})")
        changes["device"] = device
        if device == "cuda":
            changes["backend"] = "torch"  # PyPI's DGL is CPU-only
    return dataclasses.replace(cfg, **changes)
