"""How close ``python -m bench_lib.advise`` comes to what the suite measures.

    python benchmarks/advise.py [--datasets nci5k,qm9] [--out results/advise]
                                [--reference results/default-reference]

Per dataset, as a user would: ``python -m bench_lib.advise DATASET`` (timed
wall to wall, interpreter start included), then the default suite's cells of
that dataset for the first seed, measured by the suite's own runner (the same
parameters, interleaved; throughput only: advise does not predict time to
accuracy), then advise again. Per cell: each advise run's predicted graphs/s
against the suite's measured graphs/s (the median of its timed repeats),
error = predicted / measured - 1; the first run's error is the acceptance.

This machine's speed drifts over minutes, and a prediction made at one time
cannot see the speed at another. To tell the cost model's own error from that
drift, advise's calibration cells (its ``dynamic-budget`` batches at its
calibration slot counts, as suite cells) run in the same group as the suite's
cells, taking turns with them; the cost model refitted on their step times
(*refit*) predicts the suite's cells measured in the same turns. The first
advise run is also set against the committed reference run's median over both
seeds (``--reference``), measured on another day.

Writes ``results.json``, ``results.md`` and the first advise output
(``advice-DATASET.md``) into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tables import table  # noqa: E402  (benchmarks/_tables.py, beside this script)

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 60.0  # advise's promise on a 2-core machine


def _advise(dataset: str) -> tuple[dict, float, str]:
    """One ``python -m bench_lib.advise`` run: its JSON, its wall seconds, its Markdown."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "advice.json"
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench_lib.advise", dataset, "--json",
                               str(path)], cwd=ROOT,
                              capture_output=True, text=True,
                              env={**os.environ, "OUTDATED_IGNORE": "1"})
        wall = time.perf_counter() - t0
        if done.returncode:
            raise RuntimeError(f"advise {dataset} failed:\n{done.stderr[-2000:]}")
        return json.loads(path.read_text()), wall, done.stdout


def _measure(dataset: str, advice: dict) -> tuple[list[dict], list[dict], list[dict]]:
    """The default suite's cells of ``dataset`` (first seed, throughput only) as the suite runs them
    (one interleaved group of the suite's runner, nothing else in it), then the same cells again
    with advise's calibration cells at ``advice``'s calibration slot counts in their turns: ``(suite
    records, the suite's cells beside the calibration cells, calibration records)``."""
    from bench_lib.advise import calibration_spec, suite_config
    from bench_lib.harness.runner import run_group
    from bench_lib.suite import expand_cells

    cfg = suite_config(dataset)  # the cells advise plans, trained to no target
    cfg = dataclasses.replace(
        cfg, datasets=tuple(dataclasses.replace(d, target_mae=None,
                                                target_value=None) for d in cfg.datasets))
    cells = expand_cells(cfg)
    points = [(int(p["node_slots_per_step"]), int(p["edge_slots_per_step"]),
               int(p["graph_slots_per_step"]))
              for p in advice["cost_model"]["points"]]
    calibration = [calibration_spec(cells[0], *p) for p in points]
    suite = run_group(cells)
    together = run_group(cells + calibration)
    return suite, together[:len(cells)], together[len(cells):]


def _key(strategy: str, views) -> str:
    return f"{strategy} {'+'.join(views)}"


def _reference(path: Path, dataset: str, model: str) -> dict[str, dict]:
    """Strategy and view -> the committed run's graphs/s median over both seeds (every timed repeat)
    of ``model``'s cells (the reference run may train several models on a dataset)."""
    import pandas as pd

    from bench_lib.report.tables import in_view, throughput

    df = pd.read_csv(path / "records.csv").drop_duplicates("cell_id", keep="last")
    df = df[(df.dataset == dataset) & (df.status == "ok") & (df.model == model)]
    out = {}
    for view in ("equal-padded-budget", "equal-real-graphs"):
        for strategy, rows in in_view(df, view).groupby("strategy"):
            est = throughput(rows)
            out[f"{strategy} {view}"] = {"graphs_per_s": est.value, "seeds": len(rows)}
    return out


