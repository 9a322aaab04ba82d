"""The webhook endpoints: signed requests are stored once, forged or stale ones change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from tests.models.feedback.people import T, person, reorder, sendgrid_batch
from tests.outreach.providers.test_webhook_signatures import make_key, sign

TOKEN = "twilio-test-token"
BASE = "https://enrich.example.org"


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    private, public = make_key()
    monkeypatch.setenv("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    monkeypatch.setenv("ENRICH_TWILIO_AUTH_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield private, get_settings()
    get_settings.cache_clear()


def client() -> TestClient:
    return TestClient(create_app())


def post_sendgrid(private: Any, body: bytes, *, stamp: str | None = None, **over: str) -> Response:
    stamp = stamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "X-Twilio-Email-Event-Webhook-Signature": sign(private, stamp, body),
        **over,
    }
    return client().post("/webhooks/sendgrid", content=body, headers=headers)


def counts(engine: Engine) -> tuple[int, list[str]]:
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(T["event"])).scalar_one()
        statuses = list(conn.execute(select(T["cp"].c.status).order_by(T["cp"].c.id)).scalars())
    return events, statuses


def test_signed_batch_twice_shuffled_with_duplicates_ends_as_once(keyed: tuple) -> None:
    private, settings = keyed
    engine = get_engine(settings)
    people = [person(engine, n, "email", f"{n}@example.com") for n in ("ann", "bob", "cat", "dan")]
    batch = sendgrid_batch(people)
    body = json.dumps(batch).encode()
    first = post_sendgrid(private, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 10, "new": 10, "duplicates": 0, "rejected": 0}
    once = counts(engine)
    assert once == (10, ["unverified", "bounced", "unverified", "opted_out"])
    for order in ("shuffled", "with_duplicates"):
        again = post_sendgrid(private, json.dumps(reorder(batch, order)).encode())
        assert again.status_code == 200
        assert again.json()["new"] == 0
    assert counts(engine) == once


@pytest.mark.parametrize("attack", ["unsigned", "bad_signature", "tampered", "stale"])
def test_forged_or_stale_sendgrid_requests_are_refused(keyed: tuple, attack: str) -> None:
    private, settings = keyed
    engine = get_engine(settings)
    people = [person(engine, "bob", "email", "bob@example.com")]
    body = json.dumps(sendgrid_batch(people)).encode()
    if attack == "unsigned":
        response = client().post("/webhooks/sendgrid", content=body)
    elif attack == "bad_signature":
        other, _ = make_key()
        response = post_sendgrid(other, body)
    elif attack == "tampered":
        stamp = str(int(time.time()))
        signature = sign(private, stamp, body)
        response = post_sendgrid(
            private,
            body.replace(b'"bounce"', b'"delivered"'),
            stamp=stamp,
            **{"X-Twilio-Email-Event-Webhook-Signature": signature},
        )
    else:
        response = post_sendgrid(private, body, stamp=str(int(time.time()) - 3600))
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert counts(engine) == (0, ["unverified"])


def test_sendgrid_without_a_key_answers_503_naming_the_setting(settings: Settings) -> None:
    response = client().post("/webhooks/sendgrid", content=b"[]")
    assert response.status_code == 503
    assert "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json()["detail"]


@pytest.mark.parametrize("body", [b"not json", b'{"event": "delivered"}', b"\xff\xfe"])
def test_signed_body_that_is_not_an_array_is_400(keyed: tuple, body: bytes) -> None:
    private, settings = keyed
    response = post_sendgrid(private, body)
    assert response.status_code == 400
    assert counts(get_engine(settings))[0] == 0


def post_twilio(
    path: str, form: dict[str, str], *, token: str = TOKEN, signed: bool = True
) -> Response:
    url = BASE + path
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, form)
    return client().post(path, content=urlencode(form), headers=headers)


def test_inbound_stop_opts_the_mobile_out(keyed: tuple) -> None:
    _, settings = keyed
    engine = get_engine(settings)
    person(engine, "ann", "mobile", "+31612345678")
    form = {"MessageSid": "SM1", "From": "+31612345678", "To": "+3197010", "Body": "STOP"}
    response = post_twilio("/webhooks/twilio/inbound", form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    assert counts(engine) == (1, ["opted_out"])


@pytest.mark.parametrize("how", ["missing", "wrong_token", "tampered"])
def test_forged_twilio_requests_are_refused(keyed: tuple, how: str) -> None:
    _, settings = keyed
    engine = get_engine(settings)
    person(engine, "ann", "mobile", "+31612345678")
    form = {"MessageSid": "SM1", "From": "+31612345678", "Body": "STOP"}
    path = "/webhooks/twilio/inbound"
    if how == "missing":
        response = post_twilio(path, form, signed=False)
    elif how == "wrong_token":
        response = post_twilio(path, form, token="guessed")
    else:
        url = BASE + path
        signature = RequestValidator(TOKEN).compute_signature(url, {**form, "Body": "hello"})
        response = client().post(
            path,
            content=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
    assert response.status_code == 403
    assert counts(engine) == (0, ["unverified"])


def test_status_callback_with_dead_number_marks_invalid(keyed: tuple) -> None:
    _, settings = keyed
    engine = get_engine(settings)
    ann = person(engine, "ann", "mobile", "+31612345678")
    form = {"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    path = f"/webhooks/twilio/status?oid={ann.outreach_id}"
    response = post_twilio(path, form)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": 0}
    assert counts(engine) == (1, ["invalid"])
    again = post_twilio(path, form)
    assert again.json()["duplicates"] == 1
    assert counts(engine) == (1, ["invalid"])


def test_twilio_without_a_token_answers_503(settings: Settings) -> None:
    response = client().post("/webhooks/twilio/status", content=b"MessageSid=SM1")
    assert response.status_code == 503
    assert "ENRICH_TWILIO_AUTH_TOKEN" in response.json()["detail"]
