"""``bench-lib``: one console command whose subcommands are the package's command lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.cli import COMMANDS, main
from bench_lib.config import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_the_console_command_is_bench_lib():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"bench-lib": "bench_lib.cli:main"}


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert set(COMMANDS) == {"suite", "report", "compare", "advise", "data", "models"}
    assert all(f"\n  {name} " in out for name in COMMANDS)
    assert main([]) == 2 and "commands:" in capsys.readouterr().err


def test_an_unknown_subcommand_is_one_error_line(capsys):
    assert main(["sweet"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: unknown command 'sweet'; known: suite, report, compare, advise, data, models (see "
        "bench-lib --help)"]


def test_a_subcommand_runs_its_command_with_the_rest_of_the_line(capsys):
    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out.startswith("gin: needs")
    assert main(["data", "stats", "nci5k", "--n-graphs", "50"]) == 0
    assert "| nci5k | 50 |" in capsys.readouterr().out


def test_the_python_m_forms_still_run():
    for module in ("bench_lib.models", "bench_lib.data", "bench_lib.advise", "bench_lib.suite",
                   "bench_lib.report"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                              text=True, cwd=ROOT,
                              timeout=300)
        assert done.returncode == 0 and "usage:" in done.stdout, (module, done.stderr[-500:])


def test_a_subcommands_usage_names_it_as_typed(capsys):
    assert main(["suite", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: bench-lib suite ")
    with pytest.raises(SystemExit):  # compare's parser exits on --help
        main(["compare", "--help"])
    assert capsys.readouterr().out.startswith("usage: bench-lib compare ")
    from bench_lib.suite import main as suite_main

    assert suite_main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m bench_lib.suite ")
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("bench-lib ")
