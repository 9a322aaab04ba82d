"""Signed but malformed webhooks never answer 5xx: a bad event is kept as rejected and the rest
of its batch applies, a bad request gets a terse 4xx, and only a database error answers 5xx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from models.tables import REJECTED
from tests.enrich.test_webhooks import BASE, TOKEN, counts
from tests.models.feedback.people import person
from tests.outreach.providers.test_webhook_signatures import make_key, sign


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """Both providers' secrets set: (SendGrid signing key, settings)."""
    private, public = make_key()
    monkeypatch.setenv("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    monkeypatch.setenv("ENRICH_TWILIO_AUTH_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield private, get_settings()
    get_settings.cache_clear()


def client() -> TestClient:
    # A 500 must show as the status a provider would see, not as an exception in the test.
    return TestClient(create_app(), raise_server_exceptions=False)


def post_sendgrid(private: Any, body: bytes) -> Response:
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "X-Twilio-Email-Event-Webhook-Signature": sign(private, stamp, body),
    }
    return client().post("/webhooks/sendgrid", content=body, headers=headers)


def post_twilio(path: str, form: dict[str, str]) -> Response:
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return client().post(path, content=urlencode(form), headers=headers)


def rejected(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(REJECTED.c.provider, REJECTED.c.reason, REJECTED.c.excerpt).order_by(
                REJECTED.c.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


MALFORMED_EVENTS: list[tuple[Any, str]] = [
    ({"event": "delivered", "sg_event_id": "big", "outreach_id": str(2**63)}, "outreach_id"),
    ({"event": "delivered", "sg_event_id": "bigint", "outreach_id": 2**63}, "outreach_id"),
    ({"event": "delivered", "sg_event_id": "neg", "outreach_id": -4}, "outreach_id"),
    ({"event": "delivered", "sg_event_id": "word", "outreach_id": "abc"}, "outreach_id"),
    ({"event": "open", "sg_event_id": "t1", "timestamp": "soon"}, "timestamp"),
    ({"event": "open", "sg_event_id": "t2", "timestamp": 10**20}, "timestamp"),
    ({"event": "bounce", "sg_event_id": "e1", "email": ["a@example.com"]}, "email"),
    ({"event": "bounce", "sg_event_id": "x" * 5000}, "sg_event_id"),
    ({"event": {"nested": True}, "sg_event_id": "n1"}, "event"),
    ({"event": "delivered", "sg_event_id": "nul\u0000"}, "cannot be stored"),
    ({"sg_event_id": "noname"}, "event name"),
    ("not an object", "not an object"),
    (17, "not an object"),
    ([{"event": "bounce"}], "not an object"),
]


def test_malformed_events_are_kept_as_rejected_and_the_rest_of_the_batch_applies(
    keyed: tuple,
) -> None:
    private, settings = keyed
    engine = get_engine(settings)
    bob = person(engine, "bob", "email", "bob@example.com")
    good = {
        "event": "bounce",
        "type": "bounce",
        "sg_event_id": "good-bounce",
        "email": "bob@example.com",
        "timestamp": int(time.time()) - 60,
        "outreach_id": str(bob.outreach_id),
    }
    batch = [item for item, _ in MALFORMED_EVENTS] + [good]
    body = json.dumps(batch).encode()
    # An unpaired surrogate, as JSON writes it: json.dumps would not produce one.
    body = body[:-1] + b', {"event": "delivered", "sg_event_id": "\\ud800"}]'

    answer = post_sendgrid(private, body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "received": len(MALFORMED_EVENTS) + 2,
        "new": 1,
        "duplicates": 0,
        "rejected": len(MALFORMED_EVENTS) + 1,
    }
    assert counts(engine) == (1, ["bounced"])  # the good event applied
    stored = rejected(engine)
    reasons = [reason for _, reason, _ in stored]
    for (_, why), reason in zip(MALFORMED_EVENTS, reasons, strict=False):
        assert why in reason
    assert "cannot be stored" in reasons[-1]
    assert {provider for provider, _, _ in stored} == {"sendgrid"}
    for _, _, excerpt in stored:
        assert len(excerpt) <= 2000
        assert "a@example.com" not in excerpt

    again = post_sendgrid(private, body)  # the provider retries: nothing is stored twice
    assert again.status_code == 200
    assert again.json()["rejected"] == 0 and again.json()["new"] == 0
    assert len(rejected(engine)) == len(stored)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,  # RecursionError in the parser
        b'[{"event": "open", "pool": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}]",
        b'[{"event": "delivered", "sg_event_id": "x", "timestamp": NaN}]',
        b'[{"event": "delivered", "sg_event_id": "x", "score": Infinity}]',
        b'{"event": "delivered"}',
        b'"a string"',
        b"42",
        b"null",
        b"not json",
        b"\xff\xfe[]",
    ],
)
def test_a_malformed_request_is_a_terse_4xx_and_stores_nothing(keyed: tuple, body: bytes) -> None:
    private, settings = keyed
    answer = post_sendgrid(private, body)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"detail"} and len(answer.json()["detail"]) < 80
    engine = get_engine(settings)
    assert counts(engine)[0] == 0
    assert rejected(engine) == []


