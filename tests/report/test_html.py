"""``report.html`` (and compare's HTML page): self-contained, every figure of the Markdown inline
with its caption, the answer first; checked as files, and in a real browser (the system's
Chromium, driven by playwright): no console or page error, nothing fetched, figures drawn, tables
sorted by a click. Without a browser or playwright the browser tests are skipped, except under
CI=true, where that is a failure."""

from __future__ import annotations

import html
import os
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench_lib.report import Results, write_report
from bench_lib.report.__main__ import main
from bench_lib.report.browser import ENV, INSTALL, chromium, find_chromium
from bench_lib.report.html import markdown_page, render_markdown

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "default-reference"
IMAGE = re.compile(r"^!\[[^\]]*\]\(([^)]+)\)$", re.M)
SORT_TABLE = """# sort rules

| name | value |
|---|---:|
| `b` | 1,200 [1,100-1,300] |
| `a10` | - |
| `a9` | 95 |
| `c` | not reached (0/2) |
| `d` | **3.5** |
| `e` |  |
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("default-reference")
    write_report(RESULTS, out)
    return out


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "compare.html"
    assert main(["compare", str(RESULTS), str(ROOT / "results" / "compile-reference"), "--absolute",
                 "--out",
                 str(out)]) == 0
    return out


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def figures_of(markdown: str) -> list[str]:
    return [Path(src).stem for src in IMAGE.findall(markdown)]


@pytest.mark.slow
def test_pages_fetch_nothing(report, compare_page):
    for page in (report / "report.html", compare_page):
        text = page.read_text()
        tags = Tags(text).tags
        assert not [t for t, _ in tags if t in ("link", "img", "iframe", "object", "embed")], page
        assert [a for t, a in tags if t == "script"] == [{}], page  # one inline script
        refs = [v for _, a in tags for k, v in a.items() if k in ("src", "href", "xlink:href")]
        assert all(v.startswith("#") for v in refs), [v for v in refs if not v.startswith("#")][:5]
        assert "@import" not in text and re.findall(r"url\((?!#)", text) == []
        assert "<table>" in text and "<?xml" not in text and "<!DOCTYPE svg" not in text


def test_every_figure_is_inline_with_a_caption_that_states_its_error_bars(report):
    markdown, page = (report / "report.md").read_text(), (report / "report.html").read_text()
    stems = figures_of(markdown)
    assert {"nci5k_throughput_vs_memory", "qm9_throughput_vs_memory", "nci5k_capacity",
            "nci5k_curves"} <= set(stems)
    figures = re.findall(r'<figure id="figure-([^"]+)">(.*?)</figure>', page, re.S)
    assert [stem for stem, _ in figures] == stems
    for stem, body in figures:
        assert body.lstrip().startswith("<svg ") and body.count("<svg") == 1, stem
        caption = re.search(r"<figcaption>(.*?)</figcaption>", body, re.S).group(1)
        assert "error bars" in plain(caption).lower(), (stem, caption)
    # In the Markdown, the caption is the paragraph right after the image.
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if IMAGE.match(line):
            after = lines[i + 2]
            assert lines[i + 1] == "" and after and not after.startswith(("!", "#", "|")), line


@pytest.mark.parametrize("name", ["default-reference", "compile-reference", "ddp-reference"])
def test_committed_reports_have_their_page(name):
    """Each committed report.md has its report.html beside it, with the same figures and
    captions."""
    folder = ROOT / "reports" / name
    page = (folder / "report.html").read_text()
    figures = re.findall(r'<figure id="figure-([^"]+)">.*?<figcaption>(.*?)</figcaption>', page,
                         re.S)
    assert [stem for stem, _ in figures] == figures_of((folder / "report.md").read_text())
    assert all("error bars" in plain(caption).lower() for _, caption in figures)
    assert page.count('<div class="entry" data-dataset=') >= 2


def test_ids_are_unique_and_each_svg_refers_only_to_its_own(report):
    page = (report / "report.html").read_text()
    ids = [a["id"] for _, a in Tags(page).tags if "id" in a]
    assert len(ids) > 1000 and [i for i, n in Counter(ids).items() if n > 1] == []
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        own = set(re.findall(r'\sid="([^"]+)"', svg))
        refs = set(re.findall(r'url\(#([^)]+)\)', svg)) | set(re.findall(r'href="#([^"]+)"', svg))
        assert refs and refs <= own, sorted(refs - own)[:5]


def tables(res: Results) -> list[tuple[str, str, str]]:
    """``(dataset, model, view)`` of every table of the run, in the report's order."""
    return [(d, m, v) for d in res.datasets() for m, v, _ in res.groups(d)]


