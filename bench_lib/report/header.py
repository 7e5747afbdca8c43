"""The report's opening sections: where the cells were measured, the suite's settings (and how to
read its intervals and verdicts, :data:`INTERVALS`), and the datasets' sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench_lib.report.names import display_name, wrap_lines
from bench_lib.report.results import Results
from bench_lib.report.tables import in_view
from bench_lib.strategies.budget import VIEWS
from bench_lib.verdicts import MIN_TIMED_S

__all__ = ["INTERVALS", "INTERVALS_BEGIN", "INTERVALS_END", "intervals_block", "header_section",
           "threads_text", "stats_table"]

INTERVALS = ("graphs/s is the median of every timed repeat of every seed, with a 95% bootstrap "
             "interval in brackets (seeds resampled, then repeats within each); steps and time to "
             "target are the smallest value by which at least half of the seeds had reached the "
             "target (the median of an odd number of seeds, the faster of two; a seed that missed "
             "it, or whose cell failed, counts as never reaching it), with the fastest-slowest "
             "range and how many seeds reached it (fewer than half: *not reached*); other columns "
             "are medians over seeds. *vs leader*: each strategy against the leader of the column, "
             "from the ratio of their rates over the paired turns (the cells took turns, window by "
             "window) or of their steps and times to target seed by seed (a missed seed censored, "
             "compared by sign): *faster*/*slower* when the interval of the ratio excludes 1, "
             "*equivalent* when it lies within the margin (two one-sided tests), else *undecided* "
             "with about how many more turns or seeds would decide it; every interval is at a "
             "Bonferroni share of 5% for each pair of strategies in the table, so that a table "
             "holds no false *faster* in 95% of runs (`bench_lib/verdicts.py`). A value is in bold "
             "only where it is decided ahead of every other strategy (graphs/s, steps and time to "
             "target) or its interval overlaps no other and both say something: exact for what "
             "follows from the plan, at least three seeds for a median over seeds.")


INTERVALS_BEGIN, INTERVALS_END = "<!-- intervals:begin", "<!-- intervals:end -->"


def intervals_block() -> str:
    """:data:`INTERVALS` as docs/methodology.md holds it, between its markers (``python -m
    bench_lib.report RESULTS --methodology docs/methodology.md`` writes it)."""
    return "\n".join([f"{INTERVALS_BEGIN}: written from bench_lib/report/header.py -->",
                       *wrap_lines(INTERVALS, 100), INTERVALS_END])


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else the folder's name alone."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().name


def _clocks(records: pd.DataFrame) -> str:
    names = {"cpu": "the process's CPU clock (one thread per cell)", "wall": "the wall clock"}
    clocks = [c for c in dict.fromkeys(records.get("step_clock", pd.Series(dtype=str)).dropna())]
    return " and ".join(names.get(c, str(c)) for c in clocks) or "an unrecorded clock"


def threads_text(records: pd.DataFrame, config: dict) -> str:
    """The thread count the cells ran with (as torch reported it), else the configured one."""
    used = sorted({int(v)
                   for v in pd.to_numeric(records.get("torch_threads", pd.Series(dtype=float)),
                                                  errors="coerce").dropna()})
    if used:
        return "/".join(map(str, used)) + " torch thread(s)"
    return f"{config.get('threads', '?')} thread(s) (configured; no cell recorded its count)"


def header_section(res: Results) -> list[str]:
    """The report's title, then where the cells were measured, the suite's settings and the
    datasets' sizes."""
    env, config = res.environment, res.config
    name = config.get("name", res.path.name)
    shown = _shown_path(res.path)
    lines = [f"# bench_lib report: {name}", "", f"Made from the results folder `{shown}` alone "
                                                f"(`python -m bench_lib.report {shown}` from where "
                                                f"it lies).", ""]
    if env:
        pk = env.get("packages", {})
        lines += ["## Where it was measured", "",
                  f"- machine: {env.get('cpu')}, {env.get('cpu_count')} CPUs, GPU: "
                  f"{env.get('gpu') or 'none'}; {threads_text(res.records, config)} per cell",
                  f"- {env.get('platform')}, Python {env.get('python')}",
                  "- " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
                  f"- git commit: {env.get('git_commit') or 'unknown'}",
                  *_machines(res.records, env), ""]
    if config:
        t = config.get("train", {})
        lines += ["## Settings", "",
                  f"- device `{config.get('device')}`, backend `{config.get('backend')}`, seeds "
                  f"{config.get('seeds')}"
                  + _timed_seeds(config) + f", fairness views that ran: "
                                           f"{', '.join(_views_ran(res.ran)) or 'none'}",
                  f"- {_seeds_vary(config)}",
                  f"- throughput: {t.get('warmup_steps')} warm-up steps, then "
                  f"{config.get('repeats')} repeats of {t.get('windows')} windows of at least "
                  f"{t.get('window_s')} s each; "
                  + (("the cells of one dataset and seed take turns window by window, so load on "
                      "the machine falls on every strategy alike") if res.interleaved
                     else "each cell timed alone, one after another "
                          "(not interleaved): load on the machine may favour some strategies")
                  + (f"; steps timed on {_clocks(res.records)}; graphs/s counts real graphs per "
                     f"second of batch building + training step"),
                  f"- time to accuracy: Adam, constant lr {t.get('lr')}, validation every "
                  f"{t.get('eval_every')} steps, at most {t.get('max_steps')} steps (safety limit "
                  f"{t.get('train_time_limit_s')} s); time to target = steps to target x the step "
                  f"time measured in the timed turns (a seed that was not timed: its strategy's "
                  f"median over the timed seeds)",
                  f"- {INTERVALS}"] + _decide_text(config) + _short_timing(res) + [""]
    if res.planning:
        lines += ["## Datasets", "", "Sizes of each dataset's training split (first seed), which "
                                     "the budgets are derived "
                                     "from:", "", stats_table(res.planning), ""]
    return lines


