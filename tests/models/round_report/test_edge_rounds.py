"""Rounds the scripted one does not show: a step sent on two channels, enrollments that reached
no step yet, and a campaign definition that does not read as a campaign."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from models.round_report import collect_report
from models.tables import CAMPAIGN, ENROLLMENT, OUTREACH, ROUND
from tests.factories import COMPLETE, NOW, add_profile
from tests.models.round_report.population import SPEC


def _round(conn: Connection, definition: dict[str, Any]) -> int:
    campaign_id = conn.execute(
        insert(CAMPAIGN).values(
            key="edge", version=1, content_hash="x", definition=definition, created_at=NOW
        )
    ).inserted_primary_key[0]
    return int(
        conn.execute(
            insert(ROUND).values(
                campaign_id=campaign_id, started_by="steward", status="running", started_at=NOW
            )
        ).inserted_primary_key[0]
    )


def _enrol(conn: Connection, round_id: int, name: str, *, step_index: int, **values: Any) -> int:
    profile_id = add_profile(conn, name, COMPLETE)
    return int(
        conn.execute(
            insert(ENROLLMENT).values(
                round_id=round_id,
                profile_id=profile_id,
                state="active",
                gap_mask=1,
                step_index=step_index,
                created_at=NOW,
                updated_at=NOW,
                **values,
            )
        ).inserted_primary_key[0]
    )


def _sent(conn: Connection, enrollment_id: int, channel: str) -> None:
    conn.execute(
        insert(OUTREACH).values(
            enrollment_id=enrollment_id,
            round_id=select(ENROLLMENT.c.round_id)
            .where(ENROLLMENT.c.id == enrollment_id)
            .scalar_subquery(),
            profile_id=conn.execute(ENROLLMENT.select().where(ENROLLMENT.c.id == enrollment_id))
            .one()
            .profile_id,
            step_index=0,
            channel=channel,
            template="ask",
            status="sent",
            created_at=NOW,
            sent_at=NOW,
            updated_at=NOW,
        )
    )


def the_round(engine: Engine, round_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        found: dict[str, Any] = collect_report(conn, round_id=round_id, now=NOW)["rounds"][0]
    return found


def test_enrollments_go_no_further_on_the_channel_they_were_sent(engine: Engine) -> None:
    with engine.begin() as conn:
        round_id = _round(conn, SPEC.model_dump(mode="json"))
        _sent(conn, _enrol(conn, round_id, "by-email", step_index=0), "email")
        _sent(conn, _enrol(conn, round_id, "by-sms", step_index=0), "sms")
        capped = _enrol(
            conn, round_id, "capped", step_index=0, wait_reason="frequency cap: 2 sms in 30 days"
        )
        _sent(conn, capped, "sms")
        _enrol(conn, round_id, "not-yet", step_index=-1, wait_reason="quiet hours (sms)")
    found = the_round(engine, round_id)
    assert [(r["step"], r["channel"], r["enrolled"]) for r in found["funnel"]] == [
        (1, "email", 1),
        (1, "sms", 2),
    ]
    assert [(d["step"], d["channel"], d["reason"], d["count"]) for d in found["drop_off"]] == [
        (1, "email", "waiting", 2),  # by-email, and not-yet on the ladder's first channel
        (1, "sms", "capped", 1),
        (1, "sms", "waiting", 1),
    ]


def test_a_definition_that_is_no_campaign_still_gives_its_counts(engine: Engine) -> None:
    with engine.begin() as conn:
        round_id = _round(conn, {})
        _enrol(conn, round_id, "waits", step_index=-1)
    found = the_round(engine, round_id)
    assert (found["enrolled"], found["funnel"], found["cost"]["currency"]) == (1, [], None)
    assert found["drop_off"] == [{"step": 1, "channel": "unknown", "reason": "waiting", "count": 1}]
    assert [c["field"] for c in found["completeness"]] == ["email", "mobile", "postal"]
