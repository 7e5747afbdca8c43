"""Does the quick default suite give the full reference's answer?

    python benchmarks/quick.py RESULTS [--reference results/default-reference]
                               [--config benchmarks/default.toml] [--out FILE.md]

``make bench`` runs ``benchmarks/default.toml``: the reference suite's cells
(``benchmarks/reference.toml``) with fewer seeds. Two checks, per dataset,
model and view, for real graphs/s, steps and time to target (the columns the
report decides):

1. **leaders**: no leader of the quick run (``RESULTS``) is a strategy the
   reference decides slower than its own leader;
2. **pairs**: of the pairs the reference decides (each strategy against the
   reference's leader: faster, slower or equivalent), how many the quick run
   decides the same way, at the quick run's own family-wise level
   (:func:`bench_lib.report.tables.versus`). The issue asks for at least half.

The same two checks on a *replay*: the reference's own records cut to the
quick suite's seeds, timed seeds and repeats (``--config``), which shows what
the fewer seeds alone cost, without a second run's drift.

Prints the Markdown and writes it to ``--out`` (default
``RESULTS/against-reference.md``). Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench_lib.config import load_config  # noqa: E402
from bench_lib.report.results import Results  # noqa: E402
from bench_lib.report.tables import DECIDED, decide, json_field, summarise, versus  # noqa: E402

NAMES = {"graphs_per_s": "real graphs/s", "steps_to_target": "steps to target",
         "time_to_target_s": "time to target"}


def tables(res: Results, cut=None) -> dict[tuple, pd.DataFrame]:
    """``(dataset, model, view)`` -> that table's records (``cut`` applied)."""
    return {(d, m, v): (cut(g) if cut else g) for d in res.datasets() for m, v, g in res.groups(d)}


def replay(seeds: list[int], timed: int, repeats: int):
    """The reference's records as a suite of ``seeds`` (the first ``timed`` timed, ``repeats``
    repeats each) would have made them: later seeds dropped, untimed seeds' timings removed (the
    report fills their time to target from the timed ones'), repeats and windows cut."""
    def cut(g: pd.DataFrame) -> pd.DataFrame:
        g = g[g.seed.isin(seeds)].copy()
        untimed = ~g.seed.isin(seeds[:timed])
        g.loc[untimed, "repeats"] = 0
        for col in ("window_graphs_per_s", "repeat_graphs_per_s"):
            g[col] = g[col].astype(object)
            g.loc[untimed, col] = ""
        g.loc[untimed, ["graphs_per_s", "time_to_target_s"]] = np.nan
        windows = pd.to_numeric(g["windows"], errors="coerce").fillna(0).astype(int)
        g["window_graphs_per_s"] = [json.dumps(json_field(v, [])[:repeats * w]) if v else v
                                    for v, w in zip(g["window_graphs_per_s"], windows)]
        g["repeat_graphs_per_s"] = [json.dumps(json_field(v, [])[:repeats]) if v else v
                                    for v in g["repeat_graphs_per_s"]]
        return g
    return cut


def check(reference: dict, quick: dict, margin: float) -> dict:
    """The two checks of the module's docstring over matching tables of ``reference`` and
    ``quick``."""
    out = {"leaders": [], "bad_leaders": [], "pairs": {c: [0, 0, 0] for c in DECIDED},
           "moved": []}
    for key, g in reference.items():
        if key not in quick:
            continue
        q = quick[key]
        ref_verdicts = decide(g, summarise(g), margin)
        quick_summary = summarise(q)
        quick_verdicts = decide(q, quick_summary, margin)
        for col in DECIDED:
            lead, against = ref_verdicts[col]
            qlead = quick_verdicts[col][0]
            if lead is None:
                continue
            out["leaders"].append((key, col, lead, qlead))
            if qlead in against and against[qlead].word == "slower":
                out["bad_leaders"].append((key, col, qlead, lead))
            for s, v in against.items():
                if not v.decided:
                    continue
                w = versus(q, s, lead, col, margin, summary=quick_summary)
                same, decided = w is not None and w.word == v.word, w is not None and w.decided
                counts = out["pairs"][col]
                counts[0] += same
                counts[1] += 1
                counts[2] += decided and not same
                if not same:
                    what = DECIDED[col]
                    out["moved"].append((key, col, s, lead, v.short(what),
                                         w.short(what) if w else "—"))
    return out


