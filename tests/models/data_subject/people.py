"""Two customers with a history (a round, messages on three channels, a delivery event, a consent,
a landing-page answer), written the way the application leaves them, for the rights tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from models.audit import AuditRow, audit_many
from models.tables import CAMPAIGN, CONSENT, DELIVERY, ENROLLMENT, OUTREACH, ROUND, SUBMISSION
from models.vocabulary import AuditAction
from tests.factories import NOW, add_profile

EARLIER = NOW - timedelta(days=20)
CONTACTS: Final[list[dict[str, Any]]] = [
    {"kind": "email", "status": "valid"},
    {"kind": "mobile", "status": "valid"},
    {"kind": "postal", "status": "unverified"},
]
DEFINITION: Final = {
    "key": "default",
    "name": "Check your contact details",
    "gaps": ["unverified_postal"],
    "ladder": [{"channel": "email", "template": "ask", "wait_days": 5}],
    "purposes": [
        {"key": "service", "required": True, "text_version": "2026-01"},
        {"key": "newsletter", "required": False, "text_version": "2026-01"},
    ],
}
# Channel, provider and status of each message the first customer was sent.
MESSAGES: Final = (
    ("email", "sendgrid", "sent"),
    ("sms", "twilio", "sent"),
    ("letter", "outbox", "sent"),
    ("email", None, "skipped"),
)


def _id(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).inserted_primary_key[0])


def history(conn: Connection, profile_id: int, round_id: int) -> None:
    eid = _id(
        conn,
        insert(ENROLLMENT).values(
            round_id=round_id,
            profile_id=profile_id,
            state="active",
            gap_mask=32,
            step_index=2,
            created_at=EARLIER,
            updated_at=EARLIER,
        ),
    )
    oids = [
        _id(
            conn,
            insert(OUTREACH).values(
                enrollment_id=eid,
                profile_id=profile_id,
                step_index=i,
                channel=channel,
                template="ask",
                status=status,
                provider=provider,
                sent_at=EARLIER + timedelta(i),
                reason=f"round {round_id}, step {i + 1} ({channel}): gaps unverified_postal",
                created_at=EARLIER,
                updated_at=EARLIER,
            ),
        )
        for i, (channel, provider, status) in enumerate(MESSAGES)
    ]
    conn.execute(
        insert(DELIVERY).values(
            outreach_id=oids[0],
            provider="sendgrid",
            provider_event_id=f"ev-{profile_id}",
            event_type="delivered",
            occurred_at=EARLIER,
            received_at=EARLIER,
            raw={"event": "delivered"},
        )
    )
    conn.execute(
        insert(CONSENT).values(
            profile_id=profile_id,
            purpose="newsletter",
            granted=True,
            text_version="2026-01",
            source="landing",
            recorded_at=EARLIER,
        )
    )
    conn.execute(
        insert(SUBMISSION).values(
            profile_id=profile_id,
            outreach_id=oids[0],
            data={"postal": "confirm"},
            received_at=EARLIER,
        )
    )
    audit_many(
        conn,
        [
            AuditRow(
                actor="import",
                action=AuditAction.PROFILE_CREATE,
                entity_type="profile",
                entity_id=profile_id,
                profile_id=profile_id,
                after={"source": "customers.csv:2"},
                at=EARLIER,
            )
        ],
    )


def two_customers(engine: Engine, first: str = "CRM-1", second: str = "CRM-2") -> list[int]:
    """Both enrolled in one round with the same kind of history; returns their profile ids."""
    with engine.begin() as conn:
        cid = _id(
            conn,
            insert(CAMPAIGN).values(
                key="default",
                version=1,
                content_hash="x",
                definition=DEFINITION,
                created_at=EARLIER,
            ),
        )
        rid = _id(
            conn,
            insert(ROUND).values(
                campaign_id=cid,
                started_by="steward",
                status="running",
                started_at=EARLIER,
            ),
        )
        ids = [
            add_profile(conn, first, CONTACTS, given_name="Wilhelmina"),
            add_profile(conn, second, CONTACTS, given_name="Bartholomeus"),
        ]
        for pid in ids:
            history(conn, pid, rid)
    return ids
