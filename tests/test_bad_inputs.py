"""Every bad input is answered before any cell runs: one ``error:`` line per problem, exit status 2,
no traceback, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from bench_lib.data import split_indices
from bench_lib.suite import main

#: A phase that lasts (loading, checking) is said with the time since the command began: not an
#: answer.
HEARTBEAT = re.compile(r"^\[\d+:\d\d\] ")

MOLS = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "CCBr", "OCC(O)CO", "CCCCCC",
        "c1ccncc1"]

CONFIG = """
[suite]
name = "bad"
strategies = ["pad", "pack-lpfhp"]
repeats = 1

[datasets.nci5k]
n_graphs = 48
models = ["gin"]
node_slots = 256
"""


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    d = tmp_path / "in put" / "nested"  # a space and depth in the path, as users have them
    d.mkdir(parents=True)

    def write(name: str, text: str | bytes) -> Path:
        p = d / name
        p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text)
        return p

    rows = "\n".join(f"{s},{k}" for k, s in enumerate(MOLS * 2))
    big = "C" * 60  # a 60-atom chain
    val = set(split_indices(20, seed=0)["val"].tolist())
    big_val = min(split_indices(200, seed=0)["val"].tolist())
    # fills 512 slots
    sized = "\n".join(f"{big if k == big_val else MOLS[k % 10]},{k}" for k in range(200))
    # a binary column whose validation split holds one class (every positive row is a training row)
    one_class = "\n".join(f"{MOLS[k % 10]},{'no' if k in val or k % 3 else 'yes'}"
                          for k in range(20))
    two_cols = "\n".join(
        f"{MOLS[k % 10]},{0 if k in val else k % 2},{0 if k in val else (k + 1) % 2}"
                         for k in range(20))
    f = {
        "good": write("good.csv", "smiles,y\n" + rows + "\n"),
        "multi": write("multi.csv", "smiles,measured,predicted\n"
                       + "\n".join(f"{s},1,2" for s in MOLS) + "\n"),
        "labels": write("labels.csv", "smiles,p_np\n"
                        + "\n".join(f"{s},{'yes' if k % 2 else 'no'}" for k, s in enumerate(MOLS))
                        + "\n"),
        "nosmiles": write("nosmiles.csv", "a,b\n1,2\n"),
        "empty": write("empty.csv", ""),
        "header": write("header.csv", "smiles,y\n"),
        "binary": write("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256))),
        "allbad": write("allbad.csv", "smiles,y\nC1CC(,1\nxyz,2\n"),
        "bigval": write("bigval.csv", "smiles,y\n" + sized + "\n"),
        "badxyz": write("bad.xyz", "three\nx\n"),
        "goodxyz": write("good.xyz", "".join(f"3\n{-k}.5\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n"
                                             for k in range(20))),
        "config": write("suite.toml", CONFIG),
        "float": write("float.toml", CONFIG.replace("node_slots = 256", "node_slots = 256.5")),
        "toml": write("broken.toml", CONFIG + "\n[datasets.qm9\n"),
        "several": write("several.toml", CONFIG.replace("repeats = 1", "repeats = 0\nthreds = 2")
                         .replace("node_slots = 256",
                                  "node_slots = 256\npack_nodes = 1.5\nmodels2 = 1")),
        "target": write("target.toml", CONFIG.replace("node_slots = 256",
                                                      "node_slots = 256\ntarget = \"nope\"")),
        "nomodels": write("nomodels.toml", CONFIG.replace('models = ["gin"]', "models = []")),
        "timeout": write("timeout.toml", CONFIG.replace("repeats = 1",
                                                        "repeats = 1\ntimeout_s = 10")
                         + "\n[train]\ntrain_time_limit_s = 20\n"),
        "afile": write("not-a-folder", "x"),
        "oneclass": write("oneclass.csv", "smiles,active\n" + one_class + "\n"),
        "twocols": write("twocols.csv", "smiles,a,b\n" + two_cols + "\n"),
        "three": write("three.csv", "smiles,colour\n"
                       + "\n".join(f"{s},{('red', 'green', 'blue')[k % 3]}"
                                   for k, s in enumerate(MOLS * 2)) + "\n"),
        "small": write("small.csv", "smiles,y\n"
                       + "\n".join(f"{s},{k}" for k, s in enumerate(MOLS[:5])) + "\n"),
        "dup": write("dup.csv", "smiles,y,y\n" + "\n".join(f"{s},{k},{-k}"
                                                           for k, s in enumerate(MOLS)) + "\n"),
        "constant": write("constant.csv", "smiles,y\n"
                          + "\n".join(f"{MOLS[k % 10]},3" for k in range(200)) + "\n"),
        "one": write("one.csv", "smiles,y\nCCO,1.5\n"),
        "ids": write("ids.tsv", "NO.\tSMILES\tCID\tBBB+/BBB-\n" + "\n".join(
            f"{k + 1}\t{s}\t{2000 + k}\t{'BBB+' if k % 3 else 'BBB-'}"
            for k, s in enumerate(MOLS * 2)) + "\n"),
    }
    from rdkit import Chem
    from rdkit.Chem import AllChem

    writer = Chem.SDWriter(str(d / "flat.sdf"))
    for k, s in enumerate(MOLS[:3]):
        mol = Chem.MolFromSmiles(s)
        AllChem.Compute2DCoords(mol)
        mol.SetDoubleProp("y", float(k))
        mol.SetProp("name", f"compound {k}")
        writer.write(mol)
    writer.close()
    f["flat"] = d / "flat.sdf"
    f["classes"] = write("classes.toml", CONFIG
                         + f'\n[datasets."csv:{f["three"]}"]\ntarget = "colour"\nmax_classes = 2\n')
    f["packs"] = write("packs.toml", CONFIG
                       + f'\n[datasets."csv:{f["bigval"]}"]\npack_nodes = 32\n')
    f["metric"] = write("metric.toml", CONFIG.replace("node_slots = 256", 'node_slots = 256\n'
                                                       'target = { metric = "auc", value = 0.7 }'))
    f["both"] = write("both.toml", CONFIG.replace("node_slots = 256",
                                                  'node_slots = 256\ntarget_mae = 5.0\n'
                                                  'target = { metric = "rocauc", value = 0.7 }'))
    f["margin"] = write("margin.toml", CONFIG.replace("repeats = 1", "repeats = 1\nmargin = 5"))
    f["looks"] = write("looks.toml", CONFIG.replace("repeats = 1",
                                                    "repeats = 1\ndecide = true\ndecide_looks = 1"))
    for name, seeds in (("negative_seed", "[-1]"), ("no_seeds", "[]"), ("seed_twice", "[0, 1, 0]")):
        f[name] = write(f"{name}.toml", CONFIG.replace("repeats = 1",
                                                       f"repeats = 1\nseeds = {seeds}"))
    f["negative_timed"] = write("negative_timed.toml",
                                CONFIG.replace("repeats = 1", "repeats = 1\nmin_timed_s = -1"))
    f["real_graphs"] = write("real_graphs.toml",
                             CONFIG.replace("repeats = 1",
                                            'repeats = 1\nfairness = ["equal-real-graphs"]')
                             .replace("n_graphs = 48", "n_graphs = 30"))
    f["missing"] = d / "missing.csv"
    f["missing_toml"] = d / "missing.toml"
    return f


#: (case, command-line arguments with {name} standing for a file of the fixture, expected message
#: fragment)
CASES = [
    ("margin as a percentage", ["--config", "{margin}"],
     "[suite] margin must be between 0 and 1, e.g. 0.05 for ±5% (got 5)"),
    ("one look", ["--config", "{looks}"], "[suite] decide_looks must be at least 2 (got 1)"),
    ("missing file", ["--datasets", "csv:{missing}"], "missing.csv does not exist"),
    ("empty file", ["--datasets", "csv:{empty}"], "empty.csv: the file is empty"),
    ("header only", ["--datasets", "csv:{header}"], "header.csv: no rows"),
    ("binary file", ["--datasets", "csv:{binary}"], "binary.csv: a binary file, not a text table"),
    ("no SMILES column", ["--datasets", "csv:{nosmiles}"], "no SMILES column among ['a', 'b']"),
    ("unknown SMILES column", ["--datasets", "csv:{good}", "--smiles-column", "mol"],
     "no column 'mol'"),
    ("unknown ID column", ["--datasets", "csv:{good}", "--id-column", "name"],
     "no ID column 'name'"),
    ("unknown target", ["--datasets", "csv:{good}", "--target", "logS"],
     "no target column(s) ['logS']"),
    ("several numeric columns", ["--datasets", "csv:{multi}"],
     "several columns could be the target: numbers 'measured', 'predicted'; choose one with "
     "--target"),
    ("MAE on a binary column", ["--datasets", "csv:{labels}", "--target", "p_np", "--target-mae",
                                "0.3"],
     "'p_np' is a binary target, scored by rocauc, not MAE; give the target in its terms: "
     "--target-metric rocauc"),
    ("AUC on a regression column", ["--datasets", "csv:{good}", "--target", "y", "--target-metric",
                                    "rocauc",
                                    "--target-value", "0.7"],
     "metric rocauc does not fit a regression target ('y'); use mae or rmse"),
    ("AUC target above 1", ["--datasets", "csv:{labels}", "--target", "p_np", "--target-value",
                            "1.5"],
     "a ROC-AUC target must be in (0, 1] (got 1.5)"),
    ("target value not finite", ["--datasets", "csv:{labels}", "--target", "p_np", "--target-value",
                                 "nan"],
     "--target-value must be a finite number (got nan)"),
    ("target MAE infinite", ["--datasets", "csv:{good}", "--target-mae", "inf"],
     "--target-mae must be a finite number (got inf): a target every strategy reaches at step 0"),
    ("one class in the validation split",
     ["--datasets", "csv:{oneclass}", "--target", "active", "--target-value", "0.7"],
     "the val split holds one class only ('active': no)"),
    ("AUC with no label column of both classes",
     ["--datasets", "csv:{twocols}", "--target", "a,b", "--task", "multilabel",
      "--target-metric", "rocauc", "--target-value", "0.7"],
     "ROC-AUC on the validation split: no label column holds both classes there"),
    ("more classes than the limit", ["--config", "{classes}"],
     "'colour' has 3 classes, more than max_classes=2"),
    ("binary task on many values", ["--datasets", "csv:{good}", "--target", "y", "--task",
                                    "binary"],
     "--task binary: 'y' holds 20 distinct value(s)"),
    ("unknown task", ["--datasets", "csv:{good}", "--task", "ranking"],
     "argument --task: invalid choice: 'ranking'"),
    ("unknown metric", ["--datasets", "csv:{good}", "--target-metric", "f1"],
     "--target-metric: unknown metric 'f1'"),
    ("unknown metric in the file", ["--config", "{metric}"],
     "[datasets.nci5k] target metric: unknown metric 'auc'"),
    ("MAE and another target", ["--config", "{both}"],
     "[datasets.nci5k] target_mae and [datasets.nci5k] target value: give one of them"),
    ("identifier as the target", ["--datasets", "csv:{ids}", "--target", "CID"],
     "column 'CID' is named like an identifier, not a measurement"),
    ("SMILES column as the target", ["--datasets", "csv:{labels}", "--target", "smiles"],
     "'smiles' is the SMILES column: it holds the molecules, not labels"),
    ("a column name used twice", ["--datasets", "csv:{dup}", "--target", "y"],
     "column name(s) used twice in the header: 'y'"),
    ("a file too small for its splits", ["--datasets", "csv:{small}", "--target", "y",
                                         "--target-mae", "1.0"],
     "the validation split holds 0 graph(s) with a label (0 graph(s) of 5); time to accuracy needs "
     "at least 1"),
    ("no usable row", ["--datasets", "csv:{allbad}"],
     "no usable row (2 skipped; first: line 2: SMILES syntax"),
    ("misspelt option", ["--datasets", "csv:{good}", "--option", "smiles_colum=smiles"],
     "options are ['id_column', 'sep', 'smiles_column', 'target_columns'] (got ['smiles_colum'])"),
    ("option without value", ["--datasets", "csv:{good}", "--option", "cutoff"], "takes KEY=VALUE"),
    ("unknown dataset", ["--datasets", "nci5", ], "unknown dataset 'nci5'"),
    ("unknown file kind", ["--datasets", "json:{good}"], "unknown dataset 'json:"),
    ("unknown strategy", ["--strategies", "pad,pack-lpfph"],
     "--strategies: unknown name 'pack-lpfph'"),
    ("unknown model", ["--models", "gcn"], "--models: unknown name 'gcn'"),
    ("zero repeats", ["--repeats", "0"], "--repeats must be > 0 (got 0)"),
    ("repeats not a number", ["--repeats", "x"], "argument --repeats: invalid int value: 'x'"),
    ("unknown device", ["--device", "tpu"], "--device must be 'cpu' or 'cuda' (got 'tpu')"),
    ("cuda without a GPU", ["--device", "cuda"], "torch sees no GPU on this machine"),
    ("bad shard", ["--shard", "3/2"], "--shard must be I/N with 0 <= I < N (got '3/2')"),
    ("missing config", ["--config", "{missing_toml}"], "missing.toml does not exist"),
    ("config not TOML", ["--config", "{toml}"], "broken.toml: not valid TOML"),
    ("float budget", ["--config", "{float}"], "float.toml: [datasets.nci5k] node_slots must be a "
                                              "whole number"),
    ("wrong target", ["--config", "{target}"], "target.toml: [datasets.nci5k] target: no column "
                                               "'nope'"),
    ("empty models", ["--config", "{nomodels}"], "[datasets.nci5k] models is empty"),
    ("training limit above the cell limit", ["--config", "{timeout}"],
     "train_time_limit_s (20) must be below"),
    ("schnet on SMILES", ["--datasets", "csv:{good}", "--models", "schnet"],
     "schnet needs 3D positions and it has no 3D positions"),
    ("schnet on a 2D SDF", ["--datasets", "sdf:{flat}", "--models", "schnet"],
     "its coordinates are 2D (every z = 0)"),
    ("bad XYZ", ["--datasets", "xyz:{badxyz}"], "bad.xyz:1: expected an atom count, found 'three'"),
    ("capacity set below a validation graph", ["--config", "{packs}", "--strategies", "pack-lpfhp"],
     "pack_nodes=32 (set in the suite file) is smaller than the largest graph of the val split (60 "
     "nodes); raise it to at least 60"),
    ("negative target MAE", ["--datasets", "csv:{good}", "--target-mae", "-1"],
     "--target-mae must be > 0"),
    ("SMILES column for XYZ", ["--datasets", "xyz:{badxyz}", "--smiles-column", "s"],
     "--smiles-column applies to csv:PATH datasets only"),
    ("target without datasets", ["--target", "y"], "--target: given without --datasets"),
    ("option of the wrong type", ["--datasets", "xyz:{goodxyz}", "--option", "cutoff=abc"],
     "option cutoff must be a positive number (got 'abc')"),
    ("option not finite", ["--datasets", "xyz:{goodxyz}", "--option", "cutoff=float('nan')"],
     "option cutoff must be a positive number"),
    ("fractional neighbour count", ["--datasets", "xyz:{goodxyz}", "--option", "max_neighbors=2.5"],
     "option max_neighbors must be a positive whole number or None (got 2.5)"),
    ("XYZ target other than energy", ["--datasets", "xyz:{goodxyz}", "--target", "dipole"],
     "an XYZ file's only target is 'energy'"),
    ("empty dataset list", ["--datasets", ""], "--datasets is empty"),
    ("empty strategy list", ["--strategies", ""], "--strategies is empty"),
    ("text SD property as target", ["--datasets", "sdf:{flat}", "--target", "name"],
     "no usable molecule (3 skipped; first: line 1: non-numeric value"),
    ("results folder is a file", ["--datasets", "csv:{good}", "--out", "{afile}/res"],
     "cannot create the results"),
    ("results folder is an existing file", ["--out", "{afile}"],
     "not-a-folder: a file is there; name a folder"),
    ("results folder cannot be made", ["--out", "/proc/bench_lib_results"],
     "--out /proc/bench_lib_results: cannot create the results folder in /proc (No such file or "
     "directory)"),
    ("negative seed", ["--config", "{negative_seed}"],
     "[suite] seeds: each seed must be a whole number >= 0 (got -1)"),
    ("no seeds", ["--config", "{no_seeds}"], "[suite] seeds is empty; name at least one seed"),
    ("a seed twice", ["--config", "{seed_twice}"], "[suite] seeds: seed(s) 0 given more than once"),
    ("no training steps", ["--max-steps", "0"], "--max-steps must be > 0 (got 0)"),
    ("a negative timed least", ["--config", "{negative_timed}"],
     "[suite] min_timed_s must be >= 0 (got -1)"),
    ("a constant target", ["--datasets", "csv:{constant}"],
     "target 'y' holds one value (3) in every labelled graph of the training split: nothing to "
     "learn"),
    ("a one-row file", ["--datasets", "csv:{one}"],
     "one.csv: the training split (1 graph(s), 3 nodes) is smaller than one step"),
    ("a file smaller than one step", ["--datasets", "csv:{small}"],
     "small.csv: the training split (4 graph(s), 16 nodes) is smaller than one step of the "
     "equal-padded-budget view (512 node slots per step): every step would carry the whole split"),
    ("fewer graphs than one step", ["--config", "{real_graphs}"],
     "[datasets.nci5k]: the training split (24 graph(s), "),
    ("fewer graphs than one step (the rest)", ["--config", "{real_graphs}"],
     "is smaller than one step of the equal-real-graphs view (32 graphs per step): every step "
     "would carry the whole split; use more graphs (n_graphs, a larger file) or set a smaller "
     "graphs_per_step for it in a suite file"),
]


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("case,args,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_and_exit_2(files, tmp_path, capsys, case, args, message,
                                                dry_run):
    if case == "cuda without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    argv = [a.format(**files) for a in args] + (["--dry-run"] if dry_run else [])
    if "--config" not in argv:
        argv = ["--config", str(files["config"]), *argv]
    out = tmp_path / "results"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    try:
        rc = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        rc = exit_.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message.format(**files) in err, err
    assert "Traceback" not in err
    problems = [line for line in err.splitlines() if line.strip() and not HEARTBEAT.match(line)]
    assert problems and all(line.startswith("error: ") for line in problems), err
    assert not out.exists()  # nothing ran, nothing written


def test_every_config_problem_is_reported_with_the_file_name(files, capsys):
    assert main(["--config", str(files["several"]), "--dry-run"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith(f"error: {files['several']}: ") for line in lines)
    joined = "\n".join(lines)
    for fragment in ("[suite] has no key 'threds'", "[suite] repeats must be > 0",
                     "[datasets.nci5k] pack_nodes must be a whole number",
                     "[datasets.nci5k] has no key 'models2'"):
        assert fragment in joined


def test_a_derived_capacity_fits_the_largest_graph_of_every_split(files, capsys):
    """A small file once failed with a pack_nodes the user never set; the derived one fits every
    split."""
    argv = ["--config", str(files["config"]), "--datasets", f"csv:{files['bigval']}",
            "--strategies", "pack-lpfhp",
            "--dry-run"]
    assert main(argv) == 0, capsys.readouterr().err
    assert '"max_nodes": 64' in capsys.readouterr().out


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)


def test_a_model_plugin_that_loads_a_function_is_one_error_line(files, tmp_path, monkeypatch,
        capsys):
    from bench_lib.models import MODELS

    (tmp_path / "factory_models.py").write_text("def make_model(store):\n    return None\n")
    dist = tmp_path / "factory_models-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: factory-models\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench_lib.models]\nfactory = "
                                           "factory_models:make_model\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(MODELS, "_plugins_loaded", False)  # looked up again, as in a new process
    assert main(["--config", str(files["config"]), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if not HEARTBEAT.match(line)] == [
        f"error: entry point 'factory' in group 'bench_lib.models' (factory_models:make_model) "
        f"loads the function 'make_model', not a Model subclass: it must name the model class "
        f"itself (a subclass of {MODELS.base.__module__}.Model with name = 'factory')"], err


def test_a_table_with_a_repeated_identifier_trains_on_its_class_column(files, capsys):
    """The blood-brain-barrier case: CID (repeated, numeric) is never the target; the class column
    is, and the choice is printed."""
    rows = "\n".join(f"{k + 1}\t{MOLS[k % 10]}\t{2000 + k % 7}\t{'BBB+' if k % 3 else 'BBB-'}"
                     for k in range(200))
    path = files["ids"].with_name("bbb.tsv")
    path.write_text("NO.\tSMILES\tCID\tBBB+/BBB-\n" + rows + "\n")
    assert main(["--config", str(files["config"]), "--datasets", f"csv:{path}", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert ("target: 'BBB+/BBB-' (text labels: 2 classes, positive 'BBB+' 66.5% of 200 rows), the "
            "only column of class labels ('NO.', 'CID' left aside: identifier, row-number or split "
            "columns)") in err, err


def test_the_suggested_stats_command_names_columns_as_the_flags_take_them(files, capsys):
    path = files["ids"].with_name("skips.csv")
    path.write_text("smiles,y\n" + "\n".join(f"{MOLS[k % 10]},{k}" for k in range(200))
                    + "\nC1CC(,1\n")
    argv = ["--config", str(files["config"]), "--datasets", f"csv:{path}", "--target", "y",
            "--dry-run",
            "--no-batching-check"]
    assert main(argv) == 0
    assert "--option target_columns=y --skipped)" in capsys.readouterr().err
