"""A round of customers whose first usable step is email, or SMS, ready to send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection, Engine

from models.rounds.enrollment import enroll
from models.tables import CAMPAIGN, CONTACT, ROUND
from tests.factories import (
    COMPLETE,
    COOLDOWN,
    EXHAUSTED_COOLDOWN,
    MAX_AGE,
    add_profile,
    replace,
    spec,
)


def mobile(i: int) -> str:
    return f"+3161{i:07d}"


def seed_round(engine: Engine, *, emails: int, sms: int, now: datetime, letters: int = 0) -> int:
    """``emails`` profiles missing a mobile (step 1: email), ``sms`` missing an email (step 2:
    SMS, step 1 skipped), ``letters`` with only an unverified address (step 3: a letter), each
    with its own address or number; one round, everyone enrolled."""
    with engine.begin() as conn:
        for i in range(emails):
            add_profile(conn, f"e{i}", replace(COMPLETE, "mobile"))
        for i in range(sms):
            pid = add_profile(conn, f"s{i}", replace(COMPLETE, "email"))
            conn.execute(
                update(CONTACT)
                .where(CONTACT.c.profile_id == pid, CONTACT.c.kind == "mobile")
                .values(value=mobile(i))
            )
        for i in range(letters):
            add_profile(conn, f"l{i}", [{"kind": "postal", "status": "unverified"}])
        round_id = add_campaign_round(conn, now)
    enroll_all(engine, round_id, now)
    return round_id


def add_campaign_round(conn: Connection, now: datetime) -> int:
    """The test campaign (email, SMS, letter) as version 1, and a running round of it."""
    campaign = conn.execute(
        insert(CAMPAIGN).values(
            key="t",
            version=1,
            content_hash=spec().content_hash(),
            definition=spec().model_dump(mode="json"),
            created_at=now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return int(
        conn.execute(
            insert(ROUND).values(
                campaign_id=campaign, started_by="test", status="running", started_at=now
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def enroll_all(engine: Engine, round_id: int, now: datetime) -> None:
    enroll(
        conn=engine,
        round_id=round_id,
        spec=spec(),
        now=now,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        batch_size=500,
    )
