"""``bench-lib models`` (or ``python -m bench_lib.models``): the registered models, and the batching
check alone.

  python -m bench_lib.models list                          # models, plugins too, and what each
  needs python -m bench_lib.models check painn --dataset qm9     # is painn safe to batch on qm9?

``check`` builds the model as the suite's cells would (the suite file's
``[models.NAME]`` parameters, ``--config`` or the default suite) and runs
:func:`bench_lib.models.check.check_batching` under every strategy of the
suite at the budgets its cells would get (the first seed's), without timing
anything. Exit status 0: safe to batch; 2: not, or a bad input, one
``error:`` line each. Like the suite, this command sits above the rest
of the package (it plans cells with :func:`bench_lib.cells.plan_suite`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from bench_lib.parsing import Parser, prog
from bench_lib.deps import BACKEND_CHOICES


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog=prog("python -m bench_lib.models"),
                    description="The registered models, and the batching check alone.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the registered models and what each needs from a dataset")
    check = sub.add_parser("check", help="the batching check of one model, before any timing")
    check.add_argument("name", help="a registered model (python -m bench_lib.models list)")
    check.add_argument("--dataset", help="a dataset name or csv:/sdf:/xyz:PATH (default: the "
                                         "suite's datasets that can feed the model)")
    check.add_argument("--config", help="suite file whose budgets and model parameters to use "
                                        "(default: the default suite)")
    check.add_argument("--strategies", help="comma-separated strategies (default: the suite's)")
    check.add_argument("--backend", choices=BACKEND_CHOICES,
                       help="default: the suite's (auto: dgl where DGL imports, else torch)")
    check.add_argument("--n-graphs", type=int,
                       help="graphs of the dataset to load (default: the suite's)")
    check.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="a dataset option, as the suite's --option")
    return parser


def _list() -> int:
    from bench_lib.models import MODELS

    for name in MODELS.names():
        cls = MODELS.get(name)
        needs = MODELS.needs_text(name)
        fields = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls.Config))
        origin = f"plugin {cls.__module__}" if MODELS.is_plugin(name) else "built-in"
        print(f"{name}: needs {needs}; {origin}; [models.{name}] {fields}")
    return 0


def _check(args) -> int:
    from bench_lib.config import ConfigError, DatasetSettings, Overrides, load_config
    from bench_lib.harness.batching import check_cells
    from bench_lib.models import MODELS
    from bench_lib.data import parse_option
    from bench_lib.stack import fit_to_stack
    from bench_lib.cells import Plan, plan_suite
    from bench_lib.suite import default_config_path

    try:
        if args.name not in MODELS:
            raise ConfigError(f"unknown model {args.name!r}; known: {', '.join(MODELS.names())}")
        strategies = (None if args.strategies is None
                      else [s for s in args.strategies.split(",") if s])
        cfg = load_config(args.config or default_config_path(), Overrides(strategies=strategies))
        have = {d.name: d for d in cfg.datasets}
        options = dict(parse_option(o) for o in args.option)
        names = [args.dataset] if args.dataset else list(have)
        datasets = []
        for name in names:
            d = have.get(name) or DatasetSettings(name=name)
            fields = {"models": (args.name,), "options": {**d.options, **options}}
            if args.n_graphs is not None:
                fields["n_graphs"] = args.n_graphs
            datasets.append(dataclasses.replace(d, **fields))
        cfg = dataclasses.replace(cfg, seeds=cfg.seeds[:1], execution=("eager",), ranks=(1,),
                                  backend=args.backend or cfg.backend, datasets=tuple(datasets))
        notes: list[str] = []
        cfg = fit_to_stack(cfg, notes, cli_backend=args.backend, cli_strategies=strategies,
                           cli_datasets=[args.dataset] if args.dataset else None)
        datasets = list(cfg.datasets)
        cells, stores = [], {}
        # without --dataset, the datasets that cannot feed the model are left out
        for d in datasets:
            try:
                cells += plan_suite(dataclasses.replace(cfg, datasets=(d,)), notes, stores).cells
            except ConfigError as err:
                if args.dataset:
                    raise
                notes += [f"{d.name}: left out ({p})" for p in err.problems]
        if not cells:
            raise ConfigError(
                f"no dataset of {args.config or 'the default suite'} can feed {args.name}; "
                "name one with --dataset")
        for note in notes:
            print(note, file=sys.stderr)
        problems = check_cells(cells, say=print, load=Plan(cells, stores, {}).store_of)
    except ConfigError as err:
        problems = err.problems
    except ValueError as err:  # an unknown dataset or strategy name, a bad option
        problems = [str(err)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _list() if args.command == "list" else _check(args)

