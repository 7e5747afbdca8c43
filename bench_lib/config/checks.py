"""Checking a suite's settings where they are given: every problem collected (:class:`Problems`)
and raised together as one :class:`ConfigError`, by the suite file's parser and the command line's
overrides alike."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from bench_lib.schema import EXECUTIONS

__all__ = ["ConfigError", "Problems", "check_choice", "check_seeds", "check_whole", "check_out",
           "check_executions", "check_ranks", "take", "one_of", "flat_target"]


class ConfigError(ValueError):
    """A suite configuration that cannot run: one message per problem (``problems``)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class Problems(list):
    """Collects every problem of a configuration before raising them together."""

    def check(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``; its ``ConfigError``'s problems are collected (and None
        returned)."""
        try:
            return fn(*args, **kwargs)
        except ConfigError as err:
            self.extend(err.problems)
            return None

    def raise_any(self, prefix: str = "") -> None:
        if self:
            raise ConfigError([prefix + p for p in self])


def check_choice(kind: str, value: str, known) -> None:
    if value not in known:
        raise ConfigError(f"{kind}: unknown name {value!r}; valid: {', '.join(sorted(known))}")


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def take(section: str, table: dict, cls, skip: tuple[str, ...] = (),
         problems: list | None = None) -> dict:
    """Check ``table``'s keys against ``cls``'s fields and the values' types.

    The good keys are returned; the problems are appended to ``problems``
    when given, else raised together as one ``ConfigError``."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table (got {type(table).__name__})")
    valid = {k: f for k, f in _fields(cls).items() if k not in skip}
    out, found = {}, Problems()
    problems = found if problems is None else problems
    for key, value in table.items():
        if key not in valid:
            problems.append(f"[{section}] has no key {key!r}; valid keys: "
                            f"{', '.join(sorted(valid))}")
            continue
        kind = str(valid[key].type)
        if kind in ("int", "float", "int | None", "float | None") and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"[{section}] {key} must be a number (got {value!r})")
                continue
            if kind.startswith("int") and not isinstance(value, int):
                problems.append(f"[{section}] {key} must be a whole number (got {value!r})")
                continue
            # the keys that may be 0 (0: none)
            zero = key in ("warmup_steps", "window_s", "prefetch", "gpus_per_job", "min_timed_s")
            if value < 0 or (value == 0 and not zero):
                problems.append(f"[{section}] {key} must be {'>= 0' if zero else '> 0'} (got "
                                f"{value!r})")
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


def check_seeds(where: str, seeds, problems: list) -> None:
    """A seeds list: not empty, each a whole number >= 0, none twice."""
    seeds = list(seeds)
    if not seeds:
        problems.append(f"{where} is empty; name at least one seed, e.g. [0]")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        problems.append(f"{where}: each seed must be a whole number >= 0 (got "
                        f"{', '.join(map(repr, bad))})")
    twice = sorted({s for s in seeds if s not in bad and seeds.count(s) > 1})
    if twice:
        problems.append(f"{where}: seed(s) {', '.join(map(str, twice))} given more than once; each "
                        f"seed runs once")


def check_whole(where: str, value, problems: list, least: int = 1) -> None:
    """A setting that must be a whole number of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        problems.append(f"{where} must be a whole number >= {least} (got {value!r})")


def check_out(where: str, out: Path) -> list[str]:
    """What stops the results folder ``out`` from being written: a file in its place or above it, or
    a folder this process cannot write (tried with a file made and removed at once). Nothing is
    left."""
    import tempfile

    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            return [f"{where} {out}: a file is there; name a folder (it is created if missing)"]
        folder = out
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            return [f"{where} {out}: cannot create the results folder ({folder} is a file)"]
    except OSError as err:  # a folder on the way that this user may not look into
        return [f"{where} {out}: cannot create the results folder ({err.strerror})"]
    try:
        fd, probe = tempfile.mkstemp(prefix=".bench_lib_probe_", dir=folder)
    except OSError as err:
        how = ("cannot write into the results folder" if folder == out
               else f"cannot create the results folder in {folder}")
        return [f"{where} {out}: {how} ({err.strerror})"]
    os.close(fd)
    os.unlink(probe)
    return []


def check_executions(where: str, executions, problems: list) -> None:
    """An execution list (suite file or ``--execution``): not empty, each one known."""
    if not executions:
        problems.append(f"{where} is empty; name at least one of " + ", ".join(EXECUTIONS))
    for ex in executions:
        problems.check(check_choice, where, ex, EXECUTIONS)


def check_ranks(where: str, ranks, problems: list) -> None:
    """A ranks list (suite file or ``--ranks``): not empty, each a whole number >= 1."""
    if not ranks:
        problems.append(f"{where} is empty; name at least one number of ranks (1: one process)")
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            problems.append(f"{where}: each must be a whole number >= 1 (got {r!r})")


def one_of(where: str, value, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{where} must be {' or '.join(repr(v) for v in valid)} (got {value!r})")


def flat_target(name: str, table: dict, problems: list) -> dict:
    """``target = {column, metric, value}`` -> the settings' ``target``, ``metric`` and
    ``target_value``."""
    target = table.get("target")
    if not isinstance(target, dict):
        return table
    table = {k: v for k, v in table.items() if k != "target"}
    unknown = set(target) - {"column", "metric", "value"}
    if unknown:
        problems.append(f"[datasets.{name}] target has no key(s) {sorted(unknown)}; valid: column, "
                        f"metric, value")
    if "column" in target:
        table["target"] = target["column"]
    if "metric" in target:
        table["metric"] = target["metric"]
    if "value" in target:
        table["target_value"] = target["value"]
    return table
