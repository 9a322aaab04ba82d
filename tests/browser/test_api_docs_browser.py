"""The machine API's documentation in a real browser, on a machine that reaches no other host:
Swagger UI renders the contact-moment operation from our own files, and the page's policy
blocks nothing it needs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_api_docs_render_offline_with_nothing_blocked(page: Page, live_server: str) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None,
    )
    page.goto(f"{live_server}/api/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/contact-moments")
    expect(operation).to_be_visible(timeout=15_000)
    # The contact-moment API, the five data-subject routes and the changes feed.
    assert page.locator(".opblock").count() == 7
    expect(page.locator(".opblock-summary-path", has_text="/api/changes")).to_be_visible()
    assert errors == [], errors
    assert outside == [], outside
