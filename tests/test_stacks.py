"""Two stacks (docs/stacks.md): the package installs beside today's torch, numpy, pandas and PyG
without changing them; without DGL the suite leaves a suite file's DGL-only parts out with a note
and refuses them on the command line with one error line; runs record their stack, and compare tells
two apart."""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from packaging.requirements import Requirement

import bench_lib.deps as deps
from bench_lib.deps import DGLMissing, import_dgl, resolve_backend
from bench_lib.harness.environment import STACK_PACKAGES, environment, pip_freeze, stack_text
from bench_lib.suite import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [r for r in map(Requirement, lines) if r.marker is None or r.marker.evaluate()]


def test_the_installed_stack_satisfies_every_requirement_so_pip_keeps_it():
    """pip leaves an installed package alone when it satisfies the requirement: every dependency
    (and, on the DGL stack, the dgl extra's) admits the version installed here, today's torch 2.14
    and numpy 2 or DGL's torch 2.2.1 and numpy 1 alike."""
    requirements = _requirements() + (_requirements("dgl") if deps.dgl_available() else [])
    for req in requirements:
        installed = metadata.version(req.name)
        assert req.specifier.contains(installed,
                                      prereleases=True), (f"{req} does not admit installed "
                                                          f"{installed}")


def test_the_default_dependencies_bound_only_from_below_unless_a_comment_says_why():
    text = PYPROJECT.read_text()
    block = text[text.index("dependencies = ["):text.index("]", text.index("dependencies = ["))]
    for line in block.splitlines()[1:]:
        spec = line.split("#", 1)[0]
        if re.search(r"<|==|~=", spec.split(";", 1)[0]):
            assert "#" in line, f"an upper bound without its reason: {line.strip()}"
    for name in ("torch", "numpy", "pandas", "torch_geometric"):
        req = next(r for r in _requirements() if r.name.replace("-", "_") == name)
        assert not any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), req


def test_the_dgl_extra_pins_dgls_stack():
    pins = {r.name: str(r.specifier) for r in _requirements("dgl")}
    assert (pins["dgl"] == "==2.1.0" and pins["torch"] == "==2.2.1" and pins["torchdata"]
            == "==0.7.1")
    assert pins["numpy"] == "<2" and pins["pandas"] == "<3" and pins["setuptools"] == "<70"
    # each environment's constraints file pins what its make target installs
    for name in ("today", "dgl"):
        lines = (ROOT / "constraints" / f"{name}.txt").read_text().splitlines()
        torch_pin = next(line for line in lines if line.startswith("torch=="))
        assert (torch_pin == "torch==2.2.1") == (name == "dgl"), torch_pin


def _without_dgl(monkeypatch):
    monkeypatch.setattr(deps, "_load_dgl", lambda: (None, "DGL is not installed"))


SUITE = """
[suite]
name = "stacks"
strategies = ["pad", "dynamic", "dgl-loader"]
strategy_fairness = { dgl-loader = ["equal-real-graphs"] }
fairness = ["equal-padded-budget", "equal-real-graphs"]

[datasets.nci5k]
n_graphs = 60
models = ["gin"]
node_slots = 256
graphs_per_step = 8

[datasets.zinc]
"""


@pytest.fixture
def suite_file(tmp_path) -> Path:
    path = tmp_path / "stacks.toml"
    path.write_text(SUITE)
    return path


def test_without_dgl_a_suite_files_dgl_parts_are_left_out_with_a_note_each(suite_file, monkeypatch,
        capsys):
    _without_dgl(monkeypatch)
    assert main(["--config", str(suite_file), "--dry-run", "--no-batching-check"]) == 0
    out, err = capsys.readouterr()
    assert "backend: torch (auto: DGL is not installed)" in err
    assert re.search(r"strategy dgl-loader: left out \(DGL is not installed; pip install "
                     r"'bench_lib\[dgl\]'", err)
    assert re.search(r"dataset zinc: left out \(built by DGL's loaders; .*bench_lib\[dgl\]", err)
    assert "dgl-loader" not in out and "zinc" not in out and "nci5k/dynamic/gin" in out


@pytest.mark.parametrize("flags", [["--backend", "dgl"], ["--strategies", "dynamic,dgl-loader"],
                                   ["--datasets", "nci5k,zinc"]])
