"""People with an email, a mobile and outreaches, and helpers to ingest events and read back their
contact points: the data the delivery-event tests share."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from models.db import session_scope
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord, IngestOutcome
from models.tables import AUDIT, CAMPAIGN, CONTACT, DELIVERY, ENROLLMENT, OUTREACH, PROFILE, ROUND
from tests.paths import FIXTURES

NOW = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=5)

T: dict[str, Any] = {
    "profile": PROFILE,
    "cp": CONTACT,
    "campaign": CAMPAIGN,
    "round": ROUND,
    "enrollment": ENROLLMENT,
    "outreach": OUTREACH,
    "event": DELIVERY,
    "audit": AUDIT,
}


@dataclass(frozen=True)
class Person:
    profile_id: int
    cp_id: int
    enrollment_id: int
    outreach_id: int


def add(conn: Connection, table: str, **values: Any) -> int:
    """Insert one row with plain Core and return its id."""
    return int(
        conn.execute(insert(T[table]).values(**values).returning(T[table].c.id)).scalar_one()
    )


def person(
    engine: Engine, name: str, kind: str, value: str, *, status: str = "unverified", **cp: Any
) -> Person:
    """A profile with one contact point, an active enrollment and its step-0 outreach, sent."""
    channel = {"email": "email", "mobile": "sms"}[kind]
    stamps = {"created_at": NOW, "updated_at": NOW}
    with engine.begin() as conn:
        round_id = conn.execute(select(T["round"].c.id)).scalar()
        if round_id is None:
            campaign = add(
                conn,
                "campaign",
                key="default",
                version=1,
                content_hash="x",
                definition={},
                created_at=NOW,
            )
            round_id = add(
                conn,
                "round",
                campaign_id=campaign,
                started_by="test",
                status="running",
                started_at=NOW,
            )
        profile_id = add(conn, "profile", external_id=name, locale="nl", **stamps)
        cp_id = add(
            conn,
            "cp",
            profile_id=profile_id,
            kind=kind,
            value=value,
            status=status,
            is_primary=True,
            **stamps,
            **cp,
        )
        enrollment_id = add(
            conn,
            "enrollment",
            round_id=round_id,
            profile_id=profile_id,
            state="active",
            gap_mask=1,
            step_index=0,
            next_due_at=LATER,
            **stamps,
        )
        outreach_id = add(
            conn,
            "outreach",
            enrollment_id=enrollment_id,
            profile_id=profile_id,
            contact_point_id=cp_id,
            step_index=0,
            channel=channel,
            template="ask",
            status="sent",
            provider="sendgrid" if channel == "email" else "twilio",
            sent_at=NOW,
            **stamps,
        )
    return Person(profile_id, cp_id, enrollment_id, outreach_id)


def ingest(engine: Engine, events: list[EventRecord], now: datetime = NOW) -> IngestOutcome:
    with session_scope(engine) as session:
        return ingest_events(session=session, events=events, now=now)


def cp_state(engine: Engine, who: Person) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(T["cp"]).where(T["cp"].c.id == who.cp_id)).one()
    return {
        "status": row.status,
        "bounced_at": row.bounced_at,
        "opted_out_at": row.opted_out_at,
        "invalid_reason": row.invalid_reason,
    }


def scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def due(engine: Engine, who: Person) -> datetime:
    table = T["enrollment"]
    return scalar(engine, select(table.c.next_due_at).where(table.c.id == who.enrollment_id))


def count(engine: Engine, name: str) -> int:
    return int(scalar(engine, select(func.count()).select_from(T[name])))


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def sendgrid_batch(people: list[Person]) -> list[dict[str, Any]]:
    """The recorded batch with its outreach ids pointed at this database's rows."""
    payload = json.loads((FIXTURES / "sendgrid" / "ingest_batch.json").read_text())
    ids = {str(i + 1): str(p.outreach_id) for i, p in enumerate(people)}
    for item in payload:
        item["outreach_id"] = ids.get(item["outreach_id"], item["outreach_id"])
    return payload


def reorder(payload: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    if order == "reversed":
        return payload[::-1]
    if order == "shuffled":
        return random.Random(7).sample(payload, len(payload))
    if order == "with_duplicates":
        return random.Random(3).sample(payload + payload[:5], len(payload) + 5)
    return payload
