"""Browser fixtures: Debian's chromium driven by Playwright, and the app served by uvicorn.

Playwright never downloads a browser here: the project's setup installs the system chromium,
and these fixtures launch exactly that executable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from tests.conftest import IN_CI
from tests.standins.common import free_port, serve_in_thread

CHROMIUM = Path(os.environ.get("ENRICH_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without network, chromium's background services stall on refused connections.
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
# Fail fast: every step of these tests takes well under a second when the page works.
ACTION_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"chromium not found at {CHROMIUM}; run scripts/system-deps.sh"
        if IN_CI:
            pytest.fail(f"The browser tests must run in CI: {message}", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Make a fresh browser context (own cookies); all are closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture
def live_server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app on a free local port; personal links in the outbox point at it. Yields the URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Before the app's settings are built, so every link the app writes points here.
    monkeypatch.setenv("ENRICH_BASE_URL", base_url)
    get_settings.cache_clear()
    with serve_in_thread(create_app(get_settings()), port=port):
        yield base_url
