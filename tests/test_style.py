"""Readable lines, checked by the linter ``pyproject.toml`` configures (ruff: lines of at most 100
characters, no lambda assigned to a name) over bench_lib/, tests/ and benchmarks/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.config import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_the_linter_is_configured_for_readable_lines():
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 100 and set(ruff["lint"]["select"]) >= {"E501", "E731"}


def test_no_line_is_over_100_characters_and_no_lambda_is_assigned():
    pytest.importorskip("ruff", reason="ruff comes with the dev extra (make install)")
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "bench_lib", "tests",
               "benchmarks"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_linter_finds_a_long_line_and_an_assigned_lambda(tmp_path):
    pytest.importorskip("ruff", reason="ruff comes with the dev extra (make install)")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nline-length = 100\n[tool.ruff.lint]\nselect = ["E501", "E731"]\n')
    (tmp_path / "bad.py").write_text("f = lambda x: x\n" + "x = " + "1 + " * 30 + "1\n")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "bad.py"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "E731" in done.stdout and "E501" in done.stdout
