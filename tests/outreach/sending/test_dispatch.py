"""Dispatch: first steps go out once, skips are recorded, a crash and a rerun send nothing twice.

The channels here are a fake at the seam (a Channel that keeps its messages in memory and can
fail or crash on demand), so each recovery path is exercised deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.answers.link_tokens import hash_token, token_from_link
from models.tables import (
    AUDIT,
    ENROLLMENT,
    OUTREACH,
    PROFILE,
    AuditEvent,
    Enrollment,
    Profile,
    VerificationToken,
)
from outreach.channels.base import InDoubt, Message, SendResult
from outreach.config import OutreachConfig
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.due import due_enrollment_ids
from tests.factories import COMPLETE, NOW, add_profile, enrol, replace, spec, start_round


class Crash(Exception):
    """Stands for the process dying in the middle of a send."""


class FakeChannel:
    """Delivers into a dict; ``fail_for`` recipients fail; ``crash`` raises before or after."""

    provider = "fake"
    batch_size = 1000
    lookup_is_authoritative = True
    reconcile_grace = timedelta(0)

    def __init__(self, name: str) -> None:
        self.name = name
        self.delivered: dict[int, Message] = {}
        self.calls = 0
        self.fail_for: set[str] = set()
        self.crash: str | None = None  # "before" or "after" delivering

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        self.calls += 1
        if self.crash == "before":
            raise Crash
        results = []
        for m in messages:
            if m.recipient in self.fail_for:
                results.append(
                    SendResult(
                        m.outreach_id,
                        ok=False,
                        provider="fake",
                        error="template ask: missing variable",
                    )
                )
                continue
            self.delivered[m.outreach_id] = m
            results.append(
                SendResult(
                    m.outreach_id,
                    ok=True,
                    provider="fake",
                    provider_message_id=f"fake-{m.outreach_id}",
                )
            )
        if self.crash == "after":
            raise Crash
        return results

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        return {
            i.outreach_id: SendResult(
                i.outreach_id, ok=True, provider="fake", provider_message_id=f"fake-{i.outreach_id}"
            )
            for i in items
            if i.outreach_id in self.delivered
        }


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("email", "sms", "letter")}


def config(tmp_path: Path) -> OutreachConfig:
    return OutreachConfig(
        outbox_dir=tmp_path, templates_dir=tmp_path, base_url="https://enrich.example.org"
    )


def send(engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path) -> BatchOutcome:
    round_ids = {r for (r,) in _rows(engine, select(Enrollment.round_id))}
    ids = [i for r in round_ids for i in _due(engine, r)]
    return send_due_steps(
        engine=engine,
        enrollment_ids=ids,
        spec=spec(),
        channels=channels,
        config=config(tmp_path),
        now=NOW,  # type: ignore[arg-type]
        actor="system",
    )


def _due(engine: Engine, round_id: int) -> list[int]:
    with engine.connect() as conn:
        return due_enrollment_ids(conn=conn, round_id=round_id, now=NOW, limit=100)


def _rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def outreach(engine: Engine) -> list[tuple[Any, ...]]:
    o = OUTREACH.c
    return [
        tuple(r)
        for r in _rows(
            engine,
            select(o.profile_id, o.step_index, o.channel, o.status).order_by(
                o.profile_id, o.step_index
            ),
        )
    ]


def setup_round(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        ids = {
            "email": add_profile(conn, "email", replace(COMPLETE, "mobile")),
            "sms": add_profile(conn, "sms", replace(COMPLETE, "email")),
            "nobody": add_profile(conn, "nobody", [{"kind": "postal", "status": "invalid"}]),
        }
    enrol(engine, start_round(engine))
    return ids


def test_first_usable_step_is_sent_and_skips_are_recorded(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    ids = setup_round(engine)
    outcome = send(engine, channels, tmp_path)
    assert outcome == BatchOutcome(sent=2, failed=0, skipped=4, already_sent=0, exhausted=1)
    assert outreach(engine) == sorted(
        [
            (ids["email"], 0, "email", "sent"),
            (ids["sms"], 0, "email", "skipped"),
            (ids["sms"], 1, "sms", "sent"),
            (ids["nobody"], 0, "email", "skipped"),
            (ids["nobody"], 1, "sms", "skipped"),
            (ids["nobody"], 2, "letter", "skipped"),
        ]
    )
    email = next(iter(channels["email"].delivered.values()))
    assert email.recipient == "email@example.org"
    assert email.link.startswith("https://enrich.example.org/c/")
    token_hashes = {h for (h,) in _rows(engine, select(VerificationToken.token_hash))}
    assert hash_token(token_from_link(email.link)) in token_hashes
    assert token_from_link(email.link) not in token_hashes

    e = ENROLLMENT.c
    states = {
        r.profile_id: r
        for r in _rows(
            engine, select(e.profile_id, e.state, e.step_index, e.next_due_at, e.end_reason)
        )
    }
    assert (states[ids["email"]].step_index, states[ids["email"]].next_due_at) == (
        0,
        NOW + timedelta(days=5),
    )
    assert states[ids["sms"]].step_index == 1
    assert (states[ids["nobody"]].state, states[ids["nobody"]].end_reason) == (
        "exhausted",
        "no usable contact point",
    )
    contacted = dict(_rows(engine, select(Profile.id, Profile.last_contacted_at)))
    assert contacted == {ids["email"]: NOW, ids["sms"]: NOW, ids["nobody"]: None}

    audits = _rows(
        engine,
        select(AUDIT)
        .where(  # type: ignore[attr-defined]
            AuditEvent.action == "outreach.sent"
        )
        .order_by(AuditEvent.profile_id),
    )
    assert [a.profile_id for a in audits] == [ids["email"], ids["sms"]]
    assert audits[1].after == {"channel": "sms", "template": "ask", "step": 1, "provider": "fake"}
    assert audits[1].reason.endswith("step 2 (sms): gaps missing_email")
    assert set(audits[1].evidence) == {
        "round_id",
        "enrollment_id",
        "outreach_id",
        "provider_message_id",
    }


def test_a_rerun_sends_nothing_again(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    setup_round(engine)
    send(engine, channels, tmp_path)
    before = outreach(engine)
    round_id = _rows(engine, select(Enrollment.round_id))[0][0]
    ids = [r[0] for r in _rows(engine, select(Enrollment.id))]
    again = send_due_steps(
        engine=engine,
        enrollment_ids=ids,
        spec=spec(),
        channels=channels,
        config=config(tmp_path),
        now=NOW,  # type: ignore[arg-type]
        actor="system",
    )
    assert again == BatchOutcome()
    assert outreach(engine) == before
    assert _due(engine, round_id) == []
    assert sum(len(c.delivered) for c in channels.values()) == 2


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_during_send_then_a_rerun_sends_each_step_once(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path, when: str
) -> None:
    setup_round(engine)
    channels["email"].crash = when
    with pytest.raises(Crash):
        send(engine, channels, tmp_path)
    # The write-ahead rows survived the crash; the email is pending, the sms already went out
    # or not depending on channel order, and no enrollment advanced for the email.
    statuses = {(ch, st) for _p, _s, ch, st in outreach(engine)}
    assert ("email", "pending") in statuses
    channels["email"].crash = None
    outcome = send(engine, channels, tmp_path)
    assert outcome.already_sent == (1 if when == "after" else 0)
    assert [st for _p, _s, ch, st in outreach(engine) if ch != "letter" and st != "skipped"] == [
        "sent",
        "sent",
    ]
    assert len(channels["email"].delivered) == 1
    assert len(channels["sms"].delivered) == 1
    assert channels["email"].calls == (1 if when == "after" else 2)
    sent_audits = _rows(engine, select(AuditEvent.id).where(AuditEvent.action == "outreach.sent"))
    assert len(sent_audits) == 2


def test_one_failed_message_does_not_block_the_others(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    with engine.begin() as conn:
        bad = add_profile(conn, "bad", replace(COMPLETE, "mobile"))
        good = add_profile(conn, "good", replace(COMPLETE, "mobile"))
    enrol(engine, start_round(engine))
    channels["email"].fail_for = {"bad@example.org"}
    outcome = send(engine, channels, tmp_path)
    assert (outcome.sent, outcome.failed) == (1, 1)
    o = OUTREACH.c
    rows = dict(_rows(engine, select(o.profile_id, o.status)))
    assert rows == {bad: "failed", good: "sent"}
    error = _rows(engine, select(o.error).where(o.profile_id == bad))[0][0]
    assert error == "template ask: missing variable"
    e = ENROLLMENT.c
    due = dict(_rows(engine, select(e.profile_id, e.next_due_at)))
    assert due[bad] == NOW  # the next step is due at once
    actions = {a for (a,) in _rows(engine, select(AuditEvent.action))}
    assert {"outreach.sent", "outreach.failed"} <= actions
    contacted = dict(_rows(engine, select(Profile.id, Profile.last_contacted_at)))
    assert contacted == {bad: None, good: NOW}


def test_a_profile_that_opted_out_after_enrolment_is_not_contacted(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    with engine.begin() as conn:
        pid = add_profile(conn, "leaver", replace(COMPLETE, "mobile"))
    enrol(engine, start_round(engine))
    with engine.begin() as conn:
        conn.execute(PROFILE.update().values(opted_out_at=NOW))
    outcome = send(engine, channels, tmp_path)
    assert outcome == BatchOutcome()
    e = ENROLLMENT.c
    assert _rows(engine, select(e.profile_id, e.state)) == [(pid, "stopped")]
    assert outreach(engine) == []


def test_a_ladder_channel_without_a_channel_is_a_configuration_error(
    engine: Engine, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    del channels["letter"]
    with pytest.raises(ValueError, match="no channel configured for letter"):
        send(engine, channels, tmp_path)
