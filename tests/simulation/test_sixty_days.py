"""Sixty simulated days of outreach over a scripted population, on both databases.

The clock is a variable: every hour the due ladder steps are sent with send windows and
frequency caps, and the customers act at their scripted instants (answer on the landing page,
hard-bounce, reply STOP, lose their number, get asked at another system's contact moment).
Each customer's exact message history is then compared with the one
:mod:`tests.simulation.expected` works out from the rules alone, and global invariants are
checked over every message written.
"""

from __future__ import annotations

import time as clock
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import CONTACT, ENROLLMENT, OUTREACH, PROFILE
from tests.simulation.expected import (
    AMSTERDAM,
    LADDER,
    NL_HOLIDAYS,
    PER_CHANNEL,
    Expected,
    Line,
    expected,
    window_reason,
)
from tests.simulation.population import END, START, TOKYO, Answer, Customer, Script, at, population
from tests.simulation.report_check import check_observed_rates, check_report
from tests.simulation.world import World, inbox

CHANNEL_OF = {"email": "email", "mobile": "sms"}
STEP = {channel: index for index, (channel, _wait) in enumerate(LADDER)}
CUT_OFF = "after the print cut-off (15:00 Europe/Amsterdam)"
WORKING_DAYS = "letters go out on working days"
SMS_QUIET_NL = "quiet hours (sms 09:00–20:00 Mon–Fri, Europe/Amsterdam)"
REASON_KINDS = ("quiet hours (", "frequency cap: ", CUT_OFF, WORKING_DAYS)


def by_group(group: str) -> Customer:
    return next(c for c in population() if c.script.group == group)


def ordered(history: list[Line]) -> list[Line]:
    return sorted(history, key=lambda line: (line[0], line[3] or "", STEP[line[1]]))


def sent(t: datetime, channel: str, status: str = "sent") -> Line:
    return (t, channel, "ask", None, status)


# --- the expectation model against timelines worked out by hand ---------------------------


def test_the_model_agrees_with_timelines_worked_out_by_hand() -> None:
    """Guards the model itself: a few timelines read straight off a calendar."""
    tuesday_letter = at(10, 23)  # due Mon 28 Dec 19:00 local, past the cut-off: Tue 00:00 local
    never = expected(by_group("never-answers"))
    assert never.history == [
        sent(START, "email"),
        sent(at(5, 18), "sms"),
        sent(tuesday_letter, "letter"),
    ]
    assert (never.state, never.ended_at, never.end_reason) == (
        "exhausted",
        tuesday_letter + timedelta(days=21),
        "ladder exhausted",
    )
    assert never.wait_reasons == {CUT_OFF}

    early = expected(by_group("answers-day-2"))
    assert early.history == [sent(START, "email")]
    assert (early.state, early.ended_at, early.answer) == ("completed", at(2, 10), "completed")

    # Bounced on Saturday: the SMS is due at once but waits for Monday 09:00; its letter is due
    # on Boxing Day (a Saturday) and goes out on Monday.
    bounced = expected(by_group("bounces-day-1"))
    assert bounced.history == [
        sent(START, "email", "failed"),
        sent(at(3, 8), "sms"),
        sent(at(9, 23), "letter"),
    ]
    assert bounced.wait_reasons == {SMS_QUIET_NL, WORKING_DAYS}

    # The number dies on Christmas Eve after the cut-off: Christmas, Boxing Day, Sunday.
    dead = expected(by_group("dead-number-day-6"))
    assert dead.history[1:] == [sent(at(5, 18), "sms", "failed"), sent(at(9, 23), "letter")]
    assert dead.wait_reasons == {CUT_OFF}

    tokyo = expected(by_group("tokyo-never-answers"))
    assert tokyo.history == [
        sent(at(0, 23), "email"),  # Saturday 08:00 in Tokyo
        sent(at(6, 0), "sms"),  # Thursday 09:00 in Tokyo
        sent(at(11, 0), "letter"),  # Tuesday 01:00 in Amsterdam
    ]
    assert tokyo.wait_reasons == {
        f"quiet hours (email 08:00–21:00 Mon–Sat, {TOKYO})",
        f"quiet hours (sms 09:00–20:00 Mon–Fri, {TOKYO})",
    }

    capped = expected(by_group("capped-by-email-moments"))
    assert capped.moments == ["asked", "asked", "capped"]
    assert capped.history == [
        sent(START, "email"),
        (at(1, 12), "email", "moment", "invoice", "sent"),
        (at(3, 12), "email", "moment", "reminder", "sent"),
        sent(at(5, 18), "sms"),
        sent(at(30, 23), "letter"),  # 30 days after the first email, then Monday 00:00 local
    ]
    assert capped.wait_reasons == {"frequency cap: 4 messages in 30 days"}

    sms_capped = expected(by_group("capped-by-sms-moments"))
    assert [line[:2] for line in sms_capped.history][3:] == [
        (at(31, 12), "sms"),  # the first SMS ask left the 30 days
        (at(37, 23), "letter"),
    ]
    assert sms_capped.wait_reasons == {"frequency cap: 2 sms in 30 days", WORKING_DAYS}


