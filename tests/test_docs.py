"""The README and the pages of docs/: the README stays short, no link is dead, every command
they show names real flags and files, the own-data commands run on a file of the real ESOL
shape, and every number a page quotes from a committed run is recomputed from its records."""

from __future__ import annotations

import json
import re
import shlex
import statistics
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench_lib.strategies import STRATEGIES
from tests.report import benchmark_script, committed

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, ROOT / "CONTRIBUTING.md", *DOCS]


def flat(path: Path) -> str:
    """A page's text with its whitespace runs as one space (sentences wrap anywhere)."""
    return " ".join(path.read_text().split())


def doc(name: str) -> str:
    return flat(ROOT / "docs" / f"{name}.md")


def test_the_readme_is_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_every_docs_page_is_linked_from_the_readme():
    linked = set(re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#[^)\s]*)?\)", README.read_text()))
    assert DOCS and {f"docs/{p.name}"
                     for p in DOCS} <= linked, {f"docs/{p.name}" for p in DOCS} - linked


def prose(text: str) -> str:
    """``text`` without its fenced code blocks and inline code spans (links there are not links)."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link's text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", path.read_text(),
                       flags=re.S | re.M).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    """Every link and image target of ``path``, ``[text](target)`` (text may wrap or hold an
    image)."""
    return re.findall(r"\]\(([^)\s]+)\)", prose(path.read_text()))


def test_the_slug_rules_are_github_s():
    assert (slug("An answer in a minute: `python -m bench_lib.advise`")
            == "an-answer-in-a-minute-python--m-bench_libadvise")
    assert slug("AlgoPerf's molecular workload") == "algoperfs-molecular-workload"
    assert slug("Counted costs (no clock)") == "counted-costs-no-clock"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_relative_link_is_dead(page):
    """Each relative link names a file that exists and, with ``#anchor``, a heading of that page."""
    dead = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            dead.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            dead.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not dead, dead


def test_the_link_checker_catches_a_dead_link_and_a_dead_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[ok](#top) [bad](#nowhere) [gone](missing.md) "
                    "`[code](not-a-link.md)`\n")
    assert links(page) == ["#top", "#nowhere", "missing.md"]
    assert anchors(page) == {"top"}


# --- commands
# --------------------------------------------------------------------------------------------

class Parsed(Exception):
    """Raised once a command line's arguments parse: the command is not run."""


def shown_commands() -> list[tuple[str, str]]:
    """``(page, command)`` for every ``python -m bench_lib...``, ``bench-lib ...`` or ``python
    benchmarks/...`` line of a code block, and every such inline code span without placeholders, in
    the README, CONTRIBUTING.md and docs/."""
    out = []
    for page in PAGES:
        text = page.read_text()
        lines = [line for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
                 for line in block.splitlines()]
        spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose_spans(text))]
        lines += [span for span in spans  # with arguments, without placeholders
                  if not re.fullmatch(r"python -m [\w.]+|bench-lib( \w+)?", span)
                  and not re.search(r"[A-Z]{2,}|<|\[|\.\.\.", span)]
        for line in lines:
            line = re.sub(r"^\$ ", "", line.strip())
            line = re.sub(r"^\.venv/bin/python ", "python ", line)
            line = re.sub(r"^\.venv/bin/bench-lib ", "bench-lib ", line)
            if re.match(r"python (-m bench_lib\b|benchmarks/)|bench-lib \w", line):
                out.append((page.relative_to(ROOT).as_posix(), line))
    return out


def prose_spans(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)