def _row(rec: dict) -> dict:
    """A record's planned slots and graphs per step, under the names advise's rows use."""
    return {k: float(rec[k]) for k in ("node_slots_per_step", "edge_slots_per_step",
                                       "graph_slots_per_step",
                                       "graphs_per_step_mean")}


def compare(dataset: str, out: Path, reference: Path) -> dict:
    """One dataset: advise, the suite's cells with advise's calibration cells in turns, advise
    again."""
    from bench_lib.advise import fit_cost_model, predict

    first, wall1, text = _advise(dataset)
    (out / f"advice-{dataset}.md").write_text(text)
    t0 = time.perf_counter()
    records, beside, calibration = _measure(dataset, first)
    group_s = time.perf_counter() - t0
    second, wall2, _ = _advise(dataset)
    failed = [r for r in calibration if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"{dataset}: calibration cell(s) failed: {failed[0]['error']}")
    cost = fit_cost_model([_row(r) | {"step_s": float(r["step_s"])} for r in calibration])
    ref = (_reference(reference, dataset, first["model"]) if (reference / "records.csv").exists()
           else {})
    # matched on strategy and views (advise's one model): the measured cells train to no target,
    # so their cell ids differ from advise's
    def by(advice):
        return {_key(r["strategy"], r["views"]): r for r in advice["rows"]
                if r["scale"] == 1.0}
    p1, p2 = by(first), by(second)
    cells = []
    alongside = {r["cell_id"]: r for r in beside}
    for rec in records:
        views = json.loads(rec["views"]) if isinstance(rec["views"], str) else list(rec["views"])
        key = _key(rec["strategy"], views)
        measured = float(rec["graphs_per_s"]) if rec["status"] == "ok" else float("nan")
        if not measured > 0 or key not in p1 or key not in p2:
            cells.append({"cell": key, "status": rec["status"] if rec["status"] != "ok"
                          else "not predicted"})
            continue
        step, model = predict(cost, _row(rec))
        near = alongside.get(rec["cell_id"], {})
        measured_near = float(near["graphs_per_s"]) if near.get("status") == "ok" else float("nan")
        row = {"cell": key, "status": "ok", **_row(rec), "measured": measured,
               "measured_beside": measured_near,
               "measured_step_s": float(near.get("step_s", float("nan"))), "model": model,
               "model_step_s": step,
               "model_error": model / measured_near - 1,
               "planned_as_advise": all(abs(p[key][c] - v) < 1e-9 for p in (p1, p2)
                                        for c, v in _row(rec).items())}
        for k, p in (("advise_1", p1), ("advise_2", p2)):
            row[k] = p[key]["predicted_graphs_per_s"]
            row[f"{k}_error"] = row[k] / measured - 1
        refs = [ref[f"{rec['strategy']} {v}"]["graphs_per_s"] for v in views
                if f"{rec['strategy']} {v}" in ref]
        if refs:
            row["reference"] = statistics.median(refs)
            row["advise_1_reference_error"] = row["advise_1"] / row["reference"] - 1
        cells.append(row)
    return {"dataset": dataset, "model": first["model"], "advise_wall_s": [wall1, wall2],
            "criterion": criterion(records, p1),
            "group_s": group_s,
            "cost_model": dataclasses.asdict(cost),
            "advise_cost_models": [first["cost_model"], second["cost_model"]], "cells": cells,
            **errors(cells), "fastest": _leaders([c for c in cells if c["status"] == "ok"])}


#: The errors summarised: advise as run before the suite's cells (the acceptance), after them, the
#: cost model refitted in the suite's own turns, and advise's first run against the reference run.
ERRORS = ("advise_1_error", "advise_2_error", "model_error", "advise_1_reference_error")


