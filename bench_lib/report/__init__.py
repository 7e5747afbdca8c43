"""Reports made from a results directory alone (records, config, planning).

``python -m bench_lib.report RESULTS_DIR [--out REPORT_DIR] [--readme README.md]``
writes ``report.md`` and its figures (PNG and SVG), ``report.html`` (the same
report as one self-contained page), both opening with the answer at a glance
(:mod:`bench_lib.report.glance`: tables and a forest plot, then the answer in
words), and with ``--readme``
rewrites the README's results block (between its ``results:begin`` and
``results:end`` markers) from the same records. Nothing here imports the
harness: a report can be regenerated on any machine from the files.
"""

from __future__ import annotations

from pathlib import Path

from bench_lib.report.compiled import compile_section
from bench_lib.report.costs import costs_section, projection_section
from bench_lib.report.datasets import dataset_section
from bench_lib.report.glance import glance_lines
from bench_lib.report.flags import flags_section
from bench_lib.report.header import header_section
from bench_lib.report.html import answer_html, json_details, markdown_page
from bench_lib.report.names import display_name, file_stem, replace_block
from bench_lib.report.ranks import ranks_section
from bench_lib.report.results import Results

__all__ = ["write_report", "readme_block", "update_readme", "Results", "file_stem", "display_name"]

BEGIN, END = "<!-- results:begin", "<!-- results:end -->"


def write_report(results_dir: Path | str, report_dir: Path | str) -> Path:
    """Write ``report.md``, its figures and ``report.html`` for ``results_dir``; returns the
    Markdown's path."""
    res = Results.read(results_dir)
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    head, answers = header_section(res), []
    # the title, then the answer at a glance (tables, forest plot, takeaways), then the rest
    lines = head[:2] + glance_lines(res, out, "glance_forest.png") + [""] + head[2:]
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
    """The README's results block: where it was measured, then the answer at a glance
    (:mod:`bench_lib.report.glance`: the tables, a takeaway per dataset, the forest plot) from
    ``results_dir`` alone; the sentences, the per-view tables and the method are the report's.

    ``report_link`` and ``results_link`` (default: ``results_dir`` as given) are the paths the block
    links to, relative to the README."""
    res = Results.read(results_dir)
    env, config = res.environment, res.config
    link = results_link or Path(results_dir).as_posix()
    seeds = config.get("seeds") or []
    timed = config.get("timed_seeds")
    timed = len(seeds) if timed is None else min(int(timed), len(seeds))
    stack = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items()
                      if v and v != "none" and k in ("torch", "numpy", "pandas", "dgl"))
    where = (f"From [`{link}/records.csv`]({link}/records.csv) (backend "
             f"`{config.get('backend', '?')}` on {stack or 'an unrecorded stack'}; {len(seeds)} "
             f"seed(s), {timed} timed; commit {str(env.get('git_commit'))[:7]}).")
    lines = [f"{BEGIN}: {command} -->"]
    lines += glance_lines(res, None, f"{report_link}/glance_forest.png", where)
    lines.append(END)
    return "\n".join(lines)


def update_readme(readme: Path | str, block: str) -> None:
    """Replace the README's results block (markers included) with ``block``."""
    replace_block(readme, BEGIN, END, block, "results block")
