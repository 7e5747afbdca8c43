"""The README's plugin example runs and passes the conformance suite; the model example of
docs/models.md installs and runs; the README's results block and the prose under it are the
records'."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from bench_lib.strategies.fairness import resolve, slot_budget
from bench_lib.strategies import STRATEGIES
from bench_lib.strategies.budget import GraphBudget
from tests.conftest import make_random_store
from tests.strategies.conformance import check_conformance

README = Path(__file__).resolve().parents[1] / "README.md"
MODELS_DOC = README.parent / "docs" / "models.md"
DOCS = sorted((README.parent / "docs").glob("*.md"))


def plugin_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- plugin-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its plugin example"
    return match.group(1)


def test_plugin_example_is_short_and_conforms(tmp_path, monkeypatch):
    code = plugin_example()
    assert len(code.strip().splitlines()) <= 36
    path = tmp_path / "readme_plugin.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readme_plugin", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        assert "size-sorted" in STRATEGIES.names()
        store = make_random_store(n_graphs=37, seed=9)
        check_conformance(STRATEGIES.create("size-sorted", batch_graphs=5), store)
        # It takes part in both fairness views like a built-in.
        n, e = store.n_node, store.n_edge
        budget = slot_budget(n, e, node_slots=48, pack_nodes=12)
        assert (resolve("size-sorted", budget, n, e)
                == ({"batch_graphs": budget.unpadded_batch_graphs(n, e)},
                                                        "equal-padded-budget"))
        assert (resolve("size-sorted", GraphBudget(9, 12), n, e)
                == ({"batch_graphs": 9}, "equal-real-graphs"))
    finally:
        STRATEGIES.unregister("size-sorted")


def test_readme_commands_are_the_ci_commands():
    text = README.read_text()
    assert "make bench" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.slow
def test_reference_results_do_not_sit_where_make_bench_writes():
    """A fresh clone's `make bench` must run the suite, not resume a committed one."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (README.parent / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "results/default", "reports/default"],
                             cwd=README.parent,
                             capture_output=True, text=True).stdout.split()
    assert tracked == []


@pytest.mark.slow
def test_results_block_is_made_from_the_reference_records():
    """The README's numbers are the reference run's, written by the report tool, not by hand."""
    from bench_lib.report import BEGIN, END, readme_block

    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    results = "results/default-reference"
    command = f"python -m bench_lib.report {results} --readme README.md"
    want = readme_block(README.parent / results, "reports/default-reference", command,
                        results_link=results)
    assert text[start:end] == want, (f"README results block is stale or edited by hand; run: "
                                     f"{command}")


def test_reference_run_gave_every_strategy_equal_slots():
    """In the reference run's equal-padded-budget view, node and edge slots per step agree within
    5%."""
    import json

    import pandas as pd

    df = pd.read_csv(README.parent / "results" / "default-reference" / "records.csv")
    df = df[(df.status == "ok") & df.views.map(lambda v: "equal-padded-budget" in json.loads(v))]
    assert set(df.dataset) == {"nci5k", "qm9"}
    for (dataset, seed), g in df.groupby(["dataset", "seed"]):
        assert len(g) >= 6, (dataset, seed)
        for col in ("node_slots_per_step", "edge_slots_per_step"):
            assert g[col].max() / g[col].min() <= 1.05, (dataset, seed, col,
                                                         g[["strategy", col]].values.tolist())


@pytest.mark.slow
def test_help_shows_the_readme_suite_examples(capsys):
    """``--help`` carries the suite commands of the README and docs/ (plain text, no reST
    markup)."""
    from bench_lib.suite import EXAMPLES, main

    commands = {line.split("#")[0].strip() for page in (README, *DOCS)
                for line in page.read_text().splitlines()
                if line.startswith("python -m bench_lib.suite")}
    assert len(commands) >= 8
    shown = {line.split("#")[0].strip() for line in EXAMPLES.splitlines()}
    assert commands <= shown, commands - shown
    assert main(["--help"]) == 0  # the suite's command returns its exit status, --help's too
    out = capsys.readouterr().out
    assert "::" not in out and "``" not in out and "csv:data/ESOL.csv" in out


def model_example() -> str:
    match = re.search(r"<!-- model-example -->\s*```python\n(.*?)```", MODELS_DOC.read_text(), re.S)
    assert match, "docs/models.md lost its model example"
    return match.group(1)