def _timed_seeds(config: dict) -> str:
    timed, seeds = config.get("timed_seeds"), config.get("seeds") or []
    if timed is None or timed >= len(seeds):
        return ""
    return (
        f" (the first {timed} timed; the others train to the target only, their time to target at "
        f"the step time their strategy measured in the timed seeds)")


def _seeds_vary(config: dict) -> str:
    """What a seed varied, per dataset (``data_seed``: fixed data, or each seed its own)."""
    fixed = [d["name"] for d in config.get("datasets", []) if d.get("data_seed", "seed") != "seed"]
    own = [d["name"] for d in config.get("datasets", []) if d.get("data_seed", "seed") == "seed"]
    parts = ["a seed varies the initial weights and the order of the batches"]
    if fixed:
        parts.append(f"the graphs and their split are the same in every seed for "
                     f"{', '.join(map(display_name, fixed))}")
    if own:
        parts.append(f"each seed has its own graphs (subset or generated stand-in) and split for "
                     f"{', '.join(map(display_name, own))}")
    return "; ".join(parts)


def _short_timing(res: "Results") -> list[str]:
    """A warning when timed cells got less than :data:`MIN_TIMED_S` of timed windows each."""
    ran = res.ran[res.ran.status == "ok"] if "status" in res.ran else res.ran
    if "windows_timed" not in ran or "window_s" not in ran:
        return []
    windows = pd.to_numeric(ran["windows_timed"], errors="coerce")
    seconds = windows * pd.to_numeric(ran["window_s"], errors="coerce")
    short = ran[(windows > 0) & (seconds < MIN_TIMED_S)
                & (pd.to_numeric(ran["window_s"], errors="coerce") > 0)]
    if short.empty:
        return []
    least = float(seconds[short.index].min())
    return [(f"- **timed for less than {MIN_TIMED_S:g} s per cell** ({len(short)} cell(s), the "
             f"least {least:.2f} s of windows): below that, strategy ratios did not hold on a busy "
             f"machine (benchmarks/noise.py); read the graphs/s verdicts as provisional, or rerun "
             f"with more windows")]


def _decide_text(config: dict) -> list[str]:
    if not config.get("decide"):
        return []
    return [(f"- measured until decided: after the fixed turns, a group added as many turns again "
             f"while a verdict was undecided, up to {config.get('decide_looks')} looks or "
             f"{config.get('decide_budget_s')} s of added turns; each look at a Bonferroni share "
             f"5%/{config.get('decide_looks')} (alpha spent equally over a fixed set of looks), "
             f"the share the verdicts here use")]


def _machines(records: pd.DataFrame, env: dict) -> list[str]:
    """The machines the cells ran on when they are not the one ``environment.json`` names (cluster
    tasks)."""
    if "environment" not in records:
        return []
    seen: dict[tuple, int] = {}
    for value in records["environment"]:
        e = _json_obj(value)
        if not e:
            continue
        key = (e.get("host"), e.get("cpu"), e.get("cpu_count"),
               json.dumps(e.get("gpu"), sort_keys=True))
        seen[key] = seen.get(key, 0) + 1
    main = (env.get("host"), env.get("cpu"), env.get("cpu_count"),
            json.dumps(env.get("gpu"), sort_keys=True))
    if not seen or set(seen) == {main}:
        return []
    return ["- the cells ran on " + "; ".join(
        f"{host or 'a host'} ({cpu}, {n} CPUs, GPU: {json.loads(gpu) or 'none'}): {count} cell(s)"
        for (host, cpu, n, gpu), count in seen.items()) + " (each record's own environment)"]


def _json_obj(value) -> dict:
    try:
        out = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _views_ran(records: pd.DataFrame) -> list[str]:
    return [v for v in VIEWS if len(in_view(records, v))]


def stats_table(planning: dict) -> str:
    """One row per dataset: sizes, sparsity, and naive padding's efficiency."""
    from bench_lib.data.stats import format_stats

    return format_stats({display_name(name): d["stats"] for name, d in planning.items()})