def test_the_page_opens_with_the_glance_then_the_answer_in_the_markdowns_words(report):
    """Issue 41: the glance's tables and forest plot first under the title, the sentences after."""
    markdown, page = (report / "report.md").read_text(), (report / "report.html").read_text()
    first_table = page.index("<table>")
    assert page.index("</h1>") < first_table < page.index('id="figure-glance_forest"')
    assert page.index('id="figure-glance_forest"') < page.index('<section id="answer">')
    assert page.index('<section id="answer">') < page.index("<h2")
    assert "<th>real graphs/s</th>" in page[first_table:first_table + 300]
    block = page[page.index('<section id="answer">'):page.index("</section>")]
    entries = re.findall(
        r'<div class="entry" data-dataset="([^"]+)" data-model="([^"]+)" data-view="([^"]+)">'
        r"(.*?)</div>", block, re.S)
    assert [(d, m, v) for d, m, v, _ in entries] == tables(Results.read(RESULTS))
    assert ("qm9", "painn", "equal-real-graphs") in [(d, m, v) for d, m, v, _ in entries]
    bullets = {line[2:].replace("`", "") for line in markdown.splitlines() if line.startswith("- ")}
    for *_, body in entries:
        said = [plain(li) for li in re.findall(r"<li>(.*?)</li>", body, re.S)]
        assert said[0].startswith("Most real graphs/s: ") and set(said) <= bullets, said


def test_markdown_cannot_inject_html():
    out = render_markdown("a <script>alert(1)</script> & `<b>` in | text")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<code>&lt;b&gt;</code>" in out
    page = markdown_page("# <i>title</i>\n\nbody")
    assert "<title>&lt;i&gt;title&lt;/i&gt;</title>" in page and "<i>" not in page


@pytest.mark.slow
def test_the_browser_is_found_from_the_environment_or_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, sys.executable)
    assert find_chromium() == sys.executable
    monkeypatch.setenv(ENV, str(tmp_path / "no-such-browser"))
    with pytest.raises(FileNotFoundError, match=ENV):
        find_chromium()
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() is None


# In a browser.

@pytest.fixture(scope="module")
def browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed")
    executable = find_chromium()
    if executable is None:
        missing("no Chromium-family browser found")
    with chromium(executable) as b:
        yield b


def missing(why: str):
    message = f"{why}: {INSTALL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the browser tests must run)")
    pytest.skip(message)


