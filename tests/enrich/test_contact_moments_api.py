"""POST /api/contact-moments: keys, validation, answers, and a link the customer can really use."""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from enrich.settings import Settings
from enrich.web.app import create_app
from models.tables import ContactPoint, Enrollment, Outreach
from models.types import utcnow
from outreach.reference import message_reference
from tests.enrich.landing_helpers import submit
from tests.factories import add_profile, widened_campaign_file

KEY = "moment-key-for-billing-0123456789"
HASHED_KEY = "moment-key-for-the-crm-9876543210"
API_KEYS = f"{KEY}, sha256:{hashlib.sha256(HASHED_KEY.encode()).hexdigest()}"
EXTERNAL_ID = "CRM-000417"
GAPPY: list[dict[str, Any]] = [
    {"kind": "email", "status": "valid"},
    {"kind": "mobile", "status": "valid"},
    {"kind": "postal", "status": "unverified"},
]
BODY = {"external_id": EXTERNAL_ID, "channel": "email", "context": "invoice"}


def client(settings: Settings, api_keys: str | None = API_KEYS) -> TestClient:
    configured = settings.model_copy(
        update={"api_keys": SecretStr(api_keys) if api_keys is not None else None}
    )
    return TestClient(create_app(configured), base_url="https://testserver")


def post(c: TestClient, body: Any = BODY, key: str | None = KEY, **kw: Any) -> Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return c.post("/api/contact-moments", json=body, headers=headers, **kw)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The customer's only gap is an address not yet verified: the campaign is widened to it."""
    campaign = widened_campaign_file(tmp_path / "campaign.yaml", "unverified_postal")
    return settings.model_copy(update={"campaign_file": campaign})


@pytest.fixture
def customer(engine: Engine) -> int:
    with engine.begin() as conn:
        return add_profile(conn, EXTERNAL_ID, GAPPY)


def outreach_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Outreach)).all())


def test_no_keys_configured_answers_503_naming_the_setting(
    settings: Settings, customer: int
) -> None:
    with client(settings, api_keys=None) as c:
        answer = post(c)
    assert answer.status_code == 503 and "ENRICH_API_KEYS" in answer.json()["detail"]
    with client(settings, api_keys=" , ") as c:
        assert post(c).status_code == 503


