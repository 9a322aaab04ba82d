"""Climbing the ladder: the next step after the response window, at once after a hard bounce,
and exhaustion after the last step (the profile marked unreachable unless something verified
still reaches it); never a step twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord
from models.tables import CONTACT, ENROLLMENT, OUTREACH, Profile
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.due import due_for_advance
from tests.factories import NOW, spec
from tests.outreach.sending.test_dispatch import (
    FakeChannel,
    _rows,
    config,
    outreach,
    send,
    setup_round,
)


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("email", "sms", "letter")}


def advance(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path, now: datetime
) -> BatchOutcome:
    with engine.connect() as conn:
        ids = [eid for eid, _round in due_for_advance(conn=conn, now=now, limit=100)]
    return send_due_steps(
        engine=engine,
        enrollment_ids=ids,
        spec=spec(),
        channels=channels,
        config=config(tmp_path),
        now=now,
        actor="system",
    )


def states(engine: Engine) -> dict[int, tuple[str, int, str | None]]:
    e = ENROLLMENT.c
    return {
        r.profile_id: (r.state, r.step_index, r.end_reason)
        for r in _rows(engine, select(e.profile_id, e.state, e.step_index, e.end_reason))
    }


def test_nothing_advances_before_the_response_window_ends(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    setup_round(engine)
    send(engine, channels, tmp_path)
    before = outreach(engine)
    assert advance(engine, channels, tmp_path, NOW + timedelta(days=4)) == BatchOutcome()
    assert outreach(engine) == before


def test_after_the_window_the_next_usable_step_goes_out_once(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    send(engine, channels, tmp_path)
    later = NOW + timedelta(days=5, hours=1)
    outcome = advance(engine, channels, tmp_path, later)
    assert (outcome.sent, outcome.skipped) == (2, 1)
    rows = outreach(engine)
    # The email-only profile has no mobile: SMS is skipped at once, the letter goes out.
    assert (ids["email"], 1, "sms", "skipped") in rows
    assert (ids["email"], 2, "letter", "sent") in rows
    assert (ids["sms"], 2, "letter", "sent") in rows
    assert advance(engine, channels, tmp_path, later) == BatchOutcome()
    assert len(channels["letter"].delivered) == 2


def test_a_hard_bounce_moves_the_enrollment_on_at_once(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    send(engine, channels, tmp_path)
    o = OUTREACH.c
    (email_outreach,) = _rows(
        engine, select(o.id).where(o.profile_id == ids["email"], o.channel == "email")
    )[0]
    bounce_at = NOW + timedelta(hours=2)
    with Session(engine) as session:
        ingest_events(
            session=session,
            events=[
                EventRecord(
                    provider="sendgrid",
                    provider_event_id="evt-bounce-1",
                    event_type="bounced",
                    outreach_id=email_outreach,
                    provider_message_id="msg-1",
                    occurred_at=bounce_at,
                    hard_bounce=True,
                    detail="550 mailbox unavailable",
                )
            ],
            now=bounce_at,
        )
        session.commit()
    outcome = advance(engine, channels, tmp_path, bounce_at)
    assert outcome.sent == 1  # only the bounced enrollment; the other waits out its window
    assert (ids["email"], 2, "letter", "sent") in outreach(engine)
    assert (ids["sms"], 2, "letter", "pending") not in outreach(engine)
    cp = CONTACT.c
    statuses = dict(
        _rows(
            engine,
            select(cp.kind, cp.status).where(cp.profile_id == ids["email"], cp.kind == "email"),
        )
    )
    assert statuses == {"email": "bounced"}


def test_after_the_last_step_the_enrollment_is_exhausted_and_the_unreached_are_unreachable(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    send(engine, channels, tmp_path)
    # The SMS profile's address loses its verification: nothing verified, and no answer.
    cp = CONTACT.c
    with engine.begin() as conn:
        conn.execute(
            update(CONTACT)
            .where(cp.profile_id == ids["sms"], cp.kind == "postal")
            .values(status="unverified", verified_at=None)
        )
    advance(engine, channels, tmp_path, NOW + timedelta(days=6))
    end = NOW + timedelta(days=6 + 22)
    outcome = advance(engine, channels, tmp_path, end)
    assert (outcome.sent, outcome.exhausted) == (0, 2)
    final = states(engine)
    # The email profile's verified address still reaches it: exhausted, not unreachable.
    assert final[ids["email"]] == (
        "exhausted",
        2,
        "ladder exhausted; verified postal, still open: missing_mobile",
    )
    assert final[ids["sms"]] == ("exhausted", 2, "ladder exhausted")
    unreachable = dict(_rows(engine, select(Profile.id, Profile.unreachable_at)))
    assert unreachable[ids["email"]] is None
    assert unreachable[ids["sms"]] == end
    # The profile with no usable contact point at all was marked when the round started.
    assert unreachable[ids["nobody"]] == NOW