def test_without_dgl_asking_for_a_dgl_part_is_one_error_line_naming_the_extra(
        flags, suite_file, monkeypatch, capsys):
    _without_dgl(monkeypatch)
    assert main(["--config", str(suite_file), "--dry-run", "--no-batching-check", *flags]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert (len(errors) == 1 and "bench_lib[dgl]" in errors[0] and "Traceback" not in err and out
            == "")


def test_a_suite_file_that_says_backend_dgl_is_refused_without_dgl(suite_file, monkeypatch, capsys):
    _without_dgl(monkeypatch)
    suite_file.write_text(SUITE.replace('name = "stacks"', 'name = "stacks"\nbackend = "dgl"'))
    assert main(["--config", str(suite_file), "--dry-run", "--no-batching-check"]) == 2
    err = capsys.readouterr().err
    assert 'backend = "dgl": DGL is not installed' in err and "bench_lib[dgl]" in err


def test_with_dgl_auto_is_dgls_backend_and_nothing_is_left_out(suite_file, monkeypatch, capsys):
    monkeypatch.setattr(deps, "_load_dgl", lambda: (object(), None))
    suite_file.write_text(SUITE.replace("\n[datasets.zinc]\n", ""))
    assert main(["--config", str(suite_file), "--dry-run", "--no-batching-check"]) == 0
    out, err = capsys.readouterr()
    assert "backend: dgl (auto: DGL imports here)" in err and "left out" not in err
    assert "nci5k/dgl-loader/gin/equal-real-graphs" in out
    assert resolve_backend("auto", "cuda") == "torch" and resolve_backend("torch") == "torch"


def test_import_dgl_says_how_to_get_dgl(monkeypatch):
    _without_dgl(monkeypatch)
    with pytest.raises(DGLMissing, match=r"DGL is not installed: pip install 'bench_lib\[dgl\]'"):
        import_dgl()
    assert issubclass(DGLMissing, ImportError)


def test_a_run_records_its_stack_and_every_package():
    env = environment()
    assert set(STACK_PACKAGES) <= set(env["packages"])
    import numpy
    import torch

    assert (env["packages"]["torch"] == torch.__version__.split("+")[0] or env["packages"]["torch"]
            == torch.__version__)
    assert env["packages"]["numpy"] == numpy.__version__
    assert (env["packages"]["dgl"] is None) == (not deps.dgl_available())
    freeze = pip_freeze().splitlines()
    assert (f"numpy=={numpy.__version__}" in freeze
            and not any(line.startswith("bench_lib") for line in freeze))
    assert stack_text({"torch": "2.2.1", "dgl": None}) == "torch 2.2.1, dgl none"


def _copy_run(src: Path, dst: Path, packages: dict) -> Path:
    dst.mkdir()
    for name in ("records.csv", "config.json", "planning.json"):
        shutil.copy(src / name, dst / name)
    env = json.loads((src / "environment.json").read_text())
    env["packages"].update(packages)
    (dst / "environment.json").write_text(json.dumps(env))
    return dst


def test_compare_names_both_stacks_and_says_whether_the_answer_moved(tmp_path, capsys):
    from bench_lib.report.__main__ import main as report_main

    ref = ROOT / "results" / "default-reference-dgl"
    a = _copy_run(ref, tmp_path / "a", {})
    b = _copy_run(ref, tmp_path / "b", {"torch": "2.14.1", "numpy": "2.4.6", "dgl": None})
    # different stacks: relative to dynamic by default
    assert report_main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert ("Two stacks (environment.json): A ran on torch 2.2.1, numpy 1.26.4, pandas 2.3.3, "
            "torch_geometric 2.6.1, dgl 2.1.0, numba 0.68.1; B on torch 2.14.1, numpy 2.4.6, "
            "pandas 2.3.3, torch_geometric 2.6.1, dgl none, numba 0.68.1.") in out
    moved = re.search(r"Between the two stacks the batching answer (.*?): (\d+) of (\d+) strategy "
                      r"ratios changed", out)
    assert moved and moved.group(2) == "0" and moved.group(1).startswith("did not move")


def test_the_stacks_sentence_names_each_ratio_and_step_count_that_moved(tmp_path):
    """B is A on another stack where `pack-lpfhp` lost 30% on nci5k relative to the others and one
    cell needed more steps: the sentence names both, counts the rest, and `--stacks` writes it
    into the page's block."""
    from bench_lib.report.__main__ import main as report_main
    from bench_lib.report.compare import compare_runs, stacks_sentence

    ref = ROOT / "results" / "default-reference-dgl"
    a = _copy_run(ref, tmp_path / "a", {})
    b = _copy_run(ref, tmp_path / "b", {"torch": "2.14.1", "numpy": "2.4.6", "dgl": None})
    df = pd.read_csv(b / "records.csv")
    slow = (df.dataset == "nci5k") & (df.strategy == "pack-lpfhp") & df.window_graphs_per_s.notna()
    for i in df.index[slow]:
        df.at[i, "window_graphs_per_s"] = json.dumps(
            [0.7 * v for v in json.loads(df.at[i, "window_graphs_per_s"])])
    more = df.index[(df.dataset == "qm9") & (df.strategy == "pad")
                    & (df.reached_target.map(str).str.lower() == "true")][0]
    df.at[more, "steps_to_target"] += 25
    df.to_csv(b / "records.csv", index=False)
    c = compare_runs(a, b, relative_to="dynamic")
    text = stacks_sentence(c)
    assert text.startswith("A = `a` (torch 2.2.1, numpy 1.26.4, pandas 2.3.3, torch_geometric "
                           "2.6.1, dgl 2.1.0, numba 0.68.1), B = `b` (torch 2.14.1, numpy 2.4.6, "
                           "pandas 2.3.3, torch_geometric 2.6.1, dgl none, numba 0.68.1), on one "
                           "machine")
    moved = [r for r in c.relative if r["changed"]]
    assert moved and {r["strategy"] for r in moved} == {"pack-lpfhp"}
    assert all(r["table"].startswith("nci5k") for r in moved)
    assert f"{len(moved)} changed beyond ±5% (nci5k / gin / " in text
    steps = [r for r in c.rows if r["steps_a"] is not None or r["steps_b"] is not None]
    assert f"were the same in {len(steps) - 1} of {len(steps)} cells" in text
    assert text.count(" against ") == 1 and "/pad/" in text.split("reached it in either: ")[1]
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- stacks:begin -->\nold\n<!-- stacks:end -->\nafter\n")
    assert report_main(["compare", str(a), str(b), "--relative-to", "dynamic", "--stacks",
                        str(page)]) == 0
    lines = page.read_text().splitlines()
    assert lines[0] == "before" and lines[-1] == "after" and lines[2] == text
    assert lines[1].startswith(f"<!-- stacks:begin: made by `python -m bench_lib.report compare {a}"
                               f" {b} --relative-to dynamic --stacks {page}`")
    # one stack: no sentence to write, one error line
    assert report_main(["compare", str(a), str(a), "--relative-to", "dynamic", "--stacks",
                        str(page)]) == 2


STACKS_COMMAND = ("python -m bench_lib.report compare results/default-reference-dgl "
                  "results/default-reference --relative-to dynamic --out "
                  "reports/default-reference/compare-dgl-stack.md --stacks docs/benchmarks.md")


def test_the_committed_comparison_of_the_two_stacks_and_its_sentence_are_the_records(
        monkeypatch):
    """The two default references (DGL's stack as A, today's as B): the committed comparison and
    docs/benchmarks.md's sentence are what ``STACKS_COMMAND`` writes from their records."""
    from bench_lib.report.compare import compare_runs, comparison_markdown, stacks_block

    monkeypatch.chdir(ROOT)  # the paths as the command names them
    c = compare_runs("results/default-reference-dgl", "results/default-reference",
                     relative_to="dynamic")
    assert c.stack_a.startswith("torch 2.2.1") and c.stack_b.startswith("torch 2.14.1")
    compared = ROOT / "reports" / "default-reference" / "compare-dgl-stack.md"
    assert compared.read_text() == comparison_markdown(c)
    assert stacks_block(c, STACKS_COMMAND) in (ROOT / "docs" / "benchmarks.md").read_text()


def test_every_committed_reference_carries_the_constraints_that_recreate_its_stack():
    runs = [p.parent for p in (ROOT / "results").glob("*/environment.json")
            if (p.parent / "records.csv").exists()]
    assert len(runs) >= 4
    for run in runs:
        packages = json.loads((run / "environment.json").read_text())["packages"]
        # pip freeze writes torch-geometric
        def norm(name):
            return name.lower().replace("_", "-")
        pins = {norm(line) for line in (run / "constraints.txt").read_text().splitlines()}
        for name, version in packages.items():
            if version and name != "bench_lib":
                assert norm(f"{name}=={version}") in pins, (run.name, name, version)


def test_a_suite_with_nothing_left_but_dgl_parts_says_what_it_left_out(suite_file, monkeypatch,
        capsys):
    _without_dgl(monkeypatch)
    suite_file.write_text(SUITE.replace('strategies = ["pad", "dynamic", "dgl-loader"]',
                                        'strategies = ["dgl-loader"]'))
    assert main(["--config", str(suite_file), "--dry-run", "--no-batching-check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: the suite has no cell to run (no dataset, strategy or model left; left "
                   "out for want of DGL (bench_lib[dgl]): strategy dgl-loader, dataset zinc)"]


def test_backend_dgl_is_refused_on_a_suite_files_cuda_device():
    from bench_lib.config import ConfigError, Overrides, parse_config

    doc = {"suite": {"device": "cuda"}, "datasets": {"nci5k": {}}}
    with pytest.raises(ConfigError, match="--backend: dgl runs on the CPU only"):
        parse_config(doc, overrides=Overrides(backend="dgl"))
    assert parse_config(doc, overrides=Overrides(backend="torch")).backend == "torch"
    with pytest.raises(ConfigError, match=r"\[suite\] backend: dgl runs on the CPU only"):
        parse_config({**doc, "suite": {"device": "cuda", "backend": "dgl"}})


def test_peptides_func_reads_its_files_without_dgl():
    from bench_lib.data import DGL_DATASETS

    assert DGL_DATASETS == ("zinc",)  # peptides-func goes through DGL only to download