def test_an_unusable_hashed_key_answers_503_without_repeating_it(
    settings: Settings, customer: int
) -> None:
    with client(settings, api_keys="sha256:not-hex-secretvalue") as c:
        answer = post(c)
    assert answer.status_code == 503 and "ENRICH_API_KEYS" in answer.json()["detail"]
    assert "secretvalue" not in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
        {"X-API-Key": KEY.upper()},
        {"X-API-Key": f"sha256:{hashlib.sha256(HASHED_KEY.encode()).hexdigest()}"},
    ],
)
def test_missing_or_wrong_key_is_401_and_changes_nothing(
    settings: Settings, engine: Engine, customer: int, headers: dict[str, str]
) -> None:
    with client(settings) as c:
        answer = c.post("/api/contact-moments", json=BODY, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert outreach_count(engine) == 0


def test_either_key_in_either_header_is_accepted(
    settings: Settings, engine: Engine, customer: int
) -> None:
    with client(settings) as c:
        bearer = post(c, key=HASHED_KEY)
        header = c.post(
            "/api/contact-moments",
            json={**BODY, "channel": "sms"},
            headers={"X-API-Key": KEY},
        )
    assert bearer.status_code == 200 and header.status_code == 200
    assert bearer.json()["ask"] is not None and header.json()["ask"] is not None
    assert outreach_count(engine) == 2


def test_the_ask_opens_the_landing_page_and_the_answer_completes_the_enrollment(
    settings: Settings, engine: Engine, customer: int
) -> None:
    with client(settings) as c:
        answer = post(c)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        ask = answer.json()["ask"]
        assert set(ask) == {"text", "html", "link", "qr_svg", "outreach_id", "expires_at"}
        link = urlsplit(ask["link"])
        assert (link.scheme, link.netloc) == ("https", "enrich.example.org")
        assert ET.fromstring(ask["qr_svg"]).tag == "{http://www.w3.org/2000/svg}svg"
        token = link.path.removeprefix("/c/")
        page = c.get(link.path)
        assert page.status_code == 200
        # The page quotes the block's own reference, the one the customer read in the message.
        reference = message_reference("moment", ask["outreach_id"])
        assert reference in ask["text"] and reference in page.text
        thanks = submit(c, token, {"postal_action": "confirm", "consent_service_email": "granted"})
    assert thanks.status_code == 200 and 'id="thanks"' in thanks.text
    with Session(engine) as session:
        [enrollment] = session.exec(select(Enrollment)).all()
        postal = session.exec(select(ContactPoint).where(ContactPoint.kind == "postal")).one()
    assert (enrollment.state, enrollment.end_reason) == ("completed", "goal met")
    assert postal.status == "verified"


def test_a_second_letter_within_the_window_is_capped(
    settings: Settings, engine: Engine, customer: int
) -> None:
    with client(settings) as c:
        first = post(c, {**BODY, "channel": "letter"})
        capped = post(c, {**BODY, "channel": "letter"})
    assert first.json()["ask"] is not None
    assert capped.status_code == 200 and capped.json() == {"ask": None, "reason": "capped"}
    assert outreach_count(engine) == 1


def test_a_complete_or_opted_out_customer_gets_no_ask(
    settings: Settings, engine: Engine, customer: int
) -> None:
    fresh = utcnow() - timedelta(days=5)
    verified = {"status": "verified", "verified_at": fresh}
    with engine.begin() as conn:
        add_profile(
            conn,
            "done",
            [
                {"kind": "email", **verified},
                {"kind": "mobile", **verified},
                {"kind": "postal", **verified},
            ],
        )
        add_profile(conn, "gone", GAPPY, opted_out_at=fresh)
    with client(settings) as c:
        done = post(c, {**BODY, "external_id": "done"})
        gone = post(c, {**BODY, "external_id": "gone"})
    assert done.json() == {"ask": None, "reason": "complete"}
    assert gone.json() == {"ask": None, "reason": "opted_out"}
    assert outreach_count(engine) == 0


def test_unknown_customer_is_404_and_never_echoed_or_logged(
    settings: Settings, customer: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client(settings) as c:
        unknown = post(c, {**BODY, "external_id": "CRM-999999"})
        known = post(c)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "unknown customer"}
    assert known.status_code == 200
    assert "CRM-999999" not in caplog.text and EXTERNAL_ID not in caplog.text
    assert "contact moment (email, invoice)" in caplog.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "channel": "fax"}, "channel"),
        ({**BODY, "context": "birthday"}, "context"),
        ({**BODY, "context": "Invoice"}, "context"),
        ({**BODY, "external_id": ""}, "external_id"),
        ({**BODY, "external_id": "x" * 129}, "external_id"),
        ({**BODY, "external_id": "CRM-1\r\nX-Injected: 1"}, "external_id"),
        ({**BODY, "external_id": 417}, "external_id"),
        ({**BODY, "external_id": ["CRM-000417"]}, "external_id"),
        ({"channel": "email", "context": "invoice"}, "external_id"),
        ({**BODY, "email": "someone@example.org"}, "email"),
    ],
)
def test_hostile_or_bad_fields_are_422_without_echo(
    settings: Settings, engine: Engine, customer: int, body: dict[str, Any], field: str
) -> None:
    with client(settings) as c:
        answer = post(c, body)
    assert answer.status_code == 422
    assert field in {error["field"] for error in answer.json()["detail"]}
    for value in body.values():
        if isinstance(value, str) and value and value not in ("email", "invoice"):
            assert value not in answer.text
    assert outreach_count(engine) == 0


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b"null", b'{"external_id": "a"', b"\xff\xfe"]
)
def test_a_body_that_is_no_json_object_is_422(
    settings: Settings, customer: int, raw: bytes
) -> None:
    with client(settings) as c:
        answer = c.post(
            "/api/contact-moments",
            content=raw,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
    assert answer.status_code == 422


def test_an_unreadable_campaign_file_is_503(
    settings: Settings, engine: Engine, customer: int, tmp_path: Any
) -> None:
    broken = tmp_path / "campaign.yaml"
    broken.write_text("key: [unclosed", encoding="utf-8")
    configured = settings.model_copy(update={"api_keys": SecretStr(KEY), "campaign_file": broken})
    with TestClient(create_app(configured), base_url="https://testserver") as c:
        answer = post(c)
    assert answer.status_code == 503 and outreach_count(engine) == 0
