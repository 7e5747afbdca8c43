"""The command line's changes to a suite configuration (``python -m bench_lib.suite --datasets ...
--repeats ...``): :func:`apply_overrides`, by kind of flag.

- ``--datasets`` chooses the datasets (the config's, or new ones with default
  settings), and the flags that apply to each of them (:class:`_DatasetFlags`:
  ``--target``, ``--target-value``, ``--option``...) change their settings;
- ``--strategies`` and ``--models`` replace the config's lists, ``--data-dir``
  the downloaded datasets' root;
- ``--execution``, ``--ranks``, the Slurm flags, ``--prefetch``, ``--repeats``
  and ``--device`` change how the cells run.

Every name is validated and every problem reported, together, as one
``ConfigError``, as :mod:`bench_lib.config` does for the suite file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bench_lib.config import (DatasetSettings, Problems, SuiteConfig, check_choice,
                              check_executions, check_goal,
                              check_ranks, check_whole)
from bench_lib.data import DATA_DIR_DATASETS, FILE_KINDS, check_dataset_name
from bench_lib.deps import BACKEND_CHOICES
from bench_lib.strategies import STRATEGIES

__all__ = ["apply_overrides"]


@dataclass(frozen=True)
class _DatasetFlags:
    """The flags that apply to each dataset named in ``--datasets`` (None: not given), named as the
    command line spells them (``target_mae``: ``--target-mae``)."""

    target: list[str] | None = None
    target_mae: float | None = None
    task: str | None = None
    target_metric: str | None = None
    target_value: float | None = None
    smiles_column: str | None = None
    id_column: str | None = None
    option: dict[str, Any] | None = None

    def given(self) -> list[str]:
        """The flags given, as typed (an empty ``--option`` is not given)."""
        return [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None and getattr(self, f.name) != {}]

    def change_goal(self) -> bool:
        """Whether the flags change what a dataset's cells train to (task, metric, value)."""
        return any(v is not None for v in (self.target_mae, self.task, self.target_metric,
                                           self.target_value))


def apply_overrides(cfg: SuiteConfig, *, datasets: list[str] | None = None,
                    strategies: list[str] | None = None,
                    models: list[str] | None = None, repeats: int | None = None,
                    device: str | None = None, backend: str | None = None,
                    data_dir: str | None = None,
                    target: list[str] | None = None,
                    target_mae: float | None = None, task: str | None = None,
                    target_metric: str | None = None, target_value: float | None = None,
                    smiles_column: str | None = None,
                    id_column: str | None = None, options: dict[str, Any] | None = None,
                    execution: list[str] | None = None, prefetch: int | None = None,
                    ranks: list[int] | None = None, slurm: dict[str, Any] | None = None,
                    max_steps: int | None = None) -> SuiteConfig:
    """Command-line flags that override single fields (names validated; every problem reported).

    ``datasets`` may name datasets the config does not have (any known name,
    or ``csv:``/``sdf:``/``xyz:PATH``): they join with default settings.
    ``target``, ``target_mae``, ``task``, ``target_metric``, ``target_value``,
    ``smiles_column``, ``id_column`` and ``options`` apply to the datasets
    named in ``datasets`` (all of them)."""
    problems = Problems()
    flags = _DatasetFlags(target=target, target_mae=target_mae, task=task,
                          target_metric=target_metric,
                          target_value=target_value, smiles_column=smiles_column,
                          id_column=id_column,
                          option=options)
    _check_given(datasets, strategies, models, flags, problems)
    changes: dict[str, Any] = {}
    if datasets is not None:
        chosen = _named_datasets(cfg, datasets, problems)
        changes["datasets"] = tuple(_with_flags(d, flags, problems) for d in chosen)
    if strategies is not None:
        for s in strategies:
            problems.check(check_choice, "--strategies", s, STRATEGIES.names())
        changes["strategies"] = tuple(strategies)
    if models is not None or data_dir is not None:
        changes["datasets"] = _every_dataset(changes.get("datasets", cfg.datasets), models,
                                             data_dir, problems)
    changes.update(_run_changes(cfg, execution=execution, ranks=ranks, slurm=slurm,
                                prefetch=prefetch,
                                repeats=repeats, device=device, backend=backend, problems=problems))
    if max_steps is not None:
        check_whole("--max-steps", max_steps, problems)
        changes["train"] = dataclasses.replace(cfg.train, max_steps=max_steps)
    problems.raise_any()
    return dataclasses.replace(cfg, **changes)


def _check_given(datasets: list[str] | None, strategies: list[str] | None, models: list[str] | None,
                 flags: _DatasetFlags, problems: Problems) -> None:
    """Flags given without what they apply to: a dataset's flags without ``--datasets``, an empty
    list."""
    if datasets is None and flags.given():
        problems.append(
            f"{', '.join(flags.given())}: given without --datasets; these flags apply to the "
            "datasets named there")
    for flag, given in (("--datasets", datasets), ("--strategies", strategies),
                        ("--models", models)):
        if given is not None and not given:
            problems.append(f"{flag} is empty; name at least one, or leave it out for the config's")


def _named_datasets(cfg: SuiteConfig, names: list[str],
                    problems: Problems) -> list[DatasetSettings]:
    """``--datasets``: the config's settings of each dataset named, default settings for one it
    lacks."""
    have = {d.name: d for d in cfg.datasets}
    chosen = []
    for name in names:
        if name in have:
            chosen.append(have[name])
            continue
        try:
            check_dataset_name(name)
        except ValueError as err:
            problems.append(f"--datasets: {err}; the config has {', '.join(have) or 'none'}")
            continue
        chosen.append(DatasetSettings(name=name))
    return chosen