def open_page(browser, path: Path):
    """A tab on ``path``, and the errors and non-file requests it saw while loading."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    seen = {"errors": [], "fetched": []}

    def console(message):
        if message.type == "error":
            seen["errors"].append(message.text)

    def route(r):
        if r.request.url.startswith("file:"):
            return r.continue_()
        seen["fetched"].append(r.request.url)
        return r.abort()

    page.on("console", console)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.route("**/*", route)
    page.goto(path.resolve().as_uri())
    return page, seen


def column(table, col: int) -> list[str]:
    return table.evaluate(
        "(t, c) => [...t.tBodies[0].rows].map(r => r.cells[c].textContent.trim())", col)


def key(text: str) -> float | None:
    """The number a cell starts with; None for a missing value."""
    if text in ("", "-") or text.startswith(("not reached", "missed")):
        return None
    return float(re.match(r"[-+]?(\d+\.?\d*|\.\d+)", text.replace(",", "")).group(0))


def check_sorts(table, label: str) -> None:
    """Clicking ``label``'s header sorts the rows ascending, missing values last; again,
    descending."""
    heads = table.locator("thead th")
    col = heads.all_text_contents().index(label)
    rows = sorted(table.evaluate("t => [...t.tBodies[0].rows].map(r => r.textContent)"))
    for order in ("ascending", "descending"):
        heads.nth(col).click()
        assert heads.nth(col).get_attribute("aria-sort") == order
        keys = [key(v) for v in column(table, col)]
        shown = [k for k in keys if k is not None]
        assert keys == shown + [None] * (len(keys) - len(shown)), keys
        assert shown == sorted(shown, reverse=order == "descending") and len(set(shown)) > 1, keys
        assert sorted(table.evaluate("t => [...t.tBodies[0].rows].map(r => r.textContent)")) == rows
    assert [h.get_attribute("aria-sort") for h in heads.all()].count(None) == len(heads.all()) - 1


@pytest.mark.slow
def test_report_loads_clean_and_draws_every_figure(browser, report):
    page, seen = open_page(browser, report / "report.html")
    assert seen == {"errors": [], "fetched": []}
    stems = figures_of((report / "report.md").read_text())
    svgs = page.locator("figure > svg")
    assert svgs.count() == len(stems)
    for svg in svgs.all():
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150, box
    # issue 41: the glance's first table and its forest plot within the first 1,200 pixels
    assert page.locator("table").first.bounding_box()["y"] < 300
    glance = page.locator("#figure-glance_forest > svg").bounding_box()
    assert glance["y"] < 1200 and glance["height"] > 150, glance
    page.close()


@pytest.mark.slow
def test_clicking_a_header_sorts_the_report_tables(browser, report):
    page, seen = open_page(browser, report / "report.html")
    main_tables = page.locator("table", has=page.locator("th", has_text="graphs/s [95% CI]"))
    assert main_tables.count() == len(tables(Results.read(RESULTS)))
    check_sorts(main_tables.first, "graphs/s [95% CI]")
    check_sorts(main_tables.first, "steps to target")
    assert seen["errors"] == []
    page.close()


def test_sort_rules(browser, tmp_path):
    """Numbers by value (commas and bold ignored), missing values last either way, text by text."""
    path = tmp_path / "sort.html"
    path.write_text(markdown_page(SORT_TABLE))
    page, seen = open_page(browser, path)
    table = page.locator("table")
    heads = table.locator("thead th")
    heads.nth(1).click()
    assert column(table, 0) == ["d", "a9", "b", "a10", "c", "e"]
    heads.nth(1).click()
    assert column(table, 0) == ["b", "a9", "d", "a10", "c", "e"]
    heads.nth(0).click()
    assert column(table, 0) == ["a9", "a10", "b", "c", "d", "e"]
    assert seen == {"errors": [], "fetched": []}
    page.close()


@pytest.mark.slow
def test_the_answer_names_a_strategy_for_each_dataset(browser, report):
    strategies = set(Results.read(RESULTS).records.strategy)
    page, _ = open_page(browser, report / "report.html")
    for dataset in ("nci5k", "qm9"):
        entries = page.locator(f'#answer [data-dataset="{dataset}"]')
        assert entries.count() == sum(d == dataset for d, _, _ in tables(Results.read(RESULTS)))
        for entry in entries.all():
            assert entry.is_visible()
            assert entry.locator("li").first.locator("code").first.text_content() in strategies
    page.close()


@pytest.mark.slow
def test_compare_page_loads_clean_and_sorts(browser, compare_page):
    page, seen = open_page(browser, compare_page)
    assert seen == {"errors": [], "fetched": []}
    assert page.title() == "compile-reference against default-reference"
    check_sorts(page.locator("table").first, "graphs/s A")
    page.close()


@pytest.mark.slow
def test_each_dataset_opens_with_its_forest_plot(browser, report):
    """Issue 26: the answer as a picture, first in each dataset's section and drawn on the page."""
    markdown = (report / "report.md").read_text()
    for dataset in ("nci5k", "qm9"):
        section = markdown.split(f"\n## {dataset}\n", 1)[1].split("\n## ", 1)[0]
        assert figures_of(section)[0] == f"{dataset}_forest"
        assert ("| model, view | strategy | real graphs/s / the leader's | steps to target / the "
                "leader's |") in section
    page, seen = open_page(browser, report / "report.html")
    for dataset in ("nci5k", "qm9"):
        svg = page.locator(f"#figure-{dataset}_forest > svg")
        assert svg.count() == 1 and svg.is_visible()
        box = svg.bounding_box()
        assert box["width"] > 300 and box["height"] > 150, box
        assert ("leader" in svg.inner_html()
                and ("slower" in svg.inner_html() or "undecided" in svg.inner_html()))
    assert seen == {"errors": [], "fetched": []}
    page.close()
