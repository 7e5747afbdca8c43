"""Reports made from a results directory alone (records, config, planning).

``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR] [--readme README.md]``
writes ``report.md`` and its figures (PNG and SVG), ``report.html`` (the same
report as one self-contained page, opening with the answer), and with ``--readme``
rewrites the README's results block (between its ``results:begin`` and
``results:end`` markers) from the same records. Nothing here imports the
harness: a report can be regenerated on any machine from the files.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench_lib.harness.environment import stack_text
from bench_lib.report.answer import answer_lines, capacity_sentence
from bench_lib.report.compiled import compile_section
from bench_lib.report.costs import costs_section, projection_section
from bench_lib.report.datasets import dataset_section, goal_text, view_text
from bench_lib.report.flags import flags_section
from bench_lib.report.header import INTERVALS, header_section, threads_text, timed_seeds_short
from bench_lib.report.html import answer_html, json_details, markdown_page
from bench_lib.report.names import display_name, file_stem, replace_block
from bench_lib.report.ranks import ranks_section
from bench_lib.report.results import Results
from bench_lib.report.tables import decide, main_table, metric_of, summarise

__all__ = ["write_report", "readme_block", "update_readme", "Results", "file_stem", "display_name"]

BEGIN, END = "<!-- results:begin", "<!-- results:end -->"


def write_report(results_dir: Path | str, report_dir: Path | str) -> Path:
    """Write ``report.md``, its figures and ``report.html`` for ``results_dir``; returns the
    Markdown's path."""
    res = Results.read(results_dir)
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines, answers = header_section(res), []
    for dataset in res.datasets():
        lines += dataset_section(res, dataset, out, answers)
    lines += compile_section(res, out)
    lines += costs_section(res, out)
    lines += projection_section(res)
    lines += ranks_section(res, out)
    lines += flags_section(res.records)
    text = "\n".join(lines) + "\n"
    path = out / "report.md"
    path.write_text(text)
    tail = json_details("Configuration (config.json)", res.config) + "\n" + \
        json_details("Environment (environment.json)", res.environment)
    (out / "report.html").write_text(markdown_page(text, out, answer_html(answers), tail))
    return path


def readme_block(results_dir: Path | str, report_link: str, command: str,
                 results_link: str | None = None) -> str:
    """The README's results block: per dataset, the equal-padded-budget table
    and the answer in words for every view, from ``results_dir`` alone.

    ``report_link`` and ``results_link`` (default: ``results_dir`` as given)
    are the paths the block links to, relative to the README."""
    res = Results.read(results_dir)
    env, config = res.environment, res.config
    link = results_link or Path(results_dir).as_posix()
    lines = [f"{BEGIN}: made by `{command}` from the records; do not edit by hand -->",
             f"From [`{link}/records.csv`]({link}/records.csv), measured on {env.get('cpu', '?')} "
             f"({env.get('cpu_count', '?')} CPUs, GPU: {env.get('gpu') or 'none'}), "
             f"{threads_text(res.records, config)} per cell, backend "
             f"`{config.get('backend', '?')}` on "
             f"{stack_text(env.get('packages') or {}) or 'an unrecorded stack'}, seeds "
             f"{config.get('seeds')}{timed_seeds_short(config)}, at commit "
             f"{str(env.get('git_commit'))[:7]}. {INTERVALS}", ""]
    for dataset in res.datasets():
        for model, view, g in res.groups(dataset):
            summary = summarise(g)
            verdicts = decide(g, summary, res.margin, res.interleaved)
            lines += [f"**{display_name(dataset)}, {model}, {view}.** {view_text(view, g)}", ""]
            lines += [f"- {s}" for s in answer_lines(summary, view, goal_text(g), res.interleaved,
                                                     verdicts)] + [""]
            if view == "equal-padded-budget":
                lines += [main_table(summary, metric_of(g), verdicts), ""]
        sentence = capacity_sentence(display_name(dataset),
                                     res.planning.get(dataset, {}).get("capacity_sweep", []))
        if sentence:
            lines += [sentence, "", f"![{display_name(dataset)}: efficiency against capacity]"
                                    f"({report_link}/{file_stem(dataset)}_capacity.png)", ""]
    lines.append(END)
    return "\n".join(lines)


def update_readme(readme: Path | str, block: str) -> None:
    """Replace the README's results block (markers included) with ``block``."""
    replace_block(readme, BEGIN, END, block, "results block")