def _with_flags(d: DatasetSettings, flags: _DatasetFlags, problems: Problems) -> DatasetSettings:
    """One dataset named in ``--datasets``, with the flags that apply to it: its options, its target
    column and what its cells train to (checked as a whole)."""
    kind = d.name.split(":", 1)[0] if ":" in d.name else None
    options = _options(d, kind, flags, problems)
    fields: dict[str, Any] = {"options": options}
    fields.update(_target_column(d, kind, flags.target, options, problems))
    fields.update(_goal_fields(d, flags, problems))
    d = dataclasses.replace(d, **fields)
    if flags.change_goal():
        found = check_goal("", d.task, d.metric, d.target_value, d.target_mae, cli=True)
        problems += [p for p in found if p not in problems]
    return d


def _options(d: DatasetSettings, kind: str | None, flags: _DatasetFlags,
             problems: Problems) -> dict[str, Any]:
    """A dataset's options with ``--option``, ``--smiles-column`` and ``--id-column`` (csv:PATH
    only)."""
    options = dict(d.options)
    if flags.option:
        options.update(flags.option)
    for flag, key, value in (("--smiles-column", "smiles_column", flags.smiles_column),
                             ("--id-column", "id_column", flags.id_column)):
        if value is not None:
            if kind != "csv":
                problems.append(f"{flag} applies to csv:PATH datasets only (not {d.name!r})")
            options[key] = value
    return options


def _target_column(d: DatasetSettings, kind: str | None, target: list[str] | None,
                   options: dict[str, Any],
                   problems: Problems) -> dict[str, Any]:
    """``--target``: the column trained on (the first), a local file's columns read as targets (set
    in ``options``; an XYZ file has only its energy)."""
    if not target:
        return {}
    if kind in FILE_KINDS:
        if kind == "xyz":
            if list(target) != ["energy"]:
                problems.append(f"--target: an XYZ file's only target is 'energy', the comment "
                                f"line's last number (dataset {d.name!r}; got {', '.join(target)})")
        else:
            options["target_columns"] = list(target)
    return {"target": target[0]}


def _goal_fields(d: DatasetSettings, flags: _DatasetFlags, problems: Problems) -> dict[str, Any]:
    """``--target-mae``, ``--task``, ``--target-metric`` and ``--target-value``: the settings of
    what a dataset's cells train to, a value in MAE always as ``target_mae``."""
    fields: dict[str, Any] = {}
    if flags.target_mae is not None:
        if not flags.target_mae > 0:  # (inf: check_goal)
            problems.append(f"--target-mae must be > 0 (got {flags.target_mae!r})")
        fields.update(target_mae=flags.target_mae, target_value=None, metric=None)
    if flags.task is not None:
        fields["task"] = flags.task
    if flags.target_metric is not None:
        fields["metric"] = flags.target_metric
        if flags.target_mae is None and flags.target_metric != "mae":
            # the config's MAE target does not carry over to another metric
            fields["target_mae"] = None
    if flags.target_value is not None:
        if (flags.target_metric or d.metric) == "mae":
            fields.update(target_mae=flags.target_value, target_value=None)
        else:
            fields.update(target_value=flags.target_value, target_mae=None)
    return fields


def _every_dataset(datasets: tuple[DatasetSettings, ...], models: list[str] | None,
                   data_dir: str | None,
                   problems: Problems) -> tuple[DatasetSettings, ...]:
    """``--models`` (they replace each dataset's list) and ``--data-dir`` (for the downloaded
    datasets), applied to every dataset of the suite."""
    from bench_lib.models import MODELS

    if models is not None:
        for m in models:
            problems.check(check_choice, "--models", m, MODELS.names())
        datasets = tuple(dataclasses.replace(d, models=tuple(models)) for d in datasets)
    if data_dir is not None:
        datasets = tuple(dataclasses.replace(d, options={**d.options, "data_dir": data_dir})
                         if d.name in DATA_DIR_DATASETS else d for d in datasets)
    return datasets


def _run_changes(cfg: SuiteConfig, *, execution: list[str] | None, ranks: list[int] | None,
                 slurm: dict[str, Any] | None, prefetch: int | None, repeats: int | None,
                 device: str | None,
                 backend: str | None, problems: Problems) -> dict[str, Any]:
    """How the cells run: ``--execution``, ``--ranks``, the Slurm flags, ``--prefetch``,
    ``--repeats``, ``--backend`` and ``--device`` (cuda runs the plain-torch backend: PyPI's DGL is
    CPU-only)."""
    changes: dict[str, Any] = {}
    if execution is not None:
        check_executions("--execution", execution, problems)
        changes["execution"] = tuple(execution)
    if ranks is not None:
        check_ranks("--ranks", ranks, problems)
        changes["ranks"] = tuple(dict.fromkeys(ranks))
    slurm = {k: v for k, v in (slurm or {}).items() if v is not None}
    if slurm:
        for k, v in slurm.items():
            if isinstance(v, int) and v < (0 if k == "gpus_per_job" else 1):
                problems.append(f"--{k.replace('_', '-')} must be >= "
                                f"{0 if k == 'gpus_per_job' else 1} (got {v})")
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
    if backend is not None:
        if backend not in BACKEND_CHOICES:
            problems.append(f"--backend must be one of {', '.join(BACKEND_CHOICES)} (got "
                            f"{backend!r})")
        elif backend == "dgl" and changes.get("device", cfg.device) == "cuda":
            problems.append("--backend dgl runs on the CPU only (PyPI's DGL); --device cuda needs "
                            "--backend torch")
        else:
            changes.setdefault("backend", backend)
    return changes
