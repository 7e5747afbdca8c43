"""The README's plugin example runs and passes the conformance suite."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from bench_lib.strategies import STRATEGIES
from tests.conftest import make_random_store
from tests.strategies.conformance import check_conformance

README = Path(__file__).resolve().parents[1] / "README.md"


def plugin_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- plugin-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its plugin example"
    return match.group(1)


def test_plugin_example_is_short_and_conforms(tmp_path, monkeypatch):
    code = plugin_example()
    assert len(code.strip().splitlines()) <= 30
    path = tmp_path / "readme_plugin.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readme_plugin", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        assert "size-sorted" in STRATEGIES.names()
        check_conformance(STRATEGIES.create("size-sorted", batch_graphs=5), make_random_store(n_graphs=37, seed=9))
    finally:
        STRATEGIES.unregister("size-sorted")


def test_readme_commands_are_the_ci_commands():
    text = README.read_text()
    assert "make bench" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


def test_reference_results_do_not_sit_where_make_bench_writes():
    """A fresh clone's `make bench` must run the suite, not resume a committed one."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (README.parent / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "results/default", "reports/default"], cwd=README.parent,
                             capture_output=True, text=True).stdout.split()
    assert tracked == []