def errors(cells: list[dict]) -> dict:
    """Median signed error, median and largest |error| of each of :data:`ERRORS` over the cells that
    have it (None: none). The signed median is the bias: a model that errs both ways has it near
    0."""
    out = {}
    for key in ERRORS:
        signed = [c[key] for c in cells if c["status"] == "ok" and key in c and c[key] == c[key]]
        vals = [abs(v) for v in signed]
        out[f"median_{key}"] = statistics.median(signed) if signed else None
        out[f"median_abs_{key}"] = statistics.median(vals) if vals else None
        out[f"largest_abs_{key}"] = max(vals) if vals else None
    return out


def summary(datasets: list[dict]) -> dict:
    cells = [c for d in datasets for c in d["cells"]]
    return {"cells": sum(c["status"] == "ok" for c in cells),
            "not_ok": sum(c["status"] != "ok" for c in cells),
            **errors(cells), "slowest_advise_s": max(w for d in datasets
                                                     for w in d["advise_wall_s"]),
            "advise_runs_apart": max(abs(c["advise_2"] / c["advise_1"] - 1) for c in cells
                                     if c["status"] == "ok")}


def _leaders(ok: list[dict]) -> dict:
    """Per view: the strategy each advise run, the refitted cost model and the suite put first."""
    out = {}
    for view in ("equal-padded-budget", "equal-real-graphs"):
        mine = [c for c in ok if view in c["cell"].split(" ", 1)[1].split("+")]
        if mine:
            def best(key):
                return max(mine, key=lambda c: c[key])["cell"].split(" ")[0]
            out[view] = {k: best(k) for k in ("advise_1", "advise_2", "model", "measured")}
    return out


#: What advise is for: of the strategy pairs of a dataset and view (each strategy against the
#: measured leader), the share whose predicted ratio lies inside the measured 95% interval.
TARGET_INSIDE = 0.80


def _frame(records: list[dict]):
    """Runner records as the report reads them from records.csv (lists and dicts as JSON)."""
    import pandas as pd

    return pd.DataFrame([{k: json.dumps(v) if isinstance(v, (list, dict)) else v
                          for k, v in r.items()} for r in records])


def criterion(records: list[dict], predicted: dict[str, dict]) -> list[dict]:
    """Per view of the suite's cells ``records`` (one interleaved group): the measured leader of
    real graphs/s (:func:`bench_lib.report.tables.decide`), the strategy advise (``predicted``: its
    rows by :func:`_key`) names fastest and its verdict against that leader, and each other
    strategy's predicted ratio to the leader against the measured ratio's interval (the report's:
    paired turns, family-wise 95%, :func:`bench_lib.report.tables.versus`)."""
    from bench_lib.report.tables import decide, in_view, summarise, versus
    from bench_lib.verdicts import MARGIN

    df = _frame(records)
    df = df[df.status == "ok"]
    out = []
    for view in ("equal-padded-budget", "equal-real-graphs"):
        g = in_view(df, view)
        guess = {s: r["predicted_graphs_per_s"] for s in dict.fromkeys(g.strategy)
                 for key, r in predicted.items()
                 if key.split(" ", 1)[0] == s and view in key.split(" ", 1)[1].split("+")}
        if g.empty or not guess:
            continue
        summary = summarise(g)
        lead = decide(g, summary, MARGIN)["graphs_per_s"][0]
        named = max(guess, key=guess.get)
        verdict = (versus(g, named, lead, "graphs_per_s", summary=summary) if named != lead
                   else None)
        pairs = []
        for s in guess:
            if s == lead or lead not in guess:
                continue
            v = versus(g, s, lead, "graphs_per_s", summary=summary)
            ratio = guess[s] / guess[lead]
            pairs.append({"strategy": s, "predicted": ratio,
                          "measured": v.ratio if v else None, "lo": v.lo if v else None,
                          "hi": v.hi if v else None,
                          "inside": bool(v and v.lo <= ratio <= v.hi)})
        inside = sum(p["inside"] for p in pairs)
        out.append({"view": view, "leader": lead, "named": named,
                    "named_verdict": verdict.short() if verdict else "leader",
                    "named_slower": bool(verdict and verdict.word == "slower"),
                    "pairs": pairs, "inside": inside,
                    "holds": (not (verdict and verdict.word == "slower")
                              and bool(pairs) and inside >= TARGET_INSIDE * len(pairs))})
    return out


