"""A third-party model through the suite: listed, checked, timed in both views;
leaky models refused before any worker starts, with one error line."""

from __future__ import annotations

import json
import re

import pytest

from bench_lib.harness.runner import read_records
from bench_lib.models import MODELS, ModelRegistry
from bench_lib.suite import main
from tests.models.test_check import LEAKY, plugin  # noqa: F401  (the fixture)

SUITE = """
[suite]
name = "plugin"
strategies = ["pad", "pack-lpfhp"]
fairness = ["equal-padded-budget", "equal-real-graphs"]
repeats = 1
timeout_s = 120

[train]
warmup_steps = 1
window_s = 0.0
windows = 2
eval_every = 2
max_steps = 4
train_time_limit_s = 30

[models.toy-sum]
hidden = 8

[datasets.nci5k]
n_graphs = 48
node_slots = 256
graphs_per_step = 8
target_mae = 30.0
"""


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "plugin.toml"
    path.write_text(SUITE)
    return path


@pytest.mark.slow
def test_plugin_model_is_listed_checked_and_timed_in_both_views(
        plugin, suite_file, tmp_path, capsys):  # noqa: F811
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"toy-sum \(categorical node features; plugin toy_models\)", listed), listed
    out = tmp_path / "res"
    assert main(["--config", str(suite_file), "--models", "toy-sum", "--out", str(out),
                 "--no-report"]) == 0
    err = capsys.readouterr().err
    assert ("toy-sum on nci5k: safe to batch (the batching check passed under 4 strategy "
            "budget(s)") in err, err
    records = read_records(out / "records.csv")
    assert (set(records.model) == {"toy-sum"}
            and set(records.status) == {"ok"}), records[["status", "error"]]
    assert ({v for views in records.views for v in json.loads(views)}
            == {"equal-padded-budget", "equal-real-graphs"})
    assert records.model_params.str.contains('"hidden": 8').all()


@pytest.mark.parametrize("leaky", LEAKY)
@pytest.mark.parametrize("dry_run", [False, True])
def test_leaky_model_is_refused_before_any_worker(  # noqa: F811
        plugin, suite_file, tmp_path, capsys, leaky, dry_run):
    out = tmp_path / "res"
    argv = (["--config", str(suite_file), "--models", leaky, "--out", str(out)]
            + (["--dry-run"] if dry_run else []))
    assert main(argv) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, captured.err
    assert re.match(
        rf"error: model '{leaky}' is not safe to batch on nci5k: under strategy '(pad|pack-lpfhp) "
        r"\([a-z+-]+\)', (its prediction|the gradient of its loss) for graph \d+ \(\d+ nodes\) "
        r"differs from the same (graph alone|real graphs without padding) by [0-9.e+-]+ "
        r"\(relative; tolerance 1e-0[45]\)", errors[0]), errors[0]
    assert f"python -m bench_lib.models check {leaky} --dataset nci5k" in errors[0]
    assert not out.exists() and captured.out == ""  # no cell listed, no folder, no worker


def test_models_check_command(plugin, suite_file, capsys):  # noqa: F811
    from bench_lib.cli.models import main as models_main

    assert models_main(["check", "toy-sum", "--config", str(suite_file), "--dataset", "nci5k"]) == 0
    assert "toy-sum on nci5k: safe to batch" in capsys.readouterr().out
    assert models_main(["check", "leaky-softmax", "--config", str(suite_file), "--dataset",
                        "nci5k"]) == 2
    err = capsys.readouterr().err
    assert "error: model 'leaky-softmax' is not safe to batch on nci5k: under strategy" in err
    assert models_main(["check", "schnet", "--config", str(suite_file), "--dataset", "nci5k"]) == 2
    assert "schnet needs 3D positions and it has no 3D positions" in capsys.readouterr().err
    assert models_main(["check", "gcn", "--config", str(suite_file)]) == 2
    assert "unknown model 'gcn'; known: gin, " in capsys.readouterr().err
    assert models_main(["list"]) == 0
    assert ("leaky-mean: needs categorical node features; plugin toy_models; [models.leaky-mean] "
            "hidden=16") in \
        capsys.readouterr().out


def test_registry_refuses_bad_models():
    import torch

    class NoConfig(MODELS.base):
        name = "no-config"

    with pytest.raises(TypeError, match="`Config` must be a dataclass"):
        ModelRegistry().register(NoConfig)
    with pytest.raises(TypeError, match="not a Model subclass"):
        ModelRegistry().register(torch.nn.Linear)
    with pytest.raises(ValueError, match="unknown model 'nope'; known: gin, painn, schnet"):
        MODELS.get("nope")


def test_a_model_the_check_cannot_run_is_one_error_line_and_can_be_timed_unchecked(  # noqa: F811
        plugin, suite_file, tmp_path, capsys, monkeypatch):
    import toy_models

    def fails(self, batch, backend="torch", ops=None):
        raise RuntimeError("this model runs on a GPU only")

    monkeypatch.setattr(toy_models.ToySum, "forward", fails)
    argv = ["--config", str(suite_file), "--models", "toy-sum", "--strategies", "pad", "--dry-run"]
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == ["error: model 'toy-sum' could not be checked on nci5k: RuntimeError: this "
                      "model runs on a GPU only (the batching check runs forward and backward "
                      "passes on the CPU; --no-batching-check times it unchecked)"]
    assert main(argv + ["--no-batching-check"]) == 0
    assert "batching check skipped (--no-batching-check)" in capsys.readouterr().err


def test_a_broken_plugin_does_not_hide_the_others(plugin, tmp_path):  # noqa: F811
    (tmp_path / "broken_models.py").write_text("raise ImportError('no such dependency')\n")
    dist = tmp_path / "broken_models-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-models\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench_lib.models]\nbroken = broken_models:Broken\n")
    registry = ModelRegistry()
    with pytest.raises(ValueError, match=r"entry point 'broken' .* failed to load: ImportError: no "
                                         r"such dependency"):
        registry.load_plugins()
    assert "toy-sum" in registry.names() and "broken" not in registry.names()
