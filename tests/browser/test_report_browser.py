"""The steward's report opened from a file in a real browser, as a manager opens it from a mail:
every chart is drawn with a size, every table is there, nothing is fetched, nothing errs, and on
a phone only the tables scroll sideways, not the page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from enrich.documents.round_report import render_report_html
from tests.conftest import REPO
from tests.enrich.report_sample import sample_report

pytestmark = pytest.mark.browser

CHARTS = 10  # six for the finished round, four for the running one (no costs, no forecast)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report_html(sample_report(), templates_dir=REPO / "templates"))
    return path


def watch(page: Page, url: str) -> list[str]:
    """Console errors, page errors and any request for something other than the file itself."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: problems.append(r.url) if r.url != url else None)
    return problems


def test_the_report_shows_every_chart_and_table_with_nothing_fetched(
    page: Page, report_file: Path
) -> None:
    problems = watch(page, report_file.as_uri())
    page.goto(report_file.as_uri())
    charts = page.locator("svg[role=img]")
    assert charts.count() == CHARTS
    for i in range(CHARTS):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80, box
    funnel = page.get_by_role("img", name="Round 3: funnel per step and channel")
    expect(funnel).to_be_visible()
    expect(funnel.locator("text", has_text="1,000")).to_have_count(1)
    cost = page.get_by_role("table", name="Round 3 · default v2 · finished: Cost")
    expect(cost.get_by_role("row").last).to_have_text("total2,014€520.22")
    # The list of rounds, eight tables of the finished round, seven of the running one.
    expect(page.get_by_role("table")).to_have_count(16)
    page.get_by_role("link", name="4").click()
    expect(
        page.get_by_role("heading", name="Round 4 · consents-2027 v1 · active")
    ).to_be_in_viewport()
    assert problems == [], problems


def test_on_a_phone_the_charts_fit_and_only_tables_scroll(
    new_context: Callable[..., BrowserContext], report_file: Path
) -> None:
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    problems = watch(page, report_file.as_uri())
    page.goto(report_file.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for box in (c.bounding_box() for c in page.locator("svg[role=img]").all()):
        assert box is not None and 0 < box["width"] <= 390 and box["height"] > 0, box
    assert problems == [], problems