def _pct(x, sign: bool = True) -> str:
    return "-" if x is None else f"{x:+.1%}" if sign else f"{x:.1%}"


def _cell_row(dataset: str, c: dict) -> list[str]:
    """One cell's row of the results table."""
    if c["status"] != "ok":
        return [dataset, f"`{c['cell']}`", c["status"]] + ["-"] * 8
    return [dataset, f"`{c['cell']}`", f"{c['measured']:,.0f}",
            f"{c['advise_1']:,.0f} / {c['advise_2']:,.0f}",
            f"{_pct(c['advise_1_error'])} / {_pct(c['advise_2_error'])}",
            f"{c['model']:,.0f}", _pct(c["model_error"]),
            f"{c['model_step_s'] * 1e3:.1f} / {c['measured_step_s'] * 1e3:.1f}",
            f"{c['reference']:,.0f}" if "reference" in c else "-",
            _pct(c.get("advise_1_reference_error")),
            "yes" if c["planned_as_advise"] else "no"]


def _criterion_lines(result: dict) -> list[str]:
    """The section on what advise is for: per dataset and view, :func:`criterion`'s verdicts."""
    lines = ["", "## What advise is for: naming the strategy", "",
              f"Per dataset and view, the measured leader of real graphs/s (the suite's cells "
              f"above, one interleaved group), the strategy advise 1 names fastest and the suite's "
              f"verdict on it against that leader, and for each other strategy whether advise's "
              f"predicted ratio to the leader lies inside the measured ratio's 95% interval "
              f"(paired turns, family-wise, as the report's). The criterion: the named strategy "
              f"is never decided slower, and at least {TARGET_INSIDE:.0%} of the ratios lie "
              f"inside.", "",
              "| dataset | view | measured leader | advise names | its verdict | predicted ratios "
              "inside | holds |", "|---|---|---|---|---|---:|---|"]
    for d in result["datasets"]:
        for c in d.get("criterion", []):
            lines.append(f"| {d['dataset']} | {c['view']} | `{c['leader']}` | `{c['named']}` | "
                         f"{c['named_verdict']} | {c['inside']} of {len(c['pairs'])} | "
                         f"{'yes' if c['holds'] else 'no'} |")
    lines += ["", "| dataset | view | strategy | predicted ratio to the leader | measured [95%] |",
              "|---|---|---|---:|---:|"]
    for d in result["datasets"]:
        for c in d.get("criterion", []):
            lines += [f"| {d['dataset']} | {c['view']} | `{p['strategy']}` | "
                      f"{p['predicted']:.3f} | "
                      + (f"{p['measured']:.3f} [{p['lo']:.3f}-{p['hi']:.3f}]"
                         if p["measured"] is not None else "—") + " |" for p in c["pairs"]]
    held = [c["holds"] for d in result["datasets"] for c in d.get("criterion", [])]
    lines += ["", f"The criterion holds in {sum(held)} of {len(held)} dataset-views. Absolute "
                  f"graphs/s below are this machine's, and its speed drifts between runs minutes "
                  f"apart:", ""]
    return lines


