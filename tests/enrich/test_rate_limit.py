"""The landing page's rate limit: per customer behind a trusted proxy, and in total across
several ``enrich serve`` processes on one database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from models.tables import RATE_LIMIT
from tests.standins.common import free_port

LIMIT = 4
# Windows are aligned on the epoch: with windows of about three years, a test's requests never
# straddle two of them (with the default minute, a slow run may, and the count starts again).
WINDOW = str(10**8)
PROXY = ("10.1.2.3", 41000)  # the TLS proxy, as the app's peer
HITS = RATE_LIMIT


@pytest.fixture
def limited(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("ENRICH_LANDING_RATE_LIMIT", str(LIMIT))
    monkeypatch.setenv("ENRICH_LANDING_RATE_WINDOW_SECONDS", WINDOW)
    monkeypatch.setenv("ENRICH_TRUSTED_PROXIES", "10.1.0.0/16, 192.0.2.10")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def lookups(client: TestClient, forwarded_for: str | None, n: int) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [client.get("/c/not-a-token", headers=headers).status_code for _ in range(n)]


def test_behind_a_trusted_proxy_each_customer_has_their_own_limit(limited: Settings) -> None:
    with TestClient(create_app(limited), client=PROXY) as proxy:
        ann = lookups(proxy, "203.0.113.7", LIMIT + 1)
        # The next customers through the same proxy are not refused because of ann.
        bob = lookups(proxy, "203.0.113.8", LIMIT)
        # A client cannot dodge the limit by writing its own X-Forwarded-For: the proxy appends
        # the address it saw, and the right-most address that is no trusted proxy counts.
        spoofed = lookups(proxy, "198.51.100.99, 203.0.113.7", 1)
        # Addresses of trusted proxies in the chain are skipped (here a second proxy).
        chained = lookups(proxy, "203.0.113.7, 192.0.2.10", 1)
    assert ann == [404] * LIMIT + [429]
    assert bob == [404] * LIMIT
    assert spoofed == [429] and chained == [429]


def test_from_an_untrusted_peer_the_forwarded_header_is_ignored(limited: Settings) -> None:
    with TestClient(create_app(limited), client=("198.51.100.20", 5000)) as direct:
        answers = [
            direct.get("/c/x", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(LIMIT + 2)
        ]
    assert answers == [404] * LIMIT + [429, 429]


def test_with_no_trusted_proxies_the_header_is_ignored(settings: Settings, engine: Engine) -> None:
    small = settings.model_copy(
        update={"landing_rate_limit": LIMIT, "landing_rate_window_seconds": int(WINDOW)}
    )
    with TestClient(create_app(small), client=PROXY) as client:
        answers = [
            client.get("/c/x", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(LIMIT + 1)
        ]
    assert answers == [404] * LIMIT + [429]
    with engine.connect() as conn:
        keys = list(conn.execute(select(HITS.c.client_key)).scalars())
    assert keys and all(PROXY[0] not in key for key in keys)  # a keyed hash, never the address


def test_an_unreadable_trusted_proxies_setting_names_the_variable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICH_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="ENRICH_TRUSTED_PROXIES"):
        get_settings()


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    enrich = Path(sys.executable).with_name("enrich")
    return subprocess.Popen(
        [str(enrich), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "enrich serve exited"
        try:
            if httpx.get(f"{url}/static/landing.css", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start")


def test_the_limit_holds_in_total_across_two_server_processes(settings: Settings) -> None:
    env = {
        **os.environ,
        "ENRICH_LANDING_RATE_LIMIT": str(LIMIT),
        "ENRICH_LANDING_RATE_WINDOW_SECONDS": WINDOW,
    }
    ports = [free_port(), free_port()]
    procs = [_serve(port, env) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, proc in zip(urls, procs, strict=True):
            _wait_ready(url, proc)
        # The same customer, alternately on either process: LIMIT lookups in all, not each.
        answers = [
            httpx.get(f"{urls[n % 2]}/c/not-a-token", timeout=10).status_code
            for n in range(2 * LIMIT)
        ]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    assert answers == [404] * LIMIT + [429] * LIMIT
