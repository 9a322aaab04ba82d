"""A bounded fuzz of every route of the web app: hostile input never gets a 5xx or an exception.

Hypothesis generates the input, derandomized (the same examples on every run) with a fixed
number of examples and a deadline per example. Webhook bodies are signed the way the providers
sign them, and landing-page forms carry a real link and CSRF token, so the input reaches past
the signature and token checks into parsing, validation and the database (SQLite and
PostgreSQL). Every route of the app must be fuzzed here: a new route fails the coverage test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from tests.enrich.fuzz_inputs import (
    CONTENT_TYPES,
    CUSTOMER,
    form_text,
    json_bytes,
    json_text,
    json_values,
    landing_forms,
    moment_bodies,
    outreach_ids,
    path_tokens,
    raw_bodies,
    sendgrid_bodies,
    twilio_forms,
)
from tests.enrich.landing_helpers import csrf_of
from tests.factories import add_profile
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, make_case
from tests.outreach.providers.test_webhook_signatures import make_key, sign

TWILIO_TOKEN = "fuzz-twilio-token"

API_KEY = "fuzz-api-key-0123456789abcdef"

BASE = "https://enrich.example.org"

FUZZ = fuzz_settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Settings]]:
    """Every endpoint configured (so none answers 503), and a rate limit the fuzz never hits."""
    private, public = make_key()
    monkeypatch.setenv("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    monkeypatch.setenv("ENRICH_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("ENRICH_API_KEYS", API_KEY)
    monkeypatch.setenv("ENRICH_LANDING_RATE_LIMIT", "1000000")
    get_settings.cache_clear()
    yield private, get_settings()
    get_settings.cache_clear()


def client(settings: Settings) -> TestClient:
    # raise_server_exceptions (the default): an uncaught exception fails the example itself.
    return TestClient(create_app(settings), base_url="https://testserver")


def assert_no_server_error(response: Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found: set[tuple[str, str]] = set()
    todo = list(app.routes)
    while todo:
        route = todo.pop()
        if hasattr(route, "effective_route_contexts"):
            todo.extend(route.effective_route_contexts())
            continue
        methods = getattr(route, "methods", None) or set()
        found.update((m, route.path) for m in methods if m != "HEAD")  # type: ignore[attr-defined]
    return found


FUZZED = {
    ("GET", "/c/{token}"),
    ("POST", "/c/{token}"),
    ("POST", "/code"),
    ("GET", "/e/{token}"),
    ("POST", "/e/{token}"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/static/landing.css"),
    ("POST", "/webhooks/sendgrid"),
    ("POST", "/webhooks/twilio/status"),
    ("POST", "/webhooks/twilio/inbound"),
    ("POST", "/api/contact-moments"),
    ("POST", "/api/data-subjects/export"),
    ("POST", "/api/data-subjects/erase"),
    ("POST", "/api/data-subjects/object"),
    ("POST", "/api/data-subjects/restrict"),
    ("POST", "/api/data-subjects/dossier"),
    ("GET", "/api/changes"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


def test_every_route_of_the_app_is_fuzzed(fuzz_app: tuple[Any, Settings]) -> None:
    _, settings = fuzz_app
    assert routes(create_app(settings)) == FUZZED


def fill(path: str, token: str) -> str:
    return path.replace("{token}", token).replace("{external_id}", token)


def test_any_route_with_any_body_and_content_type(fuzz_app: tuple[Any, Settings]) -> None:
    _, settings = fuzz_app
    with client(settings) as c:

        @FUZZ
        @given(
            route=st.sampled_from(sorted(FUZZED)),
            token=path_tokens,
            body=raw_bodies | sendgrid_bodies,
            content_type=st.sampled_from(CONTENT_TYPES),
            query=st.dictionaries(form_text, form_text, max_size=3),
        )
        def run(
            route: tuple[str, str], token: str, body: bytes, content_type: str, query: dict
        ) -> None:
            method, path = route
            response = c.request(
                method,
                fill(path, token or "x") + "?" + urlencode(query),
                content=body if method == "POST" else None,
                headers={"Content-Type": content_type, "X-Forwarded-For": "203.0.113.9"},
            )
            assert_no_server_error(response)

        run()


def test_landing_pages_with_a_real_link_and_csrf_token(
    fuzz_app: tuple[Any, Settings], engine: Engine
) -> None:
    _, settings = fuzz_app
    case = make_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["missing_mobile"])
    with client(settings) as c:

        @FUZZ
        @given(
            form=landing_forms,
            where=st.sampled_from(["/c/{token}", "/code", "/e/{token}", "/u/{token}"]),
            real=st.booleans(),
            token=path_tokens,
            lang=form_text,
        )
        def run(form: dict, where: str, real: bool, token: str, lang: str) -> None:
            # The form's CSRF token comes from the personal page, valid for /c/ and bound there.
            page = c.get(f"/c/{case.token}")
            data = dict(form)
            if page.status_code == 200 and real:
                data.setdefault("csrf_token", csrf_of(page))
            path = fill(where, case.token if real else token or "x")
            assert_no_server_error(c.get(f"{path}?{urlencode({'lang': lang})}"))
            assert_no_server_error(c.post(path, data=data))

        run()


def signed_sendgrid(private: Any, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "X-Twilio-Email-Event-Webhook-Signature": sign(private, stamp, body),
    }


def test_signed_sendgrid_batches(fuzz_app: tuple[Any, Settings]) -> None:
    private, settings = fuzz_app
    with client(settings) as c:

        @FUZZ
        @given(body=sendgrid_bodies)
        def run(body: bytes) -> None:
            headers = signed_sendgrid(private, body)
            assert_no_server_error(c.post("/webhooks/sendgrid", content=body, headers=headers))

        run()


def test_signed_twilio_callbacks(fuzz_app: tuple[Any, Settings]) -> None:
    _, settings = fuzz_app
    validator = RequestValidator(TWILIO_TOKEN)
    with client(settings) as c:

        @FUZZ
        @given(
            form=twilio_forms,
            inbound=st.booleans(),
            oid=outreach_ids,
        )
        def run(form: dict[str, str], inbound: bool, oid: str | None) -> None:
            path = "/webhooks/twilio/inbound" if inbound else "/webhooks/twilio/status"
            if oid is not None and not inbound:
                path += "?" + urlencode({"oid": oid})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(BASE + path, form),
            }
            response = c.post(path, content=urlencode(form), headers=headers)
            assert_no_server_error(response)
            assert response.status_code != 403, "the fuzz must reach past the signature check"

        run()


def test_contact_moment_api_with_a_valid_key(
    fuzz_app: tuple[Any, Settings], engine: Engine
) -> None:
    _, settings = fuzz_app
    with engine.begin() as conn:  # a customer with gaps, so some asks are really made
        add_profile(conn, CUSTOMER, [{"kind": "email", "status": "valid"}])
    with client(settings) as c:

        @FUZZ
        @given(body=moment_bodies, bearer=st.booleans())
        def run(body: bytes, bearer: bool) -> None:
            auth = {"Authorization": f"Bearer {API_KEY}"} if bearer else {"X-API-Key": API_KEY}
            response = c.post(
                "/api/contact-moments",
                content=body,
                headers={"Content-Type": "application/json", **auth},
            )
            assert_no_server_error(response)
            assert response.status_code != 401

        run()


rights_bodies = st.fixed_dictionaries(
    {"external_id": st.just(CUSTOMER) | json_text},
    optional={
        "requested_by": json_values | json_text,
        "reason": json_values | json_text,
        "purpose": json_values | st.sampled_from(["newsletter", "service"]),
        "withdraw": json_values,
        "lift": json_values,
    },
).map(json_bytes)


def test_data_subject_api_with_a_valid_key(fuzz_app: tuple[Any, Settings], engine: Engine) -> None:
    _, settings = fuzz_app
    with engine.begin() as conn:  # a customer to export, object to, restrict and erase
        add_profile(conn, CUSTOMER, [{"kind": "email", "status": "valid"}])
    with client(settings) as c:

        @FUZZ
        @given(
            body=rights_bodies | raw_bodies,
            action=st.sampled_from(["export", "dossier", "erase", "object", "restrict"]),
        )
        def run(body: bytes, action: str) -> None:
            response = c.post(
                f"/api/data-subjects/{action}",
                content=body,
                headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
            )
            assert_no_server_error(response)
            assert response.status_code != 401

        run()


def test_changes_feed_with_a_valid_key_and_any_query(
    fuzz_app: tuple[Any, Settings], engine: Engine
) -> None:
    _, settings = fuzz_app
    with engine.begin() as conn:
        add_profile(conn, CUSTOMER, [{"kind": "email", "status": "valid"}])
    numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str)
    with client(settings) as c:

        @FUZZ
        @given(
            query=st.dictionaries(
                st.sampled_from(["since", "until", "limit"]), numbers | form_text, max_size=3
            )
        )
        def run(query: dict[str, str]) -> None:
            response = c.get("/api/changes?" + urlencode(query), headers={"X-API-Key": API_KEY})
            assert_no_server_error(response)
            assert response.status_code in (200, 422), response.text[:200]

        run()