def markdown(result: dict) -> str:
    """The results as Markdown (``tests/report/test_advise_reference.py`` checks it against the
    JSON)."""
    env, s = result["environment"], result["summary"]
    lines = ["# advise against the suite", "",
             f"`{result['command']}` at commit {env.get('git_commit', '?')[:7]} on "
             f"{env.get('cpu', '?')} ({env.get('cpu_count', '?')} CPUs). Per dataset: `python -m "
             f"bench_lib.advise` (*advise 1*), then the default suite's cells (first seed, "
             f"throughput only) measured by the suite's runner as the suite runs them (one group, "
             f"nothing else in it), then advise again (*advise 2*). Error: predicted / measured - "
             f"1. Then the suite's cells ran again, taking turns with advise's calibration cells "
             f"(its slot counts, run by the suite's runner); the cost model refitted on those "
             f"(*refit*), against the suite's cells of that group, separates the model's error "
             f"from the machine's drift between runs. Advise 1 is also set against the committed "
             f"reference run's median of its timed seeds (`{result['reference']}`), measured on "
             f"another day.",
             ""]
    rows = [_cell_row(d["dataset"], c) for d in result["datasets"] for c in d["cells"]]
    lines += [table(rows, ["dataset", "cell", "suite graphs/s", "advise 1 / 2",
                           "advise 1 / 2 error", "refit",
                           "refit error", "step ms refit / suite", "reference",
                           "advise 1 vs reference",
                           "advise planned the same slots"]), ""]
    lines += ["| dataset | model | advise wall s (1st, 2nd) | group s | median abs error: advise 1 "
              "| advise 2 | refit | advise 1 vs reference | fastest: advise 1 / advise 2 / refit / "
              "suite |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for d in result["datasets"]:
        fastest = "; ".join(f"{v}: " + " / ".join(f"`{x[k]}`"
                                                  for k in ("advise_1", "advise_2", "model",
                                                            "measured"))
                            for v, x in d["fastest"].items())
        lines.append((f"| {d['dataset']} | {d['model']} | {d['advise_wall_s'][0]:.1f}, "
                      f"{d['advise_wall_s'][1]:.1f} | {d['group_s']:.0f} | ")
                     + " | ".join(_pct(d[f"median_abs_{k}"], sign=False) for k in ERRORS)
                     + f" | {fastest} |")
    lines += _criterion_lines(result)
    lines += [f"Over all {s['cells']} cells ({s['not_ok']} not measured or not predicted): "
                  f"median error of advise as run before the suite "
                  f"{_pct(s['median_advise_1_error'])}, median "
                  f"abs error {_pct(s['median_abs_advise_1_error'], False)} (largest "
                  f"{_pct(s['largest_abs_advise_1_error'], False)}), after it "
                  f"{_pct(s['median_abs_advise_2_error'], False)}; "
                  f"the refitted cost model {_pct(s['median_abs_model_error'], False)} (largest "
                  f"{_pct(s['largest_abs_model_error'], False)}); advise 1 against the reference "
                  f"run {_pct(s['median_abs_advise_1_reference_error'], False)}. The two advise "
                  f"runs of a cell differ by up to {s['advise_runs_apart']:.1%}; slowest advise "
                  f"{s['slowest_advise_s']:.1f} s wall (limit {LIMIT_S:.0f} s).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="nci5k,qm9")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "advise")
    parser.add_argument("--reference", type=Path, default=ROOT / "results" / "default-reference")
    args = parser.parse_args()
    from bench_lib.harness.environment import environment

    args.out.mkdir(parents=True, exist_ok=True)
    datasets = []
    for name in args.datasets.split(","):
        print(f"{name}: advise, the suite's cells, advise", file=sys.stderr, flush=True)
        datasets.append(compare(name, args.out, args.reference))
    def shown(p):
        return (p.resolve().relative_to(ROOT).as_posix() if p.resolve().is_relative_to(ROOT)
                else str(p))
    result = {"command": f"python benchmarks/advise.py --datasets {args.datasets} --out "
                         f"{shown(args.out)}",
              "reference": shown(args.reference), "environment": environment(),
              "datasets": datasets,
              "summary": summary(datasets)}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    (args.out / "results.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    sys.exit(main())
