"""Every response carries the security headers; an oversized body is refused with 413."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app


@pytest.fixture
def small(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("ENRICH_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def assert_secure(headers: object) -> None:
    h = dict(headers)  # type: ignore[call-overload]
    csp = h["content-security-policy"]
    for part in ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'",
                 "base-uri 'none'"):  # fmt: skip
        assert part in csp
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert "camera=()" in h["permissions-policy"]


def test_headers_on_every_kind_of_response(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/page")
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    with TestClient(app) as client:
        for response in (
            client.get("/page"),
            client.get("/nowhere"),  # 404
            client.get("/webhooks/sendgrid"),  # 405
            client.post("/webhooks/sendgrid", content=b"[]"),  # 503: not configured
        ):
            assert_secure(response.headers)
        html = client.get("/page")
    assert html.headers["cache-control"] == "no-store"


def test_oversized_body_is_413_declared_or_streamed(small: Settings) -> None:
    with TestClient(create_app()) as client:
        declared = client.post("/webhooks/sendgrid", content=b"[" + b" " * 4096 + b"]")
        assert declared.status_code == 413
        assert_secure(declared.headers)

        def chunks() -> Iterator[bytes]:
            for _ in range(4):
                yield b" " * 1024

        streamed = client.post("/webhooks/twilio/inbound", content=chunks())
        assert streamed.status_code == 413
        fits = client.post("/webhooks/sendgrid", content=b"[]")
        assert fits.status_code == 503  # under the limit: reaches the endpoint


def test_nothing_is_built_at_import_time() -> None:
    import enrich.web.app as module

    assert not hasattr(module, "app")