def test_the_model_skips_steps_without_a_usable_contact_point() -> None:
    only_mobile = expected(Customer(1, Script("x", lacks=("email", "address"))))
    assert only_mobile.history == [
        sent(START, "email", "skipped"),
        sent(START, "sms"),
        sent(at(5, 18), "letter", "skipped"),
    ]
    assert (only_mobile.state, only_mobile.end_reason) == ("exhausted", "ladder exhausted")
    nothing = expected(Customer(2, Script("y", lacks=("email", "mobile", "address"))))
    assert [line[4] for line in nothing.history] == ["skipped"] * 3
    assert (nothing.state, nothing.end_reason) == ("exhausted", "no usable contact point")


def test_the_model_refuses_an_answer_through_a_message_never_sent() -> None:
    script = Script("z", answer=Answer(at(2, 10), "sms"))  # the SMS goes out on day 5
    with pytest.raises(AssertionError, match="not yet sent"):
        expected(Customer(3, script))


# --- the simulation -----------------------------------------------------------------------


def history(engine: Engine) -> dict[str, list[Line]]:
    o, p = OUTREACH.c, PROFILE.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                p.external_id, o.sent_at, o.created_at, o.channel, o.template, o.context, o.status
            ).join(PROFILE, p.id == o.profile_id)
        ).all()
    out: dict[str, list[Line]] = defaultdict(list)
    for r in rows:
        out[r.external_id].append(
            (r.sent_at or r.created_at, r.channel, r.template, r.context, r.status)
        )
    return {key: ordered(lines) for key, lines in out.items()}


def enrollments(engine: Engine) -> dict[str, list[Any]]:
    e, p = ENROLLMENT.c, PROFILE.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.external_id, e.state, e.ended_at, e.end_reason).join(
                PROFILE, p.id == e.profile_id
            )
        ).all()
    out: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        out[r.external_id].append((r.state, r.ended_at, r.end_reason))
    return out


