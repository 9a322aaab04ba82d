"""Frequency caps: exact release instants and reasons, and the sends they count (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from models.scheduling.caps import CapPolicy, cap_hold, recent_sends
from models.tables import ENROLLMENT, OUTREACH
from tests.factories import add_profile, add_round

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = CapPolicy()  # 4 in 30 days; email 3, sms 2, letter 1


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_room_left_means_no_hold() -> None:
    assert cap_hold([], channel="email", now=NOW, policy=POLICY) is None
    sent = [(ago(20), "email"), (ago(10), "sms"), (ago(1), "email")]
    assert cap_hold(sent, channel="email", now=NOW, policy=POLICY) is None
    assert cap_hold(sent, channel="sms", now=NOW, policy=POLICY) is None


def test_channel_cap_holds_until_the_oldest_of_that_channel_leaves() -> None:
    sent = [(ago(20), "email"), (ago(10), "email"), (ago(1), "email")]
    assert cap_hold(sent, channel="email", now=NOW, policy=POLICY) == (
        ago(20) + 30 * DAY,
        "frequency cap: 3 emails in 30 days",
    )
    assert cap_hold(sent, channel="sms", now=NOW, policy=POLICY) is None


def test_total_cap_holds_a_channel_with_room_of_its_own() -> None:
    sent = [(ago(20), "email"), (ago(15), "sms"), (ago(10), "email"), (ago(1), "letter")]
    assert cap_hold(sent, channel="sms", now=NOW, policy=POLICY) == (
        ago(20) + 30 * DAY,
        "frequency cap: 4 messages in 30 days",
    )


def test_singular_and_sms_reasons() -> None:
    letter = cap_hold([(ago(3), "letter")], channel="letter", now=NOW, policy=POLICY)
    assert letter == (ago(3) + 30 * DAY, "frequency cap: 1 letter in 30 days")
    sms = cap_hold([(ago(9), "sms"), (ago(2), "sms")], channel="sms", now=NOW, policy=POLICY)
    assert sms == (ago(9) + 30 * DAY, "frequency cap: 2 sms in 30 days")
    one = CapPolicy(period_days=7, max_messages=1, per_channel={})
    assert cap_hold([(ago(1), "sms")], channel="email", now=NOW, policy=one) == (
        ago(1) + 7 * DAY,
        "frequency cap: 1 message in 7 days",
    )


def test_a_message_leaves_the_window_exactly_period_days_later() -> None:
    on_edge = [(ago(30), "sms"), (ago(1), "sms")]
    assert cap_hold(on_edge, channel="sms", now=NOW, policy=POLICY) is None
    inside = [(ago(30) + timedelta(microseconds=1), "sms"), (ago(1), "sms")]
    hold = cap_hold(inside, channel="sms", now=NOW, policy=POLICY)
    assert hold == (NOW + timedelta(microseconds=1), "frequency cap: 2 sms in 30 days")
    # At the instant it names, the message is allowed; a microsecond earlier it is not.
    assert cap_hold(inside, channel="sms", now=hold[0], policy=POLICY) is None
    before = hold[0] - timedelta(microseconds=1)
    assert cap_hold(inside, channel="sms", now=before, policy=POLICY) is not None


def test_the_later_of_two_holds_wins() -> None:
    policy = CapPolicy(period_days=30, max_messages=2, per_channel={"sms": 1})
    sent = [(ago(25), "email"), (ago(5), "sms")]
    # total frees up at ago(25)+30 = NOW+5d, sms only at ago(5)+30 = NOW+25d
    assert cap_hold(sent, channel="sms", now=NOW, policy=policy) == (
        NOW + 25 * DAY,
        "frequency cap: 1 sms in 30 days",
    )
    assert cap_hold(sent, channel="email", now=NOW, policy=policy) == (
        NOW + 5 * DAY,
        "frequency cap: 2 messages in 30 days",
    )


def test_over_the_cap_waits_for_enough_messages_to_leave() -> None:
    # Five in the window (the cap was lowered meanwhile): two must leave before one more fits.
    sent = [(ago(d), "email") for d in (29, 20, 10, 5, 1)]
    policy = CapPolicy(max_messages=4, per_channel={})
    assert cap_hold(sent, channel="email", now=NOW, policy=policy) == (
        ago(20) + 30 * DAY,
        "frequency cap: 4 messages in 30 days",
    )


def test_channels_without_their_own_cap_count_toward_the_total_only() -> None:
    policy = CapPolicy(max_messages=3, per_channel={"email": 1})
    sent = [(ago(3), "sms"), (ago(2), "sms")]
    assert cap_hold(sent, channel="sms", now=NOW, policy=policy) is None
    sent.append((ago(1), "letter"))
    assert cap_hold(sent, channel="sms", now=NOW, policy=policy) == (
        ago(3) + 30 * DAY,
        "frequency cap: 3 messages in 30 days",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period_days": 0}, "period_days"),
        ({"max_messages": 0}, "max_messages"),
        ({"per_channel": {"fax": 1}}, "unknown channel"),
        ({"per_channel": {"sms": 0}}, "sms"),
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CapPolicy(**kwargs)


def test_policy_cannot_be_changed_after_creation() -> None:
    source = {"email": 2}
    policy = CapPolicy(per_channel=source)
    source["email"] = 9
    assert policy.per_channel == {"email": 2}
    with pytest.raises(TypeError):
        policy.per_channel["email"] = 5  # type: ignore[index]


def _outreach(conn: Connection, **values: Any) -> None:
    row = {"step_index": 0, "template": "ask", "created_at": NOW, "updated_at": NOW, **values}
    conn.execute(insert(OUTREACH).values(**row))


def test_recent_sends_counts_every_sent_message_of_any_round_or_moment(engine: Engine) -> None:
    with engine.begin() as conn:
        a = add_profile(conn, "a", [])
        b = add_profile(conn, "b", [])
        c = add_profile(conn, "c", [])
        round_id = add_round(conn)
        enrollments = {
            pid: conn.execute(
                insert(ENROLLMENT).values(
                    round_id=round_id,
                    profile_id=pid,
                    state="active",
                    created_at=NOW,
                    updated_at=NOW,
                )
            ).inserted_primary_key[0]
            for pid in (a, b)
        }
        ladder = {"enrollment_id": enrollments[a], "profile_id": a}
        _outreach(conn, **ladder, channel="email", status="sent", sent_at=ago(40))  # too old
        _outreach(conn, **ladder, channel="email", step_index=1, status="sent", sent_at=ago(12))
        _outreach(conn, **ladder, channel="sms", step_index=2, status="sent", sent_at=ago(6))
        _outreach(conn, **ladder, channel="letter", step_index=3, status="failed")
        _outreach(conn, **ladder, channel="sms", step_index=4, status="skipped")
        _outreach(conn, **ladder, channel="email", step_index=5, status="pending")
        moment = {"channel": "letter", "context": "invoice", "status": "sent"}
        _outreach(conn, **ladder, **moment, sent_at=ago(2))
        _outreach(conn, **ladder, **moment, sent_at=ago(1))  # moments may repeat a step
        # A confirmation email the customer asked for on the landing page: no enrollment.
        _outreach(
            conn, profile_id=a, channel="email", template="confirm", status="sent", sent_at=ago(1)
        )
        on_edge = {"enrollment_id": enrollments[b], "profile_id": b}
        _outreach(conn, **on_edge, channel="sms", status="sent", sent_at=ago(30))
    with engine.connect() as conn:
        sends = recent_sends(conn, [a, b, c, a], since=ago(30))
        assert recent_sends(conn, [], since=ago(30)) == {}
    assert sends == {
        a: [(ago(12), "email"), (ago(6), "sms"), (ago(2), "letter"), (ago(1), "letter")],
        b: [(ago(30), "sms")],
        c: [],
    }
