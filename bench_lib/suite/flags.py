"""The suite's command line: its flags, ``--help``'s examples, ``--list``, the default suite
file and ``--shard``."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_lib.config import ConfigError
from bench_lib.data import parse_option
from bench_lib.deps import BACKEND_CHOICES, dgl_available
from bench_lib.harness.launch import LAUNCHERS
from bench_lib.parsing import Parser, add_table_flags, prog

__all__ = ["BENCHMARKS", "EXAMPLES", "default_config_path", "parse_shard", "command_line",
           "print_list"]


BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def default_config_path() -> Path:
    """``benchmarks/default.toml`` of the source checkout."""
    path = BENCHMARKS / "default.toml"
    if not path.exists():
        raise ConfigError(f"no default suite at {path}; pass --config FILE")
    return path


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must be I/N with 0 <= I < N (got {text!r})") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard must be I/N with 0 <= I < N (got {text!r})")
    return i, n


#: ``--help``'s examples after ``python -m bench_lib.suite``, each with what it shows; the README's
#: suite commands are among them (a test checks).
_EXAMPLES = [
    ('', 'the default suite (embedded data, two seeds: the answer at a glance)'),
    ('--config benchmarks/reference.toml', 'the same cells with five seeds (make reference)'),
    ('--config benchmarks/smoke.toml', ''),
    ('--datasets nci5k --strategies pad,pack-lpfhp --repeats 5', ''),
    ('--datasets csv:data/ESOL.csv --target "measured log solubility in mols per litre"', ''),
    ('--datasets csv:data/BBBP.csv --target p_np --id-column name --target-value 0.85', ''),
    ("--datasets csv:data/B3DB_classification.tsv --target 'BBB+/BBB-' --target-value 0.8", ''),
    ('--datasets sdf:data/confs.sdf,xyz:data/clusters/ --option cutoff=5.0', ''),
    ('--list', 'datasets, strategies (plugins too), models'),
    ('--dry-run', 'the cells, without running them'),
    ('--shard 0/4', 'every 4th group of cells, for scheduler jobs'),
    ('--device cuda', 'the plain-torch backend on a GPU'),
    ('--config benchmarks/compile.toml', 'eager vs torch.compile, every strategy'),
    ('--config benchmarks/compile-routes.toml', 'pad or mark dynamic: every compile route'),
    ('--execution eager,compile --prefetch 2', 'compiled steps, batches built ahead'),
    ('--config benchmarks/ddp.toml', '1 and 2 data-parallel ranks (torchrun)'),
    ('--datasets nci5k --ranks 1,2 --strategies pad,dynamic,pack-lpfhp', ''),
    ('--launcher slurm --partition gpu --gpus-per-job 1', 'one Slurm task per group'),
    ('--launcher slurm --no-wait --time-min 120 --array-parallelism 16', ''),
    ('--launcher submitit-local --config benchmarks/smoke.toml', 'the same jobs here'),
]


def _example(args: str, why: str) -> str:
    command = f"  python -m bench_lib.suite {args}".rstrip()
    return f"{command:<58} # {why}\n" if why else f"{command}\n"


EXAMPLES = ("examples:\n" + "".join(_example(args, why) for args, why in _EXAMPLES)
            + "  python -m bench_lib.report results/default-reference  # a report from results "
              "alone\n\n")


EXAMPLES += """\
Local files (csv:PATH, sdf:PATH, xyz:PATH) join the config's settings with
its defaults; the model is chosen by what the data has (gin for 2D molecules,
schnet for 3D) unless --models names one. A CSV may be comma, tab or semicolon
separated and compressed (.gz, .bz2, .xz, .zip); without --target, the one
numeric column is the target, and a file with none runs throughput and memory
cells only. Text labels are classes; a column of two values is binary (said
when the suite starts; --task regression regresses it). --target-value X is
the validation score to reach in the metric's direction (ROC-AUC for binary,
accuracy for multiclass, average precision for multilabel, MAE for regression;
--target-metric chooses). Every problem is reported before any cell runs, one error: line
each, exit status 2.
"""


def command_line() -> argparse.ArgumentParser:
    """The suite's flags, in the order ``--help`` shows them."""
    parser = Parser(prog=prog("python -m bench_lib.suite"),
                     description="Run a benchmark suite (every batching strategy on the same GNN, "
                                 "interleaved), then write its report.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None,
                        help="suite TOML (default: benchmarks/default.toml)")
    parser.add_argument("--datasets", help="comma-separated datasets: the config's, any of --list, "
                                           "or csv:PATH / sdf:PATH / xyz:PATH (local files)")
    _dataset_flags(parser)
    parser.add_argument("--strategies", help="comma-separated strategies (overrides the config)")
    parser.add_argument("--models", help="comma-separated models, run on every dataset instead of "
                                         "its list (a dataset that cannot feed one of them skips "
                                         "it, with the reason; one that can feed none is an error)")
    parser.add_argument("--repeats", type=int, help="timed repeats per cell")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="training steps a time-to-accuracy run may take to reach its target "
                             "([train] max_steps)")
    parser.add_argument("--device", help="cpu or cuda (cuda runs the plain-torch backend)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES,
                        help="the models' message passing: torch (plain torch operators), dgl "
                             "(DGL's kernels; needs bench_lib[dgl]) or auto: dgl where DGL "
                             "imports, else torch (default: the suite file's backend, auto where "
                             "it names none)")
    parser.add_argument("--execution", help="comma-separated: eager, compile, compile-dynamic, "
                                            "cudagraphs (compiled cells need backend torch; "
                                            "cudagraphs needs cuda)")
    parser.add_argument("--prefetch", type=int, metavar="N",
                        help="batches built ahead of the step in a background thread (0: inline)")
    parser.add_argument("--data-dir", help="root of downloaded datasets (OGB layout, zinc, "
                                           "peptides-func); default: $BENCH_LIB_DATA or "
                                           "~/.cache/bench_lib/data")
    parser.add_argument(
        "--out", type=Path, help="results directory (default: results/<suite name>)")
    parser.add_argument("--report-dir", type=Path,
                        help="report directory (default: reports/<suite name>, or OUT/report with "
                             "--out)")
    parser.add_argument("--list", action="store_true",
                        help="print datasets, strategies and models, then exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the cells without running them")
    parser.add_argument("--rerun-failed", action="store_true",
                        help="run again the cells recorded as failed")
    parser.add_argument("--shard", help="I/N: run only groups I, I+N, I+2N, ... (0 <= I < N)")
    parser.add_argument("--ranks", help="comma-separated data-parallel processes per cell to "
                                        "sweep, e.g. 1,2 (torchrun; ranks > 1 runs eager cells "
                                        "only)")
    _launch_flags(parser)
    parser.add_argument("--no-report", action="store_true",
                        help="do not write the report at the end")
    parser.add_argument("--no-batching-check", action="store_true",
                        help="time the models without the batching check (python -m "
                             "bench_lib.models check NAME runs it alone): for a model the check "
                             "cannot run, never to hide a leak")
    return parser