def check_invariants(engine: Engine, customers: list[Customer]) -> None:
    """Rules that hold for every message written, read from the tables alone."""
    o, p, e, cp = OUTREACH.c, PROFILE.c, ENROLLMENT.c, CONTACT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.enrollment_id, o.profile_id, o.step_index, o.channel, o.context, o.status)
            .add_columns(o.sent_at, o.created_at, p.time_zone)
            .join(PROFILE, p.id == o.profile_id)
        ).all()
        ends: dict[int, datetime] = dict(
            conn.execute(select(e.profile_id, e.ended_at).where(e.state != "active")).all()
        )
        opt_outs = {
            (r.profile_id, CHANNEL_OF[r.kind]): r.opted_out_at
            for r in conn.execute(
                select(cp.profile_id, cp.kind, cp.opted_out_at).where(
                    cp.kind.in_(tuple(CHANNEL_OF)), cp.opted_out_at.is_not(None)
                )
            )
        }
    assert rows
    ladder = Counter((r.enrollment_id, r.step_index) for r in rows if r.context is None)
    assert [key for key, n in ladder.items() if n > 1] == []  # no step written twice
    delivered: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for r in rows:
        when = r.sent_at or r.created_at
        if r.status != "skipped" and r.context is None:
            zone = ZoneInfo(r.time_zone or "Europe/Amsterdam")
            assert window_reason(r.channel, r.sent_at, zone) is None, (r.channel, r.sent_at, zone)
        if r.channel == "letter" and r.status != "skipped":
            local = r.sent_at.astimezone(AMSTERDAM)
            assert local.weekday() < 5 and local.date() not in NL_HOLIDAYS
            assert local.hour < 15
        if r.status == "sent":
            delivered[r.profile_id].append((r.sent_at, r.channel))
        if r.profile_id in ends:  # completed or exhausted: nothing at all after
            assert when <= ends[r.profile_id]
        opted_out = opt_outs.get((r.profile_id, r.channel))
        if opted_out is not None and r.status != "skipped":
            assert when < opted_out  # nothing on a channel after STOP or unsubscribe
    for messages in delivered.values():
        for t, _channel in messages:
            window = [c for s, c in messages if t - timedelta(days=30) < s <= t]
            assert len(window) <= 4
            for channel, limit in PER_CHANNEL.items():
                assert window.count(channel) <= limit
    # Every enrollment has ended: 60 days outlast every script.
    assert len(ends) == len(customers)


def check_outbox(outbox: Path, engine: Engine) -> None:
    """The files the customers got are exactly the ladder messages recorded as sent."""
    o = OUTREACH.c
    with engine.connect() as conn:
        recorded = Counter(
            conn.execute(
                select(o.channel).where(o.context.is_(None), o.status.in_(("sent", "failed")))
            ).scalars()
        )
    got = Counter(m.channel for messages in inbox(outbox).values() for m in messages)
    letters = sum(
        len(path.read_text(encoding="utf-8").splitlines()) - 1
        for path in (outbox / "letters").glob("batch-*.csv")
    )
    assert (got["email"], got["sms"], letters) == (
        recorded["email"],
        recorded["sms"],
        recorded["letter"],
    )


def test_sixty_days_of_outreach(engine: Engine, tmp_path: Path) -> None:
    customers = population()
    plan = {c.external_id: expected(c) for c in customers}
    began = clock.perf_counter()
    world = World(engine, tmp_path / "outbox", customers)
    observed = world.run()
    elapsed = clock.perf_counter() - began
    assert observed.ticks == int((END - START) / timedelta(hours=1)) + 1

    got = history(engine)
    ended = enrollments(engine)
    mismatches: list[str] = []
    for c in customers:
        want: Expected = plan[c.external_id]
        actual = {
            "history": got.get(c.external_id, []),
            "enrollment": ended[c.external_id],
            "wait reasons": observed.wait_reasons.get(c.external_id, set()),
            "moments": observed.moments.get(c.external_id, []),
            "answer": observed.answers.get(c.external_id),
        }
        wanted = {
            "history": ordered(want.history),
            "enrollment": [(want.state, want.ended_at, want.end_reason)],
            "wait reasons": want.wait_reasons,
            "moments": want.moments,
            "answer": want.answer,
        }
        for key, value in wanted.items():
            if actual[key] != value:
                mismatches.append(f"{c.external_id} {key}:\n  want {value}\n  got  {actual[key]}")
    assert not mismatches, "\n".join(mismatches)

    check_invariants(engine, customers)
    check_outbox(tmp_path / "outbox", engine)
    # The steward's report and the next round's forecast, from the same sixty days.
    check_report(engine, customers, plan, world.spec, now=END)
    check_observed_rates(engine, customers, plan, world.spec, now=END)
    seen = {reason for reasons in observed.wait_reasons.values() for reason in reasons}
    assert all(reason.startswith(REASON_KINDS) for reason in seen), seen
    # Every kind of wait happened somewhere in the population.
    assert {kind for kind in REASON_KINDS if any(r.startswith(kind) for r in seen)} == set(
        REASON_KINDS
    )
    print(
        f"\n{engine.dialect.name}: {observed.ticks} ticks, {len(customers)} customers, "
        f"{observed.sends} sending ticks, {elapsed:.1f} s"
    )
