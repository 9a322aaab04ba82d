"""The data-subject rights under /api/data-subjects/...: keys, bodies, answers, the external id
kept out of answers and logs, and what a restriction or objection then does to a contact moment
(SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from enrich.web.app import create_app
from models.tables import AUDIT, PROFILE
from tests.models.data_subject.people import two_customers

KEY = "privacy-tool-key-0123456789abcdef"
ASKED = {"requested_by": "privacy tool: dpo alice", "reason": "request 2026-118"}
HOSTILE_ID = 'CRM-<i>"7"</i>'
ACTIONS = ("export", "erase", "object", "restrict")


def client(settings: Settings) -> TestClient:
    configured = settings.model_copy(update={"api_keys": SecretStr(KEY)})
    return TestClient(create_app(configured), base_url="https://testserver")


def body(external_id: str = HOSTILE_ID, **more: Any) -> dict[str, Any]:
    return {"external_id": external_id, **ASKED, **more}


def post(
    c: TestClient, action: str, payload: Any, headers: dict[str, str] | None = None
) -> Response:
    sent = {"Authorization": f"Bearer {KEY}"} if headers is None else headers
    return c.post(f"/api/data-subjects/{action}", json=payload, headers=sent)


@pytest.fixture
def people(engine: Engine) -> list[int]:
    return two_customers(engine, first=HOSTILE_ID)


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())


def marks(engine: Engine) -> list[tuple[Any, ...]]:
    p = PROFILE.c
    with engine.connect() as conn:
        query = select(p.objected_at, p.restricted_at, p.erased_at).order_by(p.id)
        return [tuple(r) for r in conn.execute(query)]


UNTOUCHED = [(None, None, None)] * 2


def test_export_answers_the_person_s_document_and_audits_the_request(
    settings: Settings, engine: Engine, people: list[int]
) -> None:
    with client(settings) as c:
        answer = post(c, "export", body(), headers={"X-API-Key": KEY})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    document = answer.json()
    assert document["profile"]["external_id"] == HOSTILE_ID
    assert {r["channel"] for r in document["recipients"]} == {"email", "sms", "letter"}
    assert "Bartholomeus" not in answer.text and "CRM-2" not in answer.text
    with engine.connect() as conn:
        [row] = conn.execute(select(AUDIT).where(AUDIT.c.action == "profile.exported")).all()
    assert (row.actor, row.reason) == (ASKED["requested_by"], ASKED["reason"])
    assert row.evidence["via"] == "api"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": ""}])
def test_without_the_key_every_route_is_401_and_changes_nothing(
    settings: Settings, engine: Engine, people: list[int], headers: dict[str, str]
) -> None:
    before = audit_count(engine)
    with client(settings) as c:
        answers = [post(c, action, body(), headers=headers) for action in ACTIONS]
    assert [a.status_code for a in answers] == [401] * 4
    assert audit_count(engine) == before and marks(engine) == UNTOUCHED


def test_an_unknown_id_is_404_and_never_repeated(
    settings: Settings, engine: Engine, people: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client(settings) as c:
        answers = [post(c, action, body("CRM-SECRET-404")) for action in ACTIONS]
    assert [a.status_code for a in answers] == [404] * 4
    assert all(a.json() == {"detail": "unknown customer"} for a in answers)
    assert "CRM-SECRET-404" not in caplog.text and "unknown customer" in caplog.text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"external_id": "CRM-2", "reason": "r"}, "requested_by"),
        ({**ASKED, "reason": "r"}, "external_id"),
        (body(reason=""), "reason"),
        (body(reason="x" * 501), "reason"),
        (body(requested_by="a\x00b"), "requested_by"),
        (body(external_id="CRM\n2"), "external_id"),
        (body(external_id="C" * 129), "external_id"),
        (body(requested_by=7), "requested_by"),
        (body(lift="yes"), "lift"),
        (body(surprise="<script>"), "surprise"),
        ([body()], "body"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field_and_not_its_value(
    settings: Settings, engine: Engine, people: list[int], payload: Any, field: str
) -> None:
    with client(settings) as c:
        answer = post(c, "restrict", payload)
    assert answer.status_code == 422, answer.text
    assert field in {p["field"] for p in answer.json()["detail"]}
    for value in ("<script>", "x" * 501, "C" * 129, "a\\u0000b", HOSTILE_ID):
        assert value not in answer.text
    assert marks(engine) == UNTOUCHED


def test_not_json_and_an_unknown_purpose_are_422(
    settings: Settings, engine: Engine, people: list[int]
) -> None:
    before = audit_count(engine)
    with client(settings) as c:
        raw = c.post(
            "/api/data-subjects/erase",
            content=b"{not json",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        unknown_purpose = post(c, "object", body(purpose="lottery"))
        both = post(c, "object", body(purpose="newsletter", withdraw=True))
    assert [raw.status_code, unknown_purpose.status_code, both.status_code] == [422] * 3
    assert unknown_purpose.json()["detail"] == [
        {"field": "purpose", "error": "unknown purpose: no campaign asks consent for it"}
    ]
    assert audit_count(engine) == before and marks(engine) == UNTOUCHED


def test_restrict_object_and_erase_through_the_api(
    settings: Settings, engine: Engine, people: list[int]
) -> None:
    moment = {"external_id": HOSTILE_ID, "channel": "email", "context": "invoice"}
    with client(settings) as c:
        assert post(c, "restrict", body()).json() == {"result": "restricted"}
        assert post(c, "restrict", body()).json() == {"result": "already restricted"}
        assert post(c, "contact-moments", moment).status_code == 404  # not under this prefix
        asked = c.post("/api/contact-moments", json=moment, headers={"X-API-Key": KEY})
        assert asked.json() == {"ask": None, "reason": "restricted"}
        assert post(c, "restrict", body(lift=True)).json() == {"result": "restriction lifted"}

        assert post(c, "object", body("CRM-2")).json() == {"result": "objected"}
        moment["external_id"] = "CRM-2"
        asked = c.post("/api/contact-moments", json=moment, headers={"X-API-Key": KEY})
        assert asked.json() == {"ask": None, "reason": "opted_out"}
        purpose = post(c, "object", body(purpose="newsletter"))
        assert purpose.json() == {"result": "consent withdrawn"}

        erased = post(c, "erase", body())
        assert erased.status_code == 200 and erased.json()["result"] == "erased"
        assert post(c, "erase", body()).status_code == 404  # the id went with the data
    (_objected, restricted, erased_at), (objected_two, _r, erased_two) = marks(engine)
    assert restricted is None and erased_at is not None
    assert objected_two is not None and erased_two is None
    with engine.connect() as conn:
        marker = conn.execute(select(PROFILE.c.external_id).order_by(PROFILE.c.id)).scalar()
        actors = set(conn.execute(select(AUDIT.c.actor).where(AUDIT.c.actor != "import")).scalars())
    assert actors == {ASKED["requested_by"]}
    with client(settings) as c:
        assert post(c, "erase", body(str(marker))).json()["result"] == "already erased"
        assert post(c, "restrict", body(str(marker))).status_code == 409


def test_without_configured_keys_the_api_answers_503_naming_the_setting(
    settings: Settings, engine: Engine, people: list[int]
) -> None:
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        answer = post(c, "erase", body())
    assert answer.status_code == 503 and "ENRICH_API_KEYS" in answer.json()["detail"]
    assert marks(engine) == UNTOUCHED
