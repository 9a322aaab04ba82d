"""Delivery events are stored once and leave contact points the same whatever their order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.feedback.event_records import EventRecord
from outreach.providers.sendgrid.events import sendgrid_events
from outreach.providers.twilio.events import twilio_inbound_event, twilio_status_event
from tests.models.feedback.people import (
    LATER,
    NOW,
    T,
    at,
    count,
    cp_state,
    due,
    ingest,
    person,
    reorder,
    sendgrid_batch,
)
from tests.paths import FIXTURES


@pytest.mark.parametrize("order", ["as_recorded", "reversed", "shuffled", "with_duplicates"])
def test_a_recorded_batch_ends_in_one_state_whatever_the_order(engine: Engine, order: str) -> None:
    ann, bob, cat, dan = (
        person(engine, n, "email", f"{n}@example.com") for n in ("ann", "bob", "cat", "dan")
    )
    payload = reorder(sendgrid_batch([ann, bob, cat, dan]), order)

    first = ingest(engine, sendgrid_events(payload, received_at=NOW))
    assert (first.new, first.duplicates, first.unmatched) == (10, len(payload) - 10, 1)
    assert (first.contact_points_changed, first.enrollments_due) == (2, 1)

    def final_state() -> Any:
        return (
            [cp_state(engine, p) for p in (ann, bob, cat, dan)],
            [due(engine, p) for p in (ann, bob, cat, dan)],
            count(engine, "event"),
            count(engine, "audit"),
        )

    states, dues, events, audits = final_state()
    assert [s["status"] for s in states] == ["unverified", "bounced", "unverified", "opted_out"]
    assert states[1]["bounced_at"] == at(1767261700)
    assert states[3]["opted_out_at"] == at(1767262000)  # the open after it changes nothing
    # The hard bounce makes bob's next step due now; cat's blocked message waits its turn.
    assert dues == [LATER, NOW, LATER, LATER]
    assert events == 10
    # bob: bounced + due now + outreach failed; cat: outreach failed; dan: signal + opted out.
    assert audits == 6
    outreach = T["outreach"]
    statuses = dict(
        (r.id, r.status) for r in _rows(engine, select(outreach.c.id, outreach.c.status))
    )
    assert [statuses[p.outreach_id] for p in (ann, bob, cat, dan)] == [
        "sent",
        "failed",
        "failed",
        "sent",
    ]
    stray = _rows(engine, select(T["event"]).where(T["event"].c.outreach_id.is_(None)))
    assert [r.provider_event_id for r in stray] == ["ZS1kZWxpdmVyZWQtMDAxMA"]
    assert stray[0].raw["email"] == "eve@example.com"  # raw kept as received

    again = ingest(engine, sendgrid_events(payload, received_at=NOW), now=NOW + timedelta(hours=1))
    assert (again.new, again.duplicates, again.unmatched) == (0, len(payload), 0)
    assert final_state() == (states, dues, events, audits)


def _rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query))


def _audits(engine: Engine, action: str) -> list[Any]:
    return _rows(engine, select(T["audit"]).where(T["audit"].c.action == action))


def test_hard_bounce_marks_bounced_and_hurries_only_the_latest_step(engine: Engine) -> None:
    bob = person(engine, "bob", "email", "bob@example.com")
    eve = person(engine, "eve", "email", "eve@example.com")
    # eve's enrollment has moved on to step 1: a late bounce of step 0 must not hurry step 1.
    with engine.begin() as conn:
        conn.execute(
            update(T["enrollment"])
            .where(T["enrollment"].c.id == eve.enrollment_id)
            .values(step_index=1)
        )
    payload = [
        {
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": f"b{p.outreach_id}",
            "timestamp": 1767261700,
            "email": "x@example.com",
            "outreach_id": str(p.outreach_id),
        }
        for p in (bob, eve)
    ]
    outcome = ingest(engine, sendgrid_events(payload))
    assert outcome.enrollments_due == 1
    assert cp_state(engine, bob)["status"] == cp_state(engine, eve)["status"] == "bounced"
    assert (due(engine, bob), due(engine, eve)) == (NOW, LATER)
    [audit] = _audits(engine, "enrollment.due_now")
    assert audit.actor == "provider:sendgrid"
    assert audit.entity_id == bob.enrollment_id
    assert audit.evidence["outreach_id"] == bob.outreach_id
    assert audit.evidence["provider_event_id"] == f"b{bob.outreach_id}"
    assert isinstance(audit.evidence["delivery_event_id"], int)
    [bounced] = [a for a in _audits(engine, "contact_point.bounced") if a.entity_id == bob.cp_id]
    assert (bounced.before["status"], bounced.after["status"]) == ("unverified", "bounced")


def test_soft_bounce_and_deferral_are_only_recorded(engine: Engine) -> None:
    cat = person(engine, "cat", "email", "cat@example.com", status="valid")
    payload = [
        {
            "event": "bounce",
            "type": "blocked",
            "sg_event_id": "s1",
            "outreach_id": str(cat.outreach_id),
        },
        {"event": "deferred", "sg_event_id": "s2", "outreach_id": str(cat.outreach_id)},
    ]
    outcome = ingest(engine, sendgrid_events(payload, received_at=NOW))
    assert (outcome.new, outcome.contact_points_changed, outcome.enrollments_due) == (2, 0, 0)
    assert cp_state(engine, cat)["status"] == "valid"
    assert due(engine, cat) == LATER


def test_a_bounce_older_than_the_last_verification_is_ignored(engine: Engine) -> None:
    ann = person(
        engine, "ann", "email", "ann@example.com", status="verified", verified_at=at(1767261800)
    )
    payload = [
        {
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": "old",
            "timestamp": 1767261700,
            "outreach_id": str(ann.outreach_id),
        }
    ]
    ingest(engine, sendgrid_events(payload))
    assert cp_state(engine, ann)["status"] == "verified"


def _inbound(name: str, sid: str, occurred: datetime) -> EventRecord:
    form = json.loads((FIXTURES / "twilio" / name).read_text())
    form = {**form, "MessageSid": sid}
    return twilio_inbound_event(form, received_at=occurred)


STOP_AT = NOW - timedelta(hours=2)

START_AT = NOW - timedelta(hours=1)


@pytest.mark.parametrize("stop_first_in_time", [True, False])
@pytest.mark.parametrize("arrival", ["in_time_order", "reversed"])
def test_stop_and_start_end_right_in_either_arrival_order(
    engine: Engine, stop_first_in_time: bool, arrival: str
) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="valid")
    stop_at, start_at = (STOP_AT, START_AT) if stop_first_in_time else (START_AT, STOP_AT)
    stop = _inbound("inbound_stop.json", "SMstop", stop_at)
    start = _inbound("inbound_start.json", "SMstart", start_at)
    in_time = [stop, start] if stop_first_in_time else [start, stop]
    for event in in_time if arrival == "in_time_order" else in_time[::-1]:
        ingest(engine, [event])  # separate webhook calls
    state = cp_state(engine, mia)
    if stop_first_in_time:  # STOP, then START: back to what it was
        assert state == {
            "status": "valid",
            "bounced_at": None,
            "opted_out_at": None,
            "invalid_reason": None,
        }
    else:  # START, then STOP: opted out
        assert state["status"] == "opted_out"
        assert state["opted_out_at"] == stop_at
    assert len(_audits(engine, "contact_point.opt_out_signal")) == 1
    assert len(_audits(engine, "contact_point.opt_in_signal")) == 1


def test_opt_out_is_not_undone_by_later_delivery_or_bounce(engine: Engine) -> None:
    dan = person(engine, "dan", "email", "dan@example.com", status="verified")
    oid = str(dan.outreach_id)
    ingest(
        engine,
        sendgrid_events(
            [
                {
                    "event": "unsubscribe",
                    "sg_event_id": "u",
                    "timestamp": 1767261600,
                    "outreach_id": oid,
                },
            ]
        ),
    )
    ingest(
        engine,
        sendgrid_events(
            [
                {
                    "event": "delivered",
                    "sg_event_id": "d",
                    "timestamp": 1767261700,
                    "outreach_id": oid,
                },
                {
                    "event": "bounce",
                    "type": "bounce",
                    "sg_event_id": "b",
                    "timestamp": 1767261800,
                    "outreach_id": oid,
                },
            ]
        ),
    )
    state = cp_state(engine, dan)
    assert state["status"] == "opted_out"
    assert state["opted_out_at"] == at(1767261600)
    assert state["bounced_at"] == at(1767261800)  # kept, should the customer opt back in


def test_start_does_not_undo_an_opt_out_recorded_elsewhere(engine: Engine) -> None:
    # Opted out on the landing page (no provider signal): only the customer can undo that there.
    mia = person(engine, "mia", "mobile", "+31612345678", status="opted_out", opted_out_at=STOP_AT)
    ingest(engine, [_inbound("inbound_start.json", "SMstart", START_AT)])
    assert cp_state(engine, mia)["status"] == "opted_out"


def test_inbound_stop_opts_out_every_holder_of_the_number(engine: Engine) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="verified")
    max_ = person(engine, "max", "mobile", "+31612345678")
    other = person(engine, "oli", "mobile", "+31687654321")
    outcome = ingest(engine, [_inbound("inbound_stop.json", "SMstop", STOP_AT)])
    assert (outcome.new, outcome.unmatched, outcome.contact_points_changed) == (1, 0, 2)
    assert [cp_state(engine, p)["status"] for p in (mia, max_, other)] == [
        "opted_out",
        "opted_out",
        "unverified",
    ]
    [event] = _rows(engine, select(T["event"]))
    assert (event.event_type, event.outreach_id) == ("inbound", None)


def test_inbound_from_an_unknown_number_is_stored_unmatched(engine: Engine) -> None:
    form = json.loads((FIXTURES / "twilio" / "inbound_stop.json").read_text())
    outcome = ingest(engine, [twilio_inbound_event({**form, "From": "+31600000000"})])
    assert (outcome.new, outcome.unmatched, outcome.contact_points_changed) == (1, 1, 0)
    assert count(engine, "event") == 1


def _status(name: str, outreach_id: int | None) -> EventRecord:
    form = json.loads((FIXTURES / "twilio" / name).read_text())
    return twilio_status_event(form, outreach_id, received_at=NOW - timedelta(minutes=5))


def test_dead_number_marks_invalid_and_hurries_the_next_step(engine: Engine) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="valid")
    ingest(engine, [_status("status_failed_21211.json", mia.outreach_id)])
    state = cp_state(engine, mia)
    assert (state["status"], state["invalid_reason"]) == ("invalid", "twilio error 21211")
    assert due(engine, mia) == NOW


def test_handset_off_is_not_a_dead_number(engine: Engine) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="valid")
    ingest(engine, [_status("status_undelivered_30003.json", mia.outreach_id)])
    assert cp_state(engine, mia)["status"] == "valid"
    assert due(engine, mia) == LATER


def test_twilio_21610_opts_out(engine: Engine) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="valid")
    ingest(engine, [_status("status_failed_21610.json", mia.outreach_id)])
    assert cp_state(engine, mia)["status"] == "opted_out"


def test_unknown_outreach_is_stored_and_counted_unmatched(engine: Engine) -> None:
    outcome = ingest(engine, [_status("status_delivered.json", 4242)])
    assert (outcome.new, outcome.unmatched) == (1, 1)
    [event] = _rows(engine, select(T["event"]))
    assert event.outreach_id is None and event.event_type == "delivered"


def test_twilio_callback_without_oid_finds_the_outreach_by_message_sid(engine: Engine) -> None:
    mia = person(engine, "mia", "mobile", "+31612345678", status="valid")
    with engine.begin() as conn:
        conn.execute(
            update(T["outreach"])
            .where(T["outreach"].c.id == mia.outreach_id)
            .values(provider_message_id="SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d")
        )
    outcome = ingest(engine, [_status("status_failed_21211.json", None)])
    assert outcome.unmatched == 0
    assert cp_state(engine, mia)["status"] == "invalid"
