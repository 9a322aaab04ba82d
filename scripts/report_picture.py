"""The README's picture of the steward's report: the sample report of the tests rendered to HTML,
opened in Debian's chromium through Playwright, and the first screen saved as a PNG.

    python scripts/report_picture.py [--out examples/report.png] [--html FILE]

Run from the repository root after ``make setup``; ``--html`` also keeps the page itself.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import FloatRect, ViewportSize, sync_playwright

from enrich.documents.round_report import render_report_html

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# The browser tests' flags: without network, chromium's background services stall otherwise.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# A laptop-sized window at 1:1 pixels; the picture runs from the top of the page down to the
# first round's drop-off chart (the rounds, the first round's figures, funnel and drop-off).
VIEWPORT: ViewportSize = {"width": 960, "height": 900}
LAST = "#round-3-drop-off-chart"
MARGIN_PX = 6


def sample_html() -> str:
    """The tests' sample report as HTML (the sample lives with the tests, outside the package)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    sample = importlib.import_module("tests.enrich.report_sample").sample_report()
    return render_report_html(sample, templates_dir=REPO / "templates")


def take_picture(html: str, out: Path) -> int:
    """Screenshots the page to ``out`` (PNG); returns the file's size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(page_file.as_uri())
                box = page.locator(LAST).bounding_box()
                if box is None:
                    raise SystemExit(f"the sample report has no {LAST}")
                height = box["y"] + box["height"] + MARGIN_PX
                clip: FloatRect = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
                page.screenshot(path=str(out), type="png", full_page=True, clip=clip)
            finally:
                browser.close()
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "report.png")
    parser.add_argument("--html", type=Path, help="also write the rendered page here")
    args = parser.parse_args()
    html = sample_html()
    if args.html:
        args.html.write_text(html, encoding="utf-8")
    size = take_picture(html, args.out)
    print(f"{args.out}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