def words_of(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def parse_only(command: str, monkeypatch) -> object:
    """Parse ``command``'s arguments with its module's own parser, running nothing: argparse's
    ``parse_args`` (or an outermost ``parse_known_args``) raises :class:`Parsed` once it
    succeeds."""
    import argparse
    import importlib

    from bench_lib.cli import COMMANDS

    words = words_of(command)
    if words[0] == "bench-lib":  # the console command: its subcommand's function
        module, function, _ = COMMANDS[words[1]]
        main = getattr(importlib.import_module(module), function)
        argv = words[1:]
    # python -m bench_lib.X: the module's main, or the command of the same name
    elif words[1] == "-m":
        module, function, _ = COMMANDS.get(words[2].split(".")[-1], (words[2], "main", ""))
        main = getattr(importlib.import_module(module), function)
        argv = [words[2], *words[3:]]
    else:
        assert (ROOT / words[1]).exists(), f"{words[1]} does not exist"
        monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # the scripts import their neighbours
        main = benchmark_script(Path(words[1]).stem).main
        argv = words[1:]
    depth = [0]
    parse_args = argparse.ArgumentParser.parse_args
    parse_known = argparse.ArgumentParser.parse_known_args

    def outermost(original):
        def wrapper(self, args=None, namespace=None):
            depth[0] += 1
            try:
                result = original(self, args, namespace)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                raise Parsed(result)
            return result
        return wrapper

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", outermost(parse_args))
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", outermost(parse_known))
    monkeypatch.setattr(sys, "argv", argv)
    try:
        code = main()
    except Parsed as done:
        return done.args[0]
    except SystemExit as exit_:
        pytest.fail(f"{command!r} does not parse (exit {exit_.code})")
    finally:
        monkeypatch.undo()
    if code:  # a command that answers a bad flag with its exit status rather than SystemExit
        pytest.fail(f"{command!r} does not parse (exit {code})")
    pytest.fail(f"{command!r} ran without parsing any arguments")


#: results/ and reports/ folders the commands write (not committed).
WRITTEN = {"results/default", "reports/default"}


def test_the_pages_show_commands():
    pages = {page for page, _ in shown_commands()}
    assert {"README.md", "docs/own-data.md", "docs/suites.md", "docs/clusters.md",
            "docs/benchmarks.md"} <= pages


@pytest.mark.parametrize("page,command", shown_commands())
def test_every_shown_command_names_real_flags_and_files(page, command, monkeypatch):
    """Each command parses with its module's parser (an unknown flag or a bad value fails), and the
    project files it names exist: benchmarks/, and the committed results/ and reports/."""
    parse_only(command, monkeypatch)
    for word in words_of(command):
        for part in word.split(","):
            if part.startswith(("benchmarks/", "results/",
                                "reports/")) and part.rstrip("/") not in WRITTEN:
                assert (ROOT / part).exists(), (f"{page}: {command!r} names {part}, which does not "
                                                f"exist")


def test_the_command_check_fails_on_a_misspelt_flag(monkeypatch):
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        parse_only("python -m bench_lib.suite --datasets nci5k --strategy pad", monkeypatch)
    assert parse_only("python -m bench_lib.data stats nci5k --skipped", monkeypatch).skipped


# --- your own data: the README's three commands on a file with ESOL's real header
# --------------------------

ESOL_HEADER = ("Compound ID,ESOL predicted log solubility in mols per litre,Minimum "
               "Degree,Molecular Weight,Number of H-Bond Donors,Number of Rings,Number of "
               "Rotatable Bonds,Polar Surface Area,measured log solubility in mols per "
               "litre,smiles")
ESOL_ROWS = [  # MoleculeNet's delaney-processed.csv layout; values plausible for these molecules
    ("Ethanol", 0.02, 1, 46.069, 1, 0, 0, 20.23, 1.10, "CCO"),
    ("Benzene", -2.06, 2, 78.114, 0, 1, 0, 0.0, -1.64, "c1ccccc1"),
    ("Acetic acid", 0.02, 1, 60.052, 1, 0, 0, 37.3, 1.22, "CC(=O)O"),
    ("Phenol", -1.47, 1, 94.113, 1, 1, 0, 20.23, 0.0, "Oc1ccccc1"),
    ("Toluene", -2.55, 1, 92.141, 0, 1, 0, 0.0, -2.21, "Cc1ccccc1"),
    ("Pyridine", -1.05, 2, 79.102, 0, 1, 0, 12.89, 0.76, "c1ccncc1"),
    ("Glycerol", 0.69, 1, 92.094, 3, 0, 2, 60.69, 1.12, "OCC(O)CO"),
    ("Hexane", -2.70, 1, 86.178, 0, 0, 3, 0.0, -3.84, "CCCCCC"),
    ("Naphthalene", -3.47, 2, 128.174, 0, 2, 0, 0.0, -3.60, "c1ccc2ccccc2c1"),
    ("Chlorobenzene", -2.85, 1, 112.559, 0, 1, 0, 0.0, -2.38, "Clc1ccccc1"),
    ("Acetone", -0.05, 1, 58.080, 0, 0, 0, 17.07, 0.54, "CC(C)=O"),
    ("Aniline", -1.32, 1, 93.129, 1, 1, 0, 26.02, -0.41, "Nc1ccccc1"),
]


def own_data_commands() -> list[str]:
    block = re.search(r"## Your own data in three commands\s*```bash\n(.*?)```", README.read_text(),
                      re.S)
    assert block, "README lost its own-data commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture()
def esol_dir(tmp_path, monkeypatch):
    """A folder holding ``data/ESOL.csv`` with ESOL's header and 192 rows (enough to fill a 512-slot
    step), as the current directory."""
    (tmp_path / "data").mkdir()
    rows = [(f"{name} {k}" if k else name, *rest) for k in range(16) for name, *rest in ESOL_ROWS]
    (tmp_path / "data" / "ESOL.csv").write_text(ESOL_HEADER + "\n" + "".join(
        ",".join(f'"{v}"' if isinstance(v, str) and " " in v else str(v)
                 for v in row) + "\n" for row in rows))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_own_data_command(command: str, capsys) -> tuple[int, str]:
    """One of the README's own-data commands, as far as it goes without timing anything: ``data
    stats`` whole, ``advise`` through its planning (which loads the file with the target), the suite
    as a dry run (which loads it, checks the target and the models on it and lists the cells)."""
    words = words_of(command)
    module, args = words[2], words[3:]
    if module == "bench_lib.data":
        from bench_lib.cli.data import main

        rc = main(args)
    elif module == "bench_lib.advise":
        from bench_lib.advise import _as_predicted, _parser, asked_config, one_model, plan_cells
        from bench_lib.config import ConfigError

        a = _parser().parse_args(args)
        def split(s):
            return None if s is None else [x.strip() for x in s.split(",") if x.strip()]
        try:
            asked, _ = one_model(asked_config(a.dataset, a.config, strategies=split(a.strategies),
                                              models=split(a.models), target=split(a.target),
                                              options=dict(a.option), smiles_column=a.smiles_column,
                                              id_column=a.id_column))
            planned, _, _ = plan_cells(_as_predicted(asked), scales=(1.0,))
            rc = 0 if planned else 1
        except (ConfigError, ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            rc = 2
    else:
        assert module == "bench_lib.suite"
        from bench_lib.suite import main

        rc = main([*args, "--dry-run"])
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


def test_the_own_data_commands_run_on_a_file_of_esol_s_shape(esol_dir, capsys):
    commands = own_data_commands()
    assert ([words_of(c)[2] for c in commands]
            == ["bench_lib.data", "bench_lib.advise", "bench_lib.suite"])
    for command in commands:
        assert "csv:data/ESOL.csv" in command and "--target" in command
        rc, out = run_own_data_command(command, capsys)
        assert rc == 0, (command, out[-2000:])
        if "bench_lib.suite" in command:
            assert "csv:data/ESOL.csv/pack-lpfhp/gin/" in out
    # the table's target column as ESOL's header names it, and nothing else would do
    rc, out = run_own_data_command(commands[0].replace("measured log solubility in mols per litre",
                                                       "measured log solubility"), capsys)
    assert rc == 2 and "no target column(s) ['measured log solubility']" in out


def test_the_own_data_page_names_esol_s_target_as_its_header_does():
    header = ESOL_HEADER.split(",")
    for page in (README, ROOT / "docs" / "own-data.md", ROOT / "docs" / "advise.md"):
        for command in re.findall(r"python -m bench_lib\.\S+ [^\n]*csv:data/ESOL\.csv[^\n]*",
                                  page.read_text()):
            target = words_of(command)[words_of(command).index("--target") + 1]
            assert target in header, (page.name, target)


# --- numbers quoted from committed runs
# ---------------------------------------------------------------------

def code_list(names: list[str]) -> str:
    """Names in backticks, joined as the pages list them: `a`, `b` and `c`."""
    named = [f"`{n}`" for n in names]
    return f"{', '.join(named[:-1])} and {named[-1]}" if len(named) > 1 else named[0]


def records(run: str) -> pd.DataFrame:
    return pd.read_csv(committed(ROOT / "results" / run / "records.csv",
                                 run)).drop_duplicates("cell_id", keep="last")


def test_the_benchmarks_page_quotes_the_default_reference_run():
    df = records("default-reference")
    config = json.loads((ROOT / "results" / "default-reference" / "config.json").read_text())
    groups = df.groupby(["dataset", "model", "seed"]).size()
    text = doc("benchmarks")
    assert (f"in about half an hour (the install included, a few minutes of it): {len(df)} cells"
            in text)
    assert (f"five seeds of which {config['timed_seeds']} are timed" in text
            and len(config["seeds"]) == 5)
    assert f"groups hold {groups.min()} to {groups.max()} cells" in text
    assert set(df.status) == {"ok"}


def test_the_benchmarks_page_names_each_references_stack_machine_and_files():
    """Every committed reference (a suite's records, or the projection's) has a row that names the
    stack and the machine its environment.json records, and its folder holds pip freeze's output
    and the constraints file it was installed from."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = text[text.index("<!-- references:begin"):text.index("<!-- references:end")]
    row = re.compile(r"\| \[`([\w.-]+)`\]\(\.\./results/\1/\) \| (today's|DGL's): torch "
                     r"([\w.]+) \| (.+?), (\d+) CPUs \| (.+) \|$")
    rows = {m.group(1): m.groups()[1:] for m in map(row.match, block.splitlines()) if m}
    runs = {p.parent.name for p in (ROOT / "results").glob("*/environment.json")
            if (p.parent / "records.csv").exists() or (p.parent / "cpu.json").exists()}
    assert set(rows) == runs
    for name, (stack, torch_version, cpu, cpus, command) in rows.items():
        run = ROOT / "results" / name
        env = json.loads((run / "environment.json").read_text())
        assert (env["packages"]["torch"], env["cpu"], env["cpu_count"]) == (torch_version, cpu,
                                                                            int(cpus)), name
        assert (stack == "DGL's") == bool(env["packages"].get("dgl")), name
        assert f"torch=={torch_version}" in (run / "pip-freeze.txt").read_text().splitlines(), name
        pins = (run / "constraints.txt").read_text().splitlines()
        assert f"torch=={torch_version}" in pins, name
        assert command.startswith("`"), name


@pytest.mark.slow
def test_the_compile_page_quotes_the_compile_reference_run():
    from bench_lib.report import write_report

    df = records("compile-reference")
    env = json.loads((ROOT / "results" / "compile-reference" / "environment.json").read_text())
    text = doc("compile")
    ok = df[df.status == "ok"]
    assert (f"(commit {env['git_commit'][:7]}," in text and f"{len(ok)} of {len(df)} cells ok"
            in text)
    # compiled over eager graphs/s, per dataset and model: the smallest and the largest, with every
    # arm that rounds to them
    def label(r):
        return (f"`{r.strategy}`"
             + (" with `dynamic=True`" if r.execution == "compile-dynamic" else ""))
    spans = {}
    for (dataset, model), g in ok.groupby(["dataset", "model"]):
        eager = g[g.execution == "eager"].set_index("strategy").graphs_per_s
        ratios = {label(r): r.graphs_per_s / eager[r.strategy]
                  for r in g[g.execution != "eager"].itertuples()}
        lo, hi = min(ratios.values()), max(ratios.values())
        def at(x):
            return ", ".join(sorted(k for k, v in ratios.items() if f"{v:.2f}" == f"{x:.2f}"))
        spans[dataset, model] = lo, hi
        name = {"gin": "GIN", "schnet": "SchNet", "painn": "PaiNN"}[model]
        said = f"{dataset}/{name} {lo:.2f} ({at(lo)}) to {hi:.2f} ({at(hi)})"
        assert said in text, (dataset, model, at(lo), at(hi))
    gin_schnet = [x for k in (("nci5k", "gin"), ("qm9", "schnet")) for x in spans[k]]
    painn_r = spans["qm9", "painn"]
    assert (f"It buys {min(gin_schnet):.1f}-{max(gin_schnet):.1f}x steady throughput on GIN and "
            f"SchNet, and {min(painn_r):.1f}-{max(painn_r):.1f}x on PaiNN") in text
    # compile seconds of the static-shape cells, rounded
    static = ok[(ok.execution == "compile")
                & ok.strategy.map(lambda s: STRATEGIES.get(s).static_shape
                                                                    and s != "pad-bucket")]
    assert (f"It costs {static.compile_s.min():.0f}-{static.compile_s.max():.0f} s of compiling"
            in text)
    bucket = ok[(ok.strategy == "pad-bucket") & (ok.execution == "compile")]
    buckets = {json.loads(p)["buckets"] for p in bucket.strategy_params}
    assert (f"`pad-bucket` ({buckets.pop()} buckets, {bucket.distinct_shapes.max():.0f} shapes)"
            in text)
    # nci5k `pad`: graphs per step and the step budget it missed the target in
    pad = ok[(ok.dataset == "nci5k") & (ok.strategy == "pad")]
    assert (f"its {pad.graphs_per_step_mean.iloc[0]:.0f} graphs per step train too slowly for the "
            f"{pad.max_steps.iloc[0]:,}-step budget") in text
    # steps after which the compile pays: compile seconds over the steady step time saved
    key = ["dataset", "model", "strategy"]
    e = ok[ok.execution == "eager"].set_index(key).step_s
    pays = {(*k, x): r.compile_s / (e[k] - r.step_s)
            for r in ok[ok.execution != "eager"].itertuples()
            for k, x in [((r.dataset, r.model, r.strategy), r.execution)] if e[k] > r.step_s}
    (lo_k, lo), (hi_k, hi) = (min(pays.items(), key=lambda kv: kv[1]),
                              max(pays.items(), key=lambda kv: kv[1]))
    def where(k):
        names = {"schnet": "SchNet", "painn": "PaiNN"}
        return k[0] if k[0] == "nci5k" else f"{k[0]}/{names[k[1]]}"
    assert (f"about {float(f'{lo:.2g}'):,.0f} (`{lo_k[2]}`, {where(lo_k)}) to "
            f"{float(f'{hi:.2g}'):,.0f} (`{hi_k[2]}`, {where(hi_k)}) steps") in text
    eager_ok = ok[ok.execution == "eager"]
    compiled = ok[ok.execution != "eager"]
    assert (f"with the compile seconds was {compiled.time_to_target_with_compile_s.min():.0f}-"
            f"{compiled.time_to_target_with_compile_s.max():.0f} s against "
            f"{eager_ok.time_to_target_s.min():.1f}-{eager_ok.time_to_target_s.max():.1f} s eager"
            in text)
    # the leaders compiled, and which compiled static-shape arms they do not yet beat: the
    # report's verdicts
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        report = write_report(ROOT / "results" / "compile-reference", Path(out)).read_text()
    flat = " ".join(text.split())
    for model, name in (("schnet", "qm9/SchNet"), ("painn", "qm9/PaiNN")):
        section = report[report.index(f"### `{model}`, equal-padded-budget"):]
        line = next(x for x in section.splitlines() if x.startswith("- Most real graphs/s"))
        leader, value, interval = re.match(r"- Most real graphs/s: `([a-z-]+\+[a-z-]+)`, "
                                           r"([\d,]+) (\[[\d,-]+\]);", line).groups()
        said = (f"on {name} (`dynamic=True`, {value} {interval}"
                if leader.endswith("compile-dynamic") else
                f"on {name} ({value} graphs/s {interval}")
        assert leader.startswith("dynamic+") and said in flat, (model, said)
        open_ = sorted(set(re.findall(r"`([a-z-]+)\+compile` undecided", line)) - {"dynamic"})
        after = flat[flat.index(said) + len(said):]
        if open_:
            against = code_list(open_)
            assert after.startswith(f") undecided against {against} compiled"), (model, after[:80])
        else:
            assert after.startswith(") ahead of every static-shape arm compiled"), after[:80]


def test_the_clusters_page_quotes_the_ddp_reference_run():
    df = records("ddp-reference")
    env = json.loads((ROOT / "results" / "ddp-reference" / "environment.json").read_text())
    text = doc("clusters")
    ok = df[df.status == "ok"]
    assert (f"(commit {env['git_commit'][:7]}," in text and f"{len(ok)} of {len(df)} cells ok"
            in text)
    two = ok[ok.ranks == 2]
    share = two.straggler_share_mean
    assert f"slowest {share.min():.0%}-{share.max():.0%}".replace("%-", "-") in text
    parts = []
    for dataset, label in (("nci5k", "nci5k/GIN"), ("qm9", "qm9/SchNet")):
        g = two[two.dataset == dataset].set_index("strategy").straggler_share_mean
        parts.append(f"{label} {g.min():.3f} (`{g.idxmin()}`) to {g.max():.3f} (`{g.idxmax()}`)")
    assert ", ".join(parts) in text
    p90 = two.straggler_share_p90
    assert f"p90 over steps {p90.min():.2f}-{p90.max():.2f}" in text
    a = {d: g.allreduce_share_mean for d, g in two.groupby("dataset")}
    assert (f"another {a['nci5k'].min():.3f}-{a['nci5k'].max():.3f} (nci5k) and "
            f"{a['qm9'].min():.3f}-{a['qm9'].max():.3f} (qm9)") in text
    pad = two[(two.dataset == "nci5k") & (two.strategy == "pad")].iloc[0]
    rest = two.drop(pad.name).node_imbalance
    assert (f"are {rest.min():.2f}-{rest.max():.2f} for every strategy but `pad` on nci5k "
            f"({pad.node_imbalance:.2f}, {pad.graphs_per_global_step:.0f} graphs a step)") in text
    def reached(g):
        return g[g.reached_target.map(str).str.lower() == "true"].steps_to_target
    one = ok[ok.ranks == 1]
    assert (f"in {reached(two).min():.0f}-{reached(two).max():.0f} global steps against "
            f"{reached(one).min():.0f}-{reached(one).max():.0f}") in text
    missed = ok[ok.reached_target.map(str).str.lower() != "true"]
    assert (sorted(set(zip(missed.dataset, missed.strategy))) == [("nci5k", "pad")]
            and sorted(missed.ranks) == [1, 2])
    # scaling efficiency: 2-rank graphs/s over twice the 1-rank graphs/s, per dataset
    eff = {d: (g[g.ranks == 2].set_index("strategy").graphs_per_s
               / (2 * g[g.ranks == 1].set_index("strategy").graphs_per_s))
           for d, g in ok.groupby("dataset")}
    assert (f"{eff['nci5k'].min():.2f}-{eff['nci5k'].max():.2f} on nci5k" in text
            and f"{eff['qm9'].min():.2f}-{eff['qm9'].max():.2f} on qm9" in text)
    least = eff["qm9"].idxmin()
    assert f"unpadded `{least}` scales least ({eff['qm9'][least]:.2f}" in text
    qm9_wait = two[two.dataset == "qm9"].set_index("strategy").straggler_share_mean
    assert "waits longest for the slower rank" in text and qm9_wait.idxmax() == least


def test_the_tasks_page_quotes_the_algoperf_stand_in_run():
    df = records("algoperf-ogbg-reduced-standin")
    run = ROOT / "results" / "algoperf-ogbg-reduced-standin"
    config = json.loads((run / "config.json").read_text())
    stats = json.loads((run / "planning.json").read_text())["ogbg-molpcba"]["stats"]
    text = doc("tasks")
    assert set(df.status) == {"ok"} and set(df.reached_target.map(str).str.lower()) == {"true"}
    (dataset,) = config["datasets"]
    (n_graphs,), (slots,), (target,) = set(
        df.n_graphs), set(df.node_slots_budget), set(df.target_value)
    assert (n_graphs, slots, target) == (dataset["n_graphs"], dataset["node_slots"],
                                         dataset["target_value"])
    graphs_budget = dataset["graphs_per_step"]
    steps = df.set_index("strategy").steps_to_target
    real = df.set_index("strategy").graphs_per_step_mean
    unpadded = real.drop("pad")
    assert len(set(unpadded.round(1))) == 1
    assert (f"On the stand-in ({n_graphs:,} of its molecules, mean {stats['nodes_mean']:.0f} "
            f"atoms, so that {unpadded.iloc[0]:.1f} graphs a step fill the {slots:,} node slots "
            f"sized for {graphs_budget} of molpcba's), with `--datasets ogbg-molpcba "
            f"--target-value {target:g}`, the {len(df)} strategies") in text
    packers = steps[[s for s in steps.index if s.startswith("pack-")]]
    others = steps.drop([*packers.index, "pad"])
    by_steps = [f"{n:.0f} for {code_list(sorted(others[others == n].index))}"
                for n in sorted(set(others))]
    by_steps[0] = by_steps[0].replace(" for ", " steps for ", 1)
    assert (f"mAP {target:g} took {', '.join(by_steps)}, {packers.min():.0f}-{packers.max():.0f} "
            f"for the packers, and {steps['pad']:.0f} for `pad`") in text
    assert (f"largest ({stats['nodes_max']} atoms) and so carries {real['pad']:.1f} graphs a step"
            in text)


def test_the_scale_page_quotes_the_full_size_run():
    res = json.loads(committed(ROOT / "results" / "scale" / "results.json",
                               "the full-size run").read_text())
    text = doc("scale")
    b, c = res["build"], res["compare"]
    assert (f"All {res['n_graphs']:,} `hydronet-like` clusters ({b['atoms'] / 1e6:.1f}M atoms)"
            in text)
    assert f"each of its {b['workers']} worker processes" in text
    assert f"packs of {res['pack_nodes']} atoms, {res['packs_per_batch']} per batch" in text
    per_batch = {r["packs_per_batch"]: r["graphs_per_batch"] for r in c["rows"]}
    assert (f"{c['graphs']:,} of the clusters" in text
            and f"every {c['block']} batches over {c['rounds']} rounds"
            in text)
    assert (f"16-pack batches ({per_batch[16]:.1f} graphs)" in text
            and f"one-pack batches ({per_batch[1]:.1f} graphs)" in text)


def test_the_methodology_page_quotes_the_noise_run():
    res = json.loads((ROOT / "results" / "noise" / "benchmark.json").read_text())
    _, worst, paired = benchmark_script("noise").table(res["rows"])
    text = doc("methodology")
    suite, raised, written = ("interleaved, 1 thread, CPU clock",
                              "smoke settings (2 x 4 windows, raised to 4 s a cell)",
                              "smoke settings as written (0.4 s a cell)")
    assert (f"moved them by up to {worst[suite]:.1%}, {paired[suite]:.1%} read over the paired "
            f"turns; the smoke suite's timing raised to 4 s by up to {worst[raised]:.1%}, as "
            f"written, 0.4 s a cell, by up to {worst[written]:.1%}") in text
    assert f"held within 10%" in text and max(worst[suite], worst[raised]) <= 0.10 < worst[written]


def test_the_advise_page_quotes_the_fastest_and_slowest_advise_runs():
    res = json.loads((ROOT / "results" / "advise" / "results.json").read_text())
    walls = [s for d in res["datasets"] for s in d["advise_wall_s"]]
    assert f"each run took {min(walls):.0f} to {max(walls):.0f} s" in doc("advise")


def test_the_methodology_page_holds_the_reports_intervals_paragraph():
    """Issue 41: the paragraph on intervals and verdicts left the README for the report and
    docs/methodology.md, where it is written from the same constant."""
    from bench_lib.report.header import INTERVALS_BEGIN, INTERVALS_END, intervals_block

    text = (ROOT / "docs" / "methodology.md").read_text()
    block = text[text.index(INTERVALS_BEGIN):text.index(INTERVALS_END) + len(INTERVALS_END)]
    assert block == intervals_block(), ("stale; run python -m bench_lib.report "
                                        "results/default-reference --methodology "
                                        "docs/methodology.md")
    assert "*undecided*" in block and "Bonferroni" in block


def test_the_benchmarks_page_quotes_the_quick_run_against_the_reference():
    """Issue 41: make bench's run, kept in results/default-quick, set against the full reference;
    the page's counts are the committed comparison's, which holds the issue's two checks."""
    text = doc("benchmarks")
    block = text[text.index("<!-- quick:begin"):text.index("<!-- quick:end")]
    block = " ".join(block.split())
    compared = (ROOT / "results" / "default-quick" / "against-reference.md").read_text()
    run, replay = compared.split("\n## ")[1:3]
    leaders = re.search(r"leaders: (\d+) of (\d+) leaders", run).groups()
    same, decided = map(int, re.search(r"pairs: (\d+) of (\d+) pairs", run).groups())
    assert leaders[0] == "0" and 2 * same >= decided
    assert f"0 of {leaders[1]} leaders" in block and f"{same} of {decided} pairs" in block
    rows = {name: re.search(rf"\| {name} \| (\d+) \| (\d+) \| (\d+) \|", run).groups()
            for name in ("real graphs/s", "steps to target", "time to target")}
    assert sum(int(r[0]) for r in rows.values()) == decided
    for name, row in rows.items():
        assert f"{name} {row[1]} of {row[0]}" in block, name
    played = re.search(r"pairs: (\d+) of (\d+) pairs", replay).groups()
    assert f"{played[0]} of {played[1]}" in block
    df = records("default-quick")
    config = json.loads((ROOT / "results" / "default-quick" / "config.json").read_text())
    env = json.loads((ROOT / "results" / "default-quick" / "environment.json").read_text())
    assert f"{(df.status == 'ok').sum()} of {len(df)} cells ok" in block
    assert config["seeds"] == [0, 1] and config["timed_seeds"] == 1
    assert f"commit {env['git_commit'][:7]}" in block
    log = (ROOT / "results" / "default-quick" / "make-bench.log").read_text()
    last = re.findall(r"\[\d+/\d+\] .*?: ok \| (\d+:\d+) elapsed", log)[-1]
    assert f"at {last})" in block


@pytest.mark.slow
def test_the_quick_comparison_is_what_the_script_writes(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "against.md"
    done = subprocess.run([sys.executable, "benchmarks/quick.py", "results/default-quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    committed = (ROOT / "results" / "default-quick" / "against-reference.md").read_text()
    assert out.read_text() == committed
