"""The access export: everything held on the person, with purposes and recipients, and nothing
of anyone else; audited with who asked and why (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from models.data_subject.access import collect_export, export_profile
from models.data_subject.request import Request, UnknownProfile
from models.tables import AUDIT, OUTREACH
from tests.factories import NOW
from tests.models.data_subject.people import two_customers

ASKED = Request(requested_by="dpo alice", reason="access request, ticket 7", via="cli")
OTHER = ("CRM-2", "Bartholomeus")


@pytest.fixture
def customers(engine: Engine) -> dict[str, int]:
    one, two = two_customers(engine)
    return {"CRM-1": one, "CRM-2": two}


def export(engine: Engine, external_id: str = "CRM-1") -> dict[str, Any]:
    with engine.begin() as conn:
        return export_profile(conn, external_id=external_id, request=ASKED, now=NOW)


def test_the_export_holds_the_person_s_data_and_the_recipients(
    engine: Engine, customers: dict[str, int]
) -> None:
    doc = export(engine)
    assert doc["profile"]["external_id"] == "CRM-1"
    assert doc["profile"]["given_name"] == "Wilhelmina"
    values = {cp["kind"]: cp["value"] for cp in doc["contact_points"]}
    assert values == {"email": "CRM-1@example.org", "mobile": "+31612345678",
                      "postal": "Dorpsstraat 1"}  # fmt: skip
    assert any(cp["street"] == "Dorpsstraat" for cp in doc["contact_points"])
    assert [(c["purpose"], c["granted"]) for c in doc["consents"]] == [("newsletter", True)]
    assert [m["channel"] for m in doc["messages"]] == ["email", "sms", "letter", "email"]
    assert [e["event_type"] for e in doc["events"]] == ["delivered"]
    assert [s["data"] for s in doc["submissions"]] == [{"postal": "confirm"}]
    assert [e["state"] for e in doc["enrollments"]] == ["active"]
    purposes = {p["purpose"]: p for p in doc["purposes"]}
    assert purposes["newsletter"]["granted"] is True
    assert purposes["newsletter"]["asked_by_campaigns"] == ["default"]
    assert purposes["service"]["granted"] is None  # asked by the campaign, never answered
    recipients = {(r["channel"], r["provider"]): r for r in doc["recipients"]}
    assert set(recipients) == {("email", "sendgrid"), ("sms", "twilio"), ("letter", "outbox")}
    assert "email address" in recipients["email", "sendgrid"]["data"]
    assert "mobile number" in recipients["sms", "twilio"]["data"]
    assert "postal address" in recipients["letter", "outbox"]["data"]
    assert all(r["messages"] == 1 for r in recipients.values())  # the skipped step went nowhere
    assert [h["action"] for h in doc["history"]] == ["profile.create"]
    json.dumps(doc)  # plain JSON throughout


def test_nothing_of_another_person_is_in_the_export(
    engine: Engine, customers: dict[str, int]
) -> None:
    mine = export(engine)
    text = json.dumps(mine, ensure_ascii=False)
    assert [value for value in OTHER if value in text] == []
    other = export(engine, "CRM-2")
    text = json.dumps(other, ensure_ascii=False)
    assert "CRM-1" not in text and "Wilhelmina" not in text
    assert other["profile"]["id"] == customers["CRM-2"]
    assert {m["id"] for m in other["messages"]}.isdisjoint(m["id"] for m in mine["messages"])
    assert len(other["events"]) == 1 and other["events"][0]["provider_event_id"] == (
        f"ev-{customers['CRM-2']}"
    )


def test_the_export_is_audited_and_collecting_writes_nothing(
    engine: Engine, customers: dict[str, int]
) -> None:
    def audit_count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())

    before = audit_count()
    with engine.connect() as conn:
        collect_export(conn, profile_id=customers["CRM-1"], now=NOW)
    assert audit_count() == before
    doc = export(engine)
    with engine.connect() as conn:
        [row] = conn.execute(select(AUDIT).where(AUDIT.c.action == "profile.exported")).all()
    assert (row.actor, row.reason, row.profile_id) == (
        "dpo alice",
        "access request, ticket 7",
        customers["CRM-1"],
    )
    assert row.evidence == {"requested_by": "dpo alice", "via": "cli"}
    assert row.after["parts"]["messages"] == len(doc["messages"]) == 4


def test_an_unknown_id_is_refused_without_repeating_it(engine: Engine) -> None:
    with pytest.raises(UnknownProfile) as refused:
        export(engine, "CRM-<b>404</b>")
    assert "404" not in str(refused.value)


def test_a_contact_moment_hands_the_organisation_s_system_the_link_only(
    engine: Engine, customers: dict[str, int]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(OUTREACH).values(
                profile_id=customers["CRM-1"], channel="email", template="moment",
                context="invoice", status="sent", provider="contact_moment", sent_at=NOW,
            )
        )  # fmt: skip
    recipients = {(r["channel"], r["provider"]): r for r in export(engine)["recipients"]}
    assert recipients["email", "contact_moment"]["data"] == ["personal link"]
    assert "email address" in recipients["email", "sendgrid"]["data"]
