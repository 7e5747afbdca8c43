"""Self-contained HTML pages made from the Markdown a report already writes.

The Markdown is the one source of the content: it is rendered with the
``markdown`` package (raw HTML in it is escaped, not passed through), then
every figure (an image paragraph followed by its caption paragraph) becomes a
``<figure>`` holding the figure's SVG inline, its ids prefixed per figure so
that several matplotlib SVGs can share a page. Tables sort by a click on
their header (numbers by value, missing values last). No file, font or
script is fetched from anywhere: the page works offline, alone.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from pathlib import Path

import markdown

__all__ = ["render_markdown", "markdown_page", "answer_html", "json_details", "inline_svg"]

_FIGURE = re.compile(r'<p><img alt="([^"]*)" src="([^"]+)"\s*/?></p>\s*(?:<p>((?:(?!<img '
                     r').)*?)</p>)?', re.S)

# The page's style and its table sorting, as the files beside this module hold them.
_CSS = (Path(__file__).parent / "page.css").read_text(encoding="utf-8")
_JS = (Path(__file__).parent / "page.js").read_text(encoding="utf-8")


def render_markdown(text: str) -> str:
    """HTML of Markdown ``text`` (tables included); raw HTML and entities in it are shown as
    text."""
    md = markdown.Markdown(extensions=["tables"], output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.inlinePatterns.deregister("entity")
    return md.convert(text)


def inline_svg(path: Path, prefix: str) -> str:
    """The SVG at ``path`` for inlining: without its XML prolog, DOCTYPE and metadata, and every id
    (and every reference to one) prefixed with ``prefix``."""
    svg = Path(path).read_text()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = re.sub(r'(\s)id="', rf'\1id="{prefix}', svg)
    svg = re.sub(r"url\(#", f"url(#{prefix}", svg)
    return re.sub(r'((?:xlink:)?href)="#', rf'\1="#{prefix}', svg)


def _figures(body: str, figure_dir: Path) -> str:
    """Each image paragraph (and the caption paragraph after it) -> a ``<figure>`` with the image's
    SVG inline; the alt text is the figure's label when no caption follows."""
    count = itertools.count()

    def figure(m: re.Match) -> str:
        alt, src, caption = m.group(1), html.unescape(m.group(2)), m.group(3)
        stem = Path(src).stem
        svg = inline_svg(figure_dir / f"{stem}.svg", f"svg{next(count)}-")
        label = html.escape(html.unescape(alt), quote=True)
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
        return (f'<figure id="figure-{html.escape(stem)}">\n{svg}\n'
                f"<figcaption>{caption if caption is not None else alt}</figcaption>\n</figure>")

    body = _FIGURE.sub(figure, body)
    # an image the pattern did not take would be fetched: the page would not stand alone
    if "<img" in body:
        raise ValueError("an image of the report was not inlined: "
                         + body[body.index("<img"):][:120])
    return body


def answer_html(entries: list[tuple[str, str, str, list[str]]]) -> str:
    """The answer block: one entry per ``(dataset, model, view, sentences)``, the sentences
    (Markdown) as the report states them."""
    parts = ['<section id="answer">', "<h2>The answer</h2>",
             "<p>Per dataset, model and fairness view: which strategy leads in real graphs/s and "
             "in steps and time to the target, and every other strategy against it: faster or "
             "slower by how much, equivalent within the margin, or undecided with how much more "
             "measuring would decide it. The tables, figures and how it was measured follow.</p>"]
    for dataset, model, view, sentences in entries:
        attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in
                         (("dataset", dataset), ("model", model), ("view", view)))
        parts += [f'<div class="entry" {attrs}>',
                  f"<h3>{html.escape(dataset)}, <code>{html.escape(model)}</code>, "
                  f"{html.escape(view)}</h3>",
                  render_markdown("\n".join(f"- {s}" for s in sentences)), "</div>"]
    return "\n".join(parts + ["</section>"])


def json_details(summary: str, data: dict) -> str:
    """A collapsed ``<details>`` holding ``data`` as indented JSON."""
    return (f"<details>\n<summary>{html.escape(summary)}</summary>\n"
            f"<pre>{html.escape(json.dumps(data, indent=2, sort_keys=True))}</pre>\n</details>")


def markdown_page(text: str, figure_dir: Path | None = None, lead: str = "", tail: str = "") -> str:
    """A self-contained HTML page of Markdown ``text``: its first heading the page's title, ``lead``
    (HTML) before its first section (``<h2>``; after the title when it has none), ``tail`` (HTML)
    at the end; with ``figure_dir``, images are
    inlined from the SVG saved beside each PNG there. Every table sorts by a click on its header."""
    body = render_markdown(text)
    if figure_dir is not None:
        body = _figures(body, Path(figure_dir))
    body = body.replace(
        "<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    title = first[2:].replace("`", "") if first.startswith("# ") else "bench_lib report"
    if lead:
        # after what opens the page (its title, and whatever precedes the first section)
        at = body.find("<h2")
        body = (body[:at] + lead + "\n" + body[at:] if at >= 0
                else body.replace("</h1>", "</h1>\n" + lead, 1) if "</h1>" in body
                else lead + "\n" + body)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n{tail}\n"
            f"</main>\n<script>{_JS}</script>\n</body>\n</html>\n")