def _label(key: tuple) -> str:
    return " / ".join(key)


def section(title: str, result: dict) -> list[str]:
    same = sum(c[0] for c in result["pairs"].values())
    total = sum(c[1] for c in result["pairs"].values())
    flipped = sum(c[2] for c in result["pairs"].values())
    lines = [f"## {title}", "",
             f"- leaders: {len(result['bad_leaders'])} of {len(result['leaders'])} leaders are "
             f"strategies the reference decides slower"
             + "".join(f"; {_label(k)} {NAMES[c]}: `{q}` (reference leader `{r}`)"
                       for k, c, q, r in result["bad_leaders"]),
             f"- pairs: {same} of {total} pairs the reference decides are decided the same way "
             f"({same / total:.0%}); {flipped} decided otherwise, the rest undecided"
             if total else "- pairs: the reference decides none", ""]
    lines += ["| column | decided in the reference | the same | decided otherwise |",
              "|---|---:|---:|---:|"]
    lines += [f"| {NAMES[c]} | {n} | {s} | {f} |" for c, (s, n, f) in result["pairs"].items()]
    lines += ["", "Leaders, reference against this run:", "",
              "| dataset / model / view | column | reference | this run |", "|---|---|---|---|"]
    lines += [f"| {_label(k)} | {NAMES[c]} | `{r}` | `{q}` |" for k, c, r, q in result["leaders"]]
    if result["moved"]:
        lines += ["", "Pairs not decided the same way:", "",
                  "| dataset / model / view | column | strategy | against | reference | this run |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_label(k)} | {NAMES[c]} | `{s}` | `{lead}` | {a} | {b} |"
                  for k, c, s, lead, a, b in result["moved"]]
    return lines + [""]


def passed(result: dict) -> bool:
    same = sum(c[0] for c in result["pairs"].values())
    total = sum(c[1] for c in result["pairs"].values())
    return not result["bad_leaders"] and 2 * same >= total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the quick suite's results directory")
    parser.add_argument("--reference", type=Path, default=ROOT / "results" / "default-reference")
    parser.add_argument("--config", type=Path, default=ROOT / "benchmarks" / "default.toml")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    ref, quick = Results.read(args.reference), Results.read(args.results)
    cfg = load_config(args.config)
    seeds = list(cfg.seeds)
    timed = len(seeds) if cfg.timed_seeds is None else cfg.timed_seeds
    env = quick.environment
    lines = [f"# `{args.results.name}` against `{args.reference.name}`", "",
             f"`python benchmarks/quick.py {args.results.as_posix()}` (reference "
             f"`{args.reference.name}`, {len(ref.records)} records, seeds "
             f"{sorted(set(ref.records.seed))}; this run {len(quick.records)} records, seeds "
             f"{sorted(set(quick.records.seed))}, {env.get('cpu', '?')}, commit "
             f"{str(env.get('git_commit'))[:7]}). Checks: no leader of this run is a strategy the "
             f"reference decides slower; at least half of the pairs the reference decides (each "
             f"strategy against its leader) are decided the same way here.", ""]
    run = check(tables(ref), tables(quick), ref.margin)
    lines += section("This run against the reference", run)
    played = check(tables(ref), tables(ref, replay(seeds, timed, cfg.repeats)), ref.margin)
    lines += section(f"The reference replayed with seeds {seeds} ({timed} timed, {cfg.repeats} "
                     f"repeats)", played)
    text = "\n".join(lines)
    (args.out or args.results / "against-reference.md").write_text(text)
    print(text)
    return 0 if passed(run) and passed(played) else 1


if __name__ == "__main__":
    sys.exit(main())
