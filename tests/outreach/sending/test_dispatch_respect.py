"""Dispatch with send windows and frequency caps: a step that may not go out waits, says why,
and goes out once the window opens or the cap releases; it is never dropped."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy
from models.tables import ENROLLMENT, OUTREACH, PROFILE
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.due import due_for_advance
from tests.factories import NOW, spec
from tests.outreach.sending.test_dispatch import (
    FakeChannel,
    channels,
    config,
    outreach,
    setup_round,
)

__all__ = ["channels"]  # the fixture, re-used
ALL_WEEK = frozenset(range(7))


def respect(email: str = "08:00-21:00", caps: CapPolicy | None = None) -> Respect:
    start, end = (time.fromisoformat(part) for part in email.split("-"))
    return Respect(
        windows=WindowPolicy(
            email=SendWindow(start, end, ALL_WEEK),
            sms=SendWindow(time(0), time(0), ALL_WEEK),
            letter_days=ALL_WEEK,
            letter_cutoff=time(0),
            holiday_country=None,
        ),
        caps=caps or CapPolicy(period_days=30, max_messages=10, per_channel={}),
        default_zone=ZoneInfo("Europe/Amsterdam"),
    )


def run(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path, rules: Respect, at=NOW
) -> BatchOutcome:
    with engine.connect() as conn:
        due = due_for_advance(conn=conn, now=at, limit=100)
    return send_due_steps(
        engine=engine,
        enrollment_ids=[i for i, _ in due],
        spec=spec(),
        channels=channels,
        config=config(tmp_path),
        now=at,
        actor="system",
        respect=rules,
    )


def waits(engine: Engine) -> dict[int, tuple[object, str | None]]:
    e = ENROLLMENT.c
    with engine.connect() as conn:
        return {
            r.profile_id: (r.next_due_at, r.wait_reason)
            for r in conn.execute(select(e.profile_id, e.next_due_at, e.wait_reason))
        }


def test_a_step_in_quiet_hours_waits_for_the_window_then_goes_out(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    rules = respect(email="14:00-21:00")  # NOW is 13:00 in Amsterdam
    outcome = run(engine, channels, tmp_path, rules)
    assert (outcome.waiting, outcome.sent) == (1, 1)  # the sms profile's step has no window
    opens = NOW + timedelta(hours=1)
    assert waits(engine)[ids["email"]] == (
        opens,
        "quiet hours (email 14:00–21:00 every day, Europe/Amsterdam)",
    )
    assert [row for row in outreach(engine) if row[0] == ids["email"]] == []  # nothing written
    assert channels["email"].delivered == {}
    early = run(engine, channels, tmp_path, rules, at=opens - timedelta(minutes=1))
    assert early == BatchOutcome()
    later = run(engine, channels, tmp_path, rules, at=opens)
    assert later.sent == 1
    assert [row for row in outreach(engine) if row[0] == ids["email"]] == [
        (ids["email"], 0, "email", "sent")
    ]
    assert waits(engine)[ids["email"]][1] is None


def test_the_window_is_the_customers_own_time_zone(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    with engine.begin() as conn:
        conn.execute(
            update(PROFILE).where(PROFILE.c.id == ids["email"]).values(time_zone="America/New_York")
        )
    run(engine, channels, tmp_path, respect())  # 07:00 in New York, 13:00 in Amsterdam
    until, reason = waits(engine)[ids["email"]]
    assert until == NOW + timedelta(hours=1)  # 08:00 in New York
    assert reason == "quiet hours (email 08:00–21:00 every day, America/New_York)"


def test_a_capped_step_waits_until_the_oldest_message_leaves_the_window(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    with engine.connect() as conn:
        enrollment = conn.execute(
            select(ENROLLMENT.c.id).where(ENROLLMENT.c.profile_id == ids["email"])
        ).scalar_one()
    with engine.begin() as conn:  # three earlier asks at contact moments (invoices)
        conn.execute(
            insert(OUTREACH),
            [
                {
                    "enrollment_id": enrollment,
                    "profile_id": ids["email"],
                    "step_index": -1,
                    "channel": "email",
                    "template": "moment",
                    "context": "invoice",
                    "status": "sent",
                    "sent_at": NOW - timedelta(days=days),
                    "created_at": NOW - timedelta(days=days),
                    "updated_at": NOW - timedelta(days=days),
                }
                for days in (29, 20, 10)
            ],
        )
    caps = CapPolicy(period_days=30, max_messages=10, per_channel={"email": 3})
    outcome = run(engine, channels, tmp_path, respect(caps=caps))
    assert (outcome.waiting, outcome.sent) == (1, 1)
    assert waits(engine)[ids["email"]] == (
        NOW + timedelta(days=1),
        "frequency cap: 3 emails in 30 days",
    )
    assert run(engine, channels, tmp_path, respect(caps=caps), at=NOW + timedelta(days=1)).sent == 1
    assert len(channels["email"].delivered) == 1
