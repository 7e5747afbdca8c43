"""The command line's flags as an overlay on the suite file's tables (``python -m bench_lib.suite
--datasets ... --repeats ...``): :class:`Overrides`.

The flags change the parsed TOML document before :func:`bench_lib.config.parse_config` reads it,
so that each setting is checked once, by the parser, whether it came from the file or a flag; a
problem with a setting a flag gave is then said in the flag's words (``--repeats must be > 0``, not
``[suite] repeats``). What the overlay checks itself is how the flags were used: a dataset's flag
without ``--datasets``, an empty list, a dataset name that is none, ``--smiles-column`` for a file
that is not a CSV.

- ``--datasets`` chooses the datasets (the file's tables, or new ones with default settings), and
  the flags that apply to each of them (``--target``, ``--target-value``, ``--option``...) change
  their tables;
- ``--strategies`` and ``--models`` replace the file's lists, ``--data-dir`` the downloaded
  datasets' root;
- ``--execution``, ``--ranks``, the Slurm flags, ``--prefetch``, ``--repeats``, ``--max-steps``,
  ``--backend`` and ``--device`` change how the cells run.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from bench_lib.config.checks import Problems, flat_target
from bench_lib.data import DATA_DIR_DATASETS, FILE_KINDS, check_dataset_name
from bench_lib.strategies import STRATEGIES

__all__ = ["Overrides", "located"]

# a flag -> the key it sets: (table, key); "datasets": each dataset named in --datasets
_SUITE_FLAGS = {"strategies": "strategies", "repeats": "repeats", "device": "device",
                "backend": "backend", "execution": "execution", "prefetch": "prefetch",
                "ranks": "ranks"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Overrides:
    """The suite's command-line flags (None: not given), as :func:`apply` lays them on a suite
    file's document.

    ``datasets`` may name datasets the file does not have (any known name, or
    ``csv:``/``sdf:``/``xyz:PATH``): they join with default settings. ``target``, ``target_mae``,
    ``task``, ``target_metric``, ``target_value``, ``smiles_column``, ``id_column`` and
    ``options`` apply to the datasets named in ``datasets`` (all of them); ``models`` and
    ``data_dir`` to every dataset of the suite."""

    datasets: list[str] | None = None
    strategies: list[str] | None = None
    models: list[str] | None = None
    repeats: int | None = None
    device: str | None = None
    backend: str | None = None
    data_dir: str | None = None
    target: list[str] | None = None
    target_mae: float | None = None
    task: str | None = None
    target_metric: str | None = None
    target_value: float | None = None
    smiles_column: str | None = None
    id_column: str | None = None
    options: dict[str, Any] | None = None
    execution: list[str] | None = None
    prefetch: int | None = None
    ranks: list[int] | None = None
    slurm: dict[str, Any] | None = None
    max_steps: int | None = None

    def _dataset_flags(self) -> list[str]:
        """The flags given that apply to the datasets named in ``--datasets``, as typed."""
        names = ("target", "target_mae", "task", "target_metric", "target_value", "smiles_column",
                 "id_column")
        given = [_flag(n) for n in names if getattr(self, n) is not None]
        return given + (["--option"] if self.options else [])

    def apply(self, data: dict[str, Any],
              problems: Problems) -> tuple[dict[str, Any], dict[str, str]]:
        """``(document, where)``: the suite file's parsed document with the flags laid on it (a
        copy), and ``where``: each setting a flag gave, as the parser's problems begin
        (``"[suite] repeats"``), to the flag's words (``"--repeats"``). How the flags were used is
        checked here, into ``problems``; their values are the parser's to check."""
        data = copy.deepcopy(data)
        where: dict[str, str] = {}
        self._check_given(problems)
        if self.datasets is not None:
            data["datasets"] = self._named_datasets(data.get("datasets", {}), problems, where)
        suite = data.setdefault("suite", {})
        if not isinstance(suite, dict):  # the parser says what is wrong with it
            suite = {}
        for name, key in _SUITE_FLAGS.items():
            value = getattr(self, name)
            if value is not None and value != []:  # (an empty list: _check_given's)
                suite[key] = list(value) if isinstance(value, list) else value
                where[f"[suite] {key}"] = _flag(name)
        if self.strategies and isinstance(suite.get("strategy_fairness"), dict):
            # the file's views of a strategy the flag leaves out have nothing to apply to
            kept = (STRATEGIES.names(baselines=False) if "all" in self.strategies
                    else self.strategies)
            suite["strategy_fairness"] = {k: v for k, v in suite["strategy_fairness"].items()
                                          if k in kept}
        if self.device == "cuda" and self.backend is None:
            suite["backend"] = "torch"  # PyPI's DGL is CPU-only
        for key, value in (self.slurm or {}).items():
            if value is not None and isinstance(data.setdefault("slurm", {}), dict):
                data["slurm"][key] = value
                where[f"[slurm] {key}"] = _flag(key)
        if self.max_steps is not None and isinstance(data.setdefault("train", {}), dict):
            data["train"]["max_steps"] = self.max_steps
            where["[train] max_steps"] = "--max-steps"
        self._every_dataset(data.get("datasets", {}), where)
        return data, where

    def _check_given(self, problems: Problems) -> None:
        """Flags given without what they apply to: a dataset's flags without ``--datasets``, an
        empty list."""
        if self.datasets is None and self._dataset_flags():
            problems.append(f"{', '.join(self._dataset_flags())}: given without --datasets; these "
                            "flags apply to the datasets named there")
        for name in ("datasets", "strategies", "models"):
            given = getattr(self, name)
            if given is not None and not given:
                problems.append(f"{_flag(name)} is empty; name at least one, or leave it out for "
                                "the config's")

    def _named_datasets(self, have: dict[str, Any], problems: Problems,
                        where: dict[str, str]) -> dict[str, Any]:
        """``--datasets``: the file's table of each dataset named (a new, empty one for a dataset
        the file lacks), with the flags that apply to it."""
        chosen = {}
        for name in self.datasets:
            if name not in have:
                try:
                    check_dataset_name(name)
                except ValueError as err:
                    problems.append(f"--datasets: {err}; the config has "
                                    f"{', '.join(have) or 'none'}")
                    continue
            table = have.get(name, {})
            chosen[name] = (self._with_flags(name, table, problems, where)
                            if isinstance(table, dict) else table)
        return chosen

    def _with_flags(self, name: str, table: dict[str, Any], problems: Problems,
                    where: dict[str, str]) -> dict[str, Any]:
        """One dataset named in ``--datasets``, its table with the flags that apply to it: its
        options, its target columns and what its cells train to."""
        kind = name.split(":", 1)[0] if ":" in name else None
        table = flat_target(name, table, problems)
        if not isinstance(table.get("options", {}), dict):  # the parser says what is wrong
            return table
        options = dict(table.get("options", {}))
        options.update(self.options or {})
        for flag, key in (("--smiles-column", "smiles_column"), ("--id-column", "id_column")):
            value = getattr(self, key)
            if value is not None:
                if kind != "csv":
                    problems.append(f"{flag} applies to csv:PATH datasets only (not {name!r})")
                options[key] = value
        if self.target:
            table["target"] = self.target[0]
            # (a first target other than energy: the parser's to say)
            if kind == "xyz" and len(self.target) > 1 and self.target[0] == "energy":
                problems.append(f"--target: an XYZ file's only target is 'energy', the comment "
                                f"line's last number (dataset {name!r}; got "
                                f"{', '.join(self.target)})")
            elif kind in FILE_KINDS and kind != "xyz":
                options["target_columns"] = list(self.target)
        if options or "options" in table:
            table["options"] = options
        goal = self._goal(table)
        mae_flag = ("--target-value" if self.target_value is not None
                    and goal.get("target_mae") is not None else "--target-mae")
        for keys, flag, given in ((("target",), "--target", self.target),
                                  (("target_mae",), mae_flag,
                                   self.target_mae if self.target_mae is not None
                                   else self.target_value),
                                  (("task",), "--task", self.task),
                                  (("metric", "target metric"), "--target-metric",
                                   self.target_metric),
                                  (("target_value", "target value"), "--target-value",
                                   self.target_value)):
            if given is not None:
                where.update({f"[datasets.{name}] {k}": flag for k in keys})
        table.update(goal)
        return {k: v for k, v in table.items() if v is not None}

    def _goal(self, table: dict[str, Any]) -> dict[str, Any]:
        """``--target-mae``, ``--task``, ``--target-metric`` and ``--target-value``: a dataset's
        keys of what its cells train to (None: the key is dropped), a value in MAE always as
        ``target_mae``."""
        keys: dict[str, Any] = {}
        if self.target_mae is not None:
            keys.update(target_mae=self.target_mae, target_value=None, metric=None)
        if self.task is not None:
            keys["task"] = self.task
        if self.target_metric is not None:
            keys["metric"] = self.target_metric
            if self.target_mae is None and self.target_metric != "mae":
                keys["target_mae"] = None  # the file's MAE target does not carry over
        if self.target_value is not None:
            if (self.target_metric or table.get("metric")) == "mae":
                keys.update(target_mae=self.target_value, target_value=None)
            else:
                keys.update(target_value=self.target_value, target_mae=None)
        return keys

    def _every_dataset(self, datasets: dict[str, Any], where: dict[str, str]) -> None:
        """``--models`` (they replace each dataset's list) and ``--data-dir`` (for the downloaded
        datasets), laid on every dataset's table."""
        for name, table in datasets.items():
            if not isinstance(table, dict):
                continue
            if self.models:  # (an empty list: _check_given's)
                table["models"] = list(self.models)
                where[f"[datasets.{name}] models"] = "--models"
            if (self.data_dir is not None and name in DATA_DIR_DATASETS
                    and isinstance(table.get("options", {}), dict)):
                table["options"] = {**table.get("options", {}), "data_dir": self.data_dir}


def located(problems: list[str], where: dict[str, str]) -> list[str]:
    """The parser's ``problems``, each about a setting a flag gave said in the flag's words
    (``[suite] repeats must be > 0`` -> ``--repeats must be > 0``), each said once (``--models``
    sets every dataset's list)."""
    out = []
    for p in problems:
        for key in sorted(where, key=len, reverse=True):
            rest = p[len(key):]
            # the key whole: "[datasets.x] target" is not "[datasets.x] target metric"
            if p.startswith(key) and (rest[:1] in (":", "") or rest.startswith((" must", " is "))):
                p = where[key] + p[len(key):]
                break
        if p not in out:
            out.append(p)
    return out