@pytest.mark.parametrize(
    "oid", [str(2**63), "9" * 5000, "²", "-1", "0", "1e3"], ids=lambda o: o[:8]
)
def test_a_status_callback_with_a_bad_oid_is_400(keyed: tuple, oid: str) -> None:
    _, settings = keyed
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    answer = post_twilio(f"/webhooks/twilio/status?{urlencode({'oid': oid})}", form)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"detail": "oid must be an outreach id"}
    assert counts(get_engine(settings))[0] == 0


@pytest.mark.parametrize(
    ("path", "form", "reason"),
    [
        (
            "/webhooks/twilio/status",
            {"MessageSid": "SM" + "f" * 100_000, "MessageStatus": "sent"},
            "MessageSid",
        ),
        (
            "/webhooks/twilio/inbound",
            {"MessageSid": "SM" + "f" * 100_000, "From": "+31612345678", "Body": "STOP"},
            "MessageSid",
        ),
        (
            "/webhooks/twilio/status",
            {"MessageSid": "SM2", "MessageStatus": "failed", "ErrorCode": "²"},
            "ErrorCode",
        ),
        (
            "/webhooks/twilio/status",
            {"MessageSid": "SM3", "MessageStatus": "failed", "ErrorCode": "9" * 5000},
            "ErrorCode",
        ),
        (
            "/webhooks/twilio/inbound",
            {"MessageSid": "SM4", "From": "+31612345678", "Body": "STOP\u0000"},
            "cannot be stored",
        ),
        (
            "/webhooks/twilio/status",
            {"MessageSid": "SM5", "MessageStatus": "x" * 10_000},
            "MessageStatus",
        ),
    ],
    ids=["huge-sid-status", "huge-sid-inbound", "odd-digit", "huge-code", "nul", "huge-status"],
)
def test_a_malformed_twilio_callback_is_400_and_kept_as_rejected(
    keyed: tuple, path: str, form: dict[str, str], reason: str
) -> None:
    _, settings = keyed
    engine = get_engine(settings)
    person(engine, "ann", "mobile", "+31612345678")
    started = time.monotonic()
    answer = post_twilio(path, form)
    assert time.monotonic() - started < 10  # a long field must not take quadratic time
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]
    assert counts(engine) == (0, ["unverified"])  # the STOP inside a bad callback did nothing
    [(provider, why, excerpt)] = rejected(engine)
    assert provider == "twilio" and reason in why
    assert len(excerpt) <= 2000 and "31612345678" not in excerpt


def test_a_database_error_still_answers_5xx_so_the_provider_retries(keyed: tuple) -> None:
    private, settings = keyed
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE delivery_event"))
    body = json.dumps([{"event": "delivered", "sg_event_id": "d1"}, "malformed"]).encode()
    answer = post_sendgrid(private, body)
    assert answer.status_code == 503
    assert answer.json() == {"detail": "events not stored: database unavailable, retry later"}
    with engine.connect() as conn:  # one transaction: the rejected event is not kept either
        assert conn.execute(select(func.count()).select_from(REJECTED)).scalar_one() == 0