def _dataset_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that apply to each dataset named in ``--datasets``."""
    parser.add_argument("--target", action="append", default=None, metavar="COL",
                        help="target column(s) of the --datasets (repeatable or a comma list; the "
                             "first is trained)")
    parser.add_argument("--target-mae", type=float, default=None, metavar="X",
                        help="validation MAE that counts as reached (time to accuracy) for the "
                             "--datasets")
    parser.add_argument("--task", choices=("regression", "binary", "multiclass", "multilabel"),
                        help="what the --datasets' target is (default: the dataset's own, or "
                             "inferred: text labels are classes, a column of two values is binary)")
    parser.add_argument("--target-metric", metavar="M",
                        help="validation metric of the --datasets: mae, rmse, "
                             "rocauc, ap, accuracy (default: the task's; OGB's for an OGB set)")
    parser.add_argument("--target-value", type=float, default=None, metavar="X",
                        help="validation score that counts as reached, in the metric's direction "
                             "(higher for rocauc, ap, accuracy)")
    add_table_flags(parser)
    parser.add_argument("--option", type=parse_option, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="dataset option for the --datasets (e.g. cutoff=5.0, "
                             "max_neighbors=None)")


def _launch_flags(parser: argparse.ArgumentParser) -> None:
    """Where the cells run: ``--launcher`` and the Slurm flags."""
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local",
                        help="local: run here (default); slurm: a Slurm job array through "
                             "submitit, one task per group, records merged back; submitit-local: "
                             "the same jobs on this machine, all at once (to try the path; its "
                             "timings contend with each other)")
    parser.add_argument("--partition", help="--launcher slurm: Slurm partition (else [slurm] "
                                            "partition)")
    parser.add_argument("--time-min", type=int,
                        help="--launcher slurm: minutes per task (one group of cells)")
    parser.add_argument("--gpus-per-job", type=int, help="--launcher slurm: GPUs per task")
    parser.add_argument("--array-parallelism", type=int,
                        help="--launcher slurm: tasks running at once")
    parser.add_argument("--no-wait", action="store_true",
                        help="--launcher slurm: exit once submitted; `python -m bench_lib.report "
                             "OUT` merges later")


def print_list() -> None:
    from bench_lib.data import DATASETS, DGL_DATASETS, FILE_KINDS
    from bench_lib.models import MODELS
    from bench_lib.strategies import STRATEGIES

    print("datasets:  ", ", ".join(f"{n} (needs bench_lib[dgl])" if n in DGL_DATASETS
                                   and not dgl_available()
                                   else n for n in sorted(DATASETS)))
    print("local files:", ", ".join(f"{k}:PATH" for k in FILE_KINDS),
          "(csv: a SMILES table, .gz/.bz2/.xz/.zip too; sdf: molecules, 3D or 2D; xyz: frames, a "
          "folder or a glob)")
    def shapes(cls) -> str:
        if cls.static_shape:
            return "static shapes"
        return ("a few bucket shapes" if "buckets" in getattr(cls, "__dataclass_fields__", {})
                else "dynamic shapes")

    dgl = "" if dgl_available() else "; needs bench_lib[dgl]"
    print("strategies:", ", ".join(
        f"{n} ({shapes(STRATEGIES.get(n))}{dgl if STRATEGIES.get(n).needs_dgl else ''})"
        for n in STRATEGIES.names()))
    def needs(name: str) -> str:
        plugin = f"; plugin {MODELS.get(name).__module__}" if MODELS.is_plugin(name) else ""
        return f"{name} ({MODELS.needs_text(name)}{plugin})"

    print("models:    ", ", ".join(needs(n) for n in MODELS.names()))

