"""A Chromium-family browser driven by playwright: the HTML pages' browser tests and screenshots.

``python -m bench_lib.report.browser screenshot PAGE.html OUT.png [--width 1280] [--height 1600]``
saves what a window of that size shows of the top of ``PAGE.html``.

The browser is the system's (``$BENCH_LIB_CHROMIUM``, else ``chromium``,
``chromium-browser`` or ``google-chrome`` on the PATH); playwright's own
browser download is never used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

__all__ = ["find_chromium", "chromium", "screenshot", "ENV", "INSTALL"]

ENV = "BENCH_LIB_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = ("install a browser (Debian/Ubuntu: apt-get install chromium; or set $BENCH_LIB_CHROMIUM "
           "to a Chromium-family executable) and playwright (pip install -e '.[dev]')")
#: Headless and quiet: no sandbox (CI runs as root), no GPU, nothing fetched in the background.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def find_chromium() -> str | None:
    """The browser's executable: ``$BENCH_LIB_CHROMIUM`` (a path or a name on the PATH; an error
    when it names nothing), else the first of :data:`NAMES` on the PATH, else None."""
    chosen = os.environ.get(ENV)
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise FileNotFoundError(f"${ENV}={chosen} is not an executable")
        return found
    return next(filter(None, map(shutil.which, NAMES)), None)


@contextmanager
def chromium(executable: str | None = None):
    """A headless playwright ``Browser`` on ``executable`` (default: :func:`find_chromium`)."""
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError(f"no Chromium-family browser found: {INSTALL}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Path | str, out: Path | str, width: int = 1280, height: int = 1600) -> Path:
    """Save to ``out`` (PNG) the top ``width`` x ``height`` CSS pixels of the HTML file ``page``."""
    out = Path(out)
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": width, "height": height})
        tab.goto(Path(page).resolve().as_uri())
        tab.screenshot(path=str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench_lib.report.browser",
                                     description="Drive the system's Chromium (headless) on a "
                                                 "report page.")
    sub = parser.add_subparsers(dest="command", required=True)
    shot = sub.add_parser("screenshot", help="save the top of an HTML page as a PNG (what a window "
                                             "shows)")
    shot.add_argument("page", type=Path, help="the HTML file, e.g. "
                                              "reports/default-reference/report.html")
    shot.add_argument("out", type=Path, help="the PNG to write")
    shot.add_argument("--width", type=int, default=1280,
                      help="window width in CSS pixels (default 1280)")
    shot.add_argument("--height", type=int, default=1600,
                      help="window height in CSS pixels (default 1600)")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"error: {args.page} not found", file=sys.stderr)
        return 2
    try:
        print(screenshot(args.page, args.out, args.width, args.height))
    except ImportError as err:
        print(f"error: {err}: {INSTALL}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