@pytest.mark.slow
def test_model_example_installs_passes_the_check_and_runs_in_both_views(tmp_path, monkeypatch,
        capsys):
    """docs/models.md's model, laid out as pip installs a package with its entry point."""
    import json
    import textwrap

    from bench_lib.harness.runner import read_records
    from bench_lib.models import ENTRY_POINT_GROUP, MODELS
    from bench_lib.suite import main
    from tests.models.test_plugin_models import SUITE

    code = model_example()
    assert len(code.strip().splitlines()) <= 32
    toml = re.search(r'```toml\n(\[project.entry-points."bench_lib.models"\]\n.*?)```',
                     MODELS_DOC.read_text(), re.S)
    assert toml and 'atom-sum = "my_package.models:AtomSum"' in toml.group(1)
    package = tmp_path / "site" / "my_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(code)
    dist = tmp_path / "site" / "my_package-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-package\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{ENTRY_POINT_GROUP}]
        atom-sum = my_package.models:AtomSum
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))  # the suite's workers
    try:
        MODELS.load_plugins(reload=True)
        assert main(["--list"]) == 0
        assert ("atom-sum (categorical node features; plugin my_package.models)"
                in capsys.readouterr().out)
        suite = tmp_path / "suite.toml"
        suite.write_text(SUITE.replace("[models.toy-sum]", "[models.atom-sum]"))
        out = tmp_path / "res"
        assert main(["--config", str(suite), "--models", "atom-sum", "--out", str(out),
                     "--no-report"]) == 0
        assert "atom-sum on nci5k: safe to batch" in capsys.readouterr().err
        records = read_records(out / "records.csv")
        assert set(records.status) == {"ok"} and set(records.model) == {"atom-sum"}
        assert {v for views in records.views for v in json.loads(views)} == {"equal-padded-budget",
                                                                            "equal-real-graphs"}
    finally:
        MODELS.unregister("atom-sum")


def test_the_first_screen_answers():
    """Issue 41: two sentences and the set-up, then the generated block with its first table within
    the README's first 40 lines; the block at most about 30 lines, none over 120 characters."""
    from bench_lib.report import BEGIN, END

    text = README.read_text()
    lines = text.splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("| "))
    assert first_table < 40 and lines[first_table].startswith("| real graphs/s |")
    block = text[text.index(BEGIN):text.index(END) + len(END)].splitlines()
    assert len(block) <= 32 and max(map(len, block)) <= 120, (len(block), max(map(len, block)))
    assert text.index("make bench") < text.index(BEGIN)
    intro = text[text.index("\n\n") + 2:text.index("\n## ")]
    assert len(re.findall(r"[.!?](?:\s|$)", intro)) == 2, intro


def test_the_benchmarks_page_quotes_the_reference_reports_verdicts():
    """The paragraph on the default reference in docs/benchmarks.md quotes verdicts ("`pad-bucket`
    17% slower"): each one is a sentence of the reference's committed report, so that an edited or
    stale sentence fails here."""
    page = (README.parent / "docs" / "benchmarks.md").read_text()
    report = (README.parent / "reports" / "default-reference" / "report.md").read_text()
    prose = page[page.index("<!-- quoted:"):]
    prose = prose[:prose.index("\n## ")] if "\n## " in prose else prose
    quoted = re.findall(r"`[a-z-]+` \d+% slower", " ".join(prose.split()))
    assert len(quoted) >= 6, quoted
    for phrase in quoted:
        assert phrase in report, phrase


@pytest.mark.slow
def test_contributing_commands_name_real_files_and_parse():
    """CONTRIBUTING.md's commands: the files they name exist, and its suite command plans (a dry
    run)."""
    import shlex
    import subprocess
    import sys

    root = README.parent
    text = (root / "CONTRIBUTING.md").read_text()
    commands = [line.split("#")[0].strip()
                for line in re.search(r"## Everyday commands\s*```\n(.*?)```", text, re.S)
                .group(1).splitlines()
                if line.strip()]
    for command in commands:
        for word in shlex.split(command):
            if word.endswith((".py", ".toml")) and "/" in word and not word.startswith(".venv"):
                assert (root / word).exists(), f"CONTRIBUTING.md names {word}, which does not exist"
    suite = next(c for c in commands if "bench_lib.suite" in c)
    args = shlex.split(suite)[3:]
    run = subprocess.run([sys.executable, "-m", "bench_lib.suite", *args, "--dry-run"], cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "pack-lpfhp" in run.stdout + run.stderr
