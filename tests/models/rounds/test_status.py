"""Round status: exact counts per step, state and reason for a crafted round, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from models.rounds.status import UNRECORDED, ReasonCount, RoundNotFound, round_status
from models.tables import CAMPAIGN, ENROLLMENT, OUTREACH, ROUND
from tests.factories import COMPLETE, NOW, add_profile

QUIET = "quiet hours (sms 09:00–20:00 Mon–Fri, Europe/Amsterdam)"
LETTER_WAIT = "letters go out on working days"
REJECTED = "provider rejected the request (400)"
STEPS = {
    0: ("email", "no usable email"),
    1: ("sms", "no usable mobile"),
    2: ("letter", "no usable address"),
}


def start_round(conn: Connection, started_by: str, version: int = 3) -> int:
    campaign_id = conn.execute(
        insert(CAMPAIGN).values(
            key="default", version=version, content_hash="x", definition={}, created_at=NOW
        )
    ).inserted_primary_key[0]
    return int(
        conn.execute(
            insert(ROUND).values(
                campaign_id=campaign_id, started_by=started_by, status="running", started_at=NOW
            )
        ).inserted_primary_key[0]
    )


def _enroll(conn: Connection, round_id: int, name: str, state: str, **columns: Any) -> int:
    profile_id = add_profile(conn, name, COMPLETE)
    values = {"round_id": round_id, "profile_id": profile_id, "state": state, "next_due_at": NOW}
    values |= {"created_at": NOW, "updated_at": NOW, **columns}
    return int(conn.execute(insert(ENROLLMENT).values(**values)).inserted_primary_key[0])


def _outreach(conn: Connection, enrollment_id: int, step: int, status: str, **columns: Any) -> None:
    profile_id = (
        conn.execute(ENROLLMENT.select().where(ENROLLMENT.c.id == enrollment_id)).one().profile_id
    )
    channel, skip_reason = STEPS[step]
    values = {
        "enrollment_id": enrollment_id,
        "profile_id": profile_id,
        "step_index": step,
        "channel": channel,
        "template": "ask",
        "status": status,
        "reason": skip_reason if status == "skipped" else f"round 1, step {step + 1} ({channel})",
        "created_at": NOW,
        "updated_at": NOW,
        **columns,
    }
    conn.execute(insert(OUTREACH).values(**values))


def seed_round(conn: Connection) -> int:
    """Round 1 as described in the test below, plus a second round that must not count."""
    rid = start_round(conn, "alice")
    e1 = _enroll(conn, rid, "e1", "active", step_index=0, wait_reason=QUIET)
    e2 = _enroll(conn, rid, "e2", "active", step_index=0, wait_reason=QUIET)
    e3 = _enroll(conn, rid, "e3", "active", step_index=1)
    _enroll(conn, rid, "e4", "active", wait_reason=LETTER_WAIT)
    e5 = _enroll(
        conn, rid, "e5", "completed", step_index=0, wait_reason=QUIET, end_reason="goal met"
    )
    e6 = _enroll(conn, rid, "e6", "exhausted", end_reason="no usable contact point")
    e7 = _enroll(conn, rid, "e7", "stopped", step_index=0, end_reason="opted out")
    e8 = _enroll(conn, rid, "e8", "active", step_index=0)
    _enroll(conn, rid, "e9", "exhausted")
    for enrollment in (e1, e2, e5):
        _outreach(conn, enrollment, 0, "sent")
    _outreach(conn, e3, 0, "skipped")
    _outreach(conn, e3, 1, "sent")
    for step in (0, 1, 2):
        _outreach(conn, e6, step, "skipped")
    _outreach(conn, e7, 0, "failed", error=REJECTED)
    _outreach(conn, e8, 0, "failed", error=REJECTED)
    _outreach(conn, e8, 1, "pending")
    # A contact-moment ask carried along an invoice is no ladder step.
    _outreach(conn, e1, 0, "skipped", context="invoice", reason="other")
    other = start_round(conn, "bob", version=4)
    _outreach(conn, _enroll(conn, other, "x1", "active", wait_reason=QUIET), 0, "failed")
    return rid


def test_counts_per_state_step_and_reason(engine: Engine) -> None:
    with engine.begin() as conn:
        rid = seed_round(conn)
    with engine.connect() as conn:
        status = round_status(conn, rid)
    assert (status.campaign_key, status.campaign_version, status.started_by) == (
        "default",
        3,
        "alice",
    )
    assert (status.started_at, status.status, status.finished_at) == (NOW, "running", None)
    assert status.per_state == {"active": 5, "completed": 1, "exhausted": 2, "stopped": 1}
    assert status.enrolled == 9
    steps = [(s.step, s.channel, s.counts) for s in status.per_step]
    assert steps == [
        (1, "email", {"pending": 0, "sent": 3, "failed": 2, "skipped": 2}),
        (2, "sms", {"pending": 1, "sent": 1, "failed": 0, "skipped": 1}),
        (3, "letter", {"pending": 0, "sent": 0, "failed": 0, "skipped": 1}),
    ]
    assert status.per_reason == [
        ReasonCount("waiting", QUIET, 2),
        ReasonCount("waiting", LETTER_WAIT, 1),
        ReasonCount("skipped", "no usable email", 2),
        ReasonCount("skipped", "no usable address", 1),
        ReasonCount("skipped", "no usable mobile", 1),
        ReasonCount("failed", REJECTED, 2),
        ReasonCount("completed", "goal met", 1),
        ReasonCount("exhausted", UNRECORDED, 1),
        ReasonCount("exhausted", "no usable contact point", 1),
        ReasonCount("stopped", "opted out", 1),
    ]


def test_a_round_without_enrollments_counts_zero(engine: Engine) -> None:
    with engine.begin() as conn:
        rid = start_round(conn, "carol")
    with engine.connect() as conn:
        status = round_status(conn, rid)
    assert status.per_state == {"active": 0, "completed": 0, "exhausted": 0, "stopped": 0}
    assert (status.per_step, status.per_reason) == ([], [])
    assert status.as_dict()["enrolled"] == 0


def test_an_unknown_round_raises(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(RoundNotFound, match="round 42 does not exist"):
        round_status(conn, 42)
