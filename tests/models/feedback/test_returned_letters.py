"""Returned letters mark their postal address invalid and move the enrollment on, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.db import session_scope
from models.feedback.returned_letters import ReturnsOutcome, mark_returned, parse_return_code
from outreach import letters
from tests.models.feedback.people import T, add

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=21)


@dataclass(frozen=True)
class Letter:
    profile_id: int
    cp_id: int
    enrollment_id: int
    outreach_id: int


def letter(
    engine: Engine, name: str, *, cp_status: str = "unverified", enrollment_step: int = 2
) -> Letter:
    """A profile with a postal address, an active enrollment and its posted step-2 letter."""
    stamps = {"created_at": NOW, "updated_at": NOW}
    with engine.begin() as conn:
        round_id = conn.execute(select(T["round"].c.id)).scalar()
        if round_id is None:
            campaign = add(
                conn, "campaign", key="default", version=1, content_hash="x", definition={},
                created_at=NOW,
            )  # fmt: skip
            round_id = add(conn, "round", campaign_id=campaign, started_by="test", started_at=NOW)
        profile_id = add(conn, "profile", external_id=name, **stamps)
        cp_id = add(
            conn, "cp", profile_id=profile_id, kind="postal", value=f"Main St 1, {name}",
            status=cp_status, **stamps,
        )  # fmt: skip
        enrollment_id = add(
            conn, "enrollment", round_id=round_id, profile_id=profile_id, state="active",
            gap_mask=1, step_index=enrollment_step, next_due_at=LATER, **stamps,
        )  # fmt: skip
        outreach_id = add(
            conn, "outreach", enrollment_id=enrollment_id, profile_id=profile_id,
            contact_point_id=cp_id, step_index=2, channel="letter", template="ask",
            status="sent", sent_at=NOW, **stamps,
        )  # fmt: skip
    return Letter(profile_id, cp_id, enrollment_id, outreach_id)


def returned(engine: Engine, codes: list[str], now: datetime = NOW) -> ReturnsOutcome:
    with session_scope(engine) as session:
        return mark_returned(session=session, codes=codes, now=now, actor="test")


def state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        cps = [tuple(r) for r in conn.execute(
            select(T["cp"].c.id, T["cp"].c.status, T["cp"].c.invalid_reason).order_by("id")
        )]  # fmt: skip
        dues = [tuple(r) for r in conn.execute(
            select(T["enrollment"].c.id, T["enrollment"].c.next_due_at).order_by("id")
        )]  # fmt: skip
        outreach = [tuple(r) for r in conn.execute(
            select(T["outreach"].c.id, T["outreach"].c.status).order_by("id")
        )]  # fmt: skip
        audits = conn.execute(select(func.count()).select_from(T["audit"])).scalar_one()
    return {"cps": cps, "dues": dues, "outreach": outreach, "audits": audits}


def test_parser_agrees_with_the_printed_codes() -> None:
    ids = [*range(0, 2000), 123456, 999999, 1_000_000, 987_654_321]
    for oid in ids:
        code = letters.return_code(oid)
        assert parse_return_code(code) == oid
    # Typed without dashes or in lower case, as people do.
    assert parse_return_code(" l0001230 ") == parse_return_code("L-000123-0") == 123


@pytest.mark.parametrize("code", ["L-000123-4", "L-000132-0", "X-000123-0", "L-12-1", "", "123"])
def test_mistyped_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError):
        parse_return_code(code)


def test_returned_letter_marks_the_address_invalid_and_makes_the_enrollment_due(
    engine: Engine,
) -> None:
    ann = letter(engine, "ann")
    bob = letter(engine, "bob")
    outcome = returned(engine, [letters.return_code(ann.outreach_id)])
    assert (outcome.marked, outcome.already_invalid, outcome.enrollments_due) == (1, 0, 1)
    assert outcome.unknown_codes == outcome.bad_codes == []
    after = state(engine)
    assert after["cps"] == [
        (ann.cp_id, "invalid", "letter returned"),
        (bob.cp_id, "unverified", None),
    ]
    assert after["dues"] == [(ann.enrollment_id, NOW), (bob.enrollment_id, LATER)]
    assert after["outreach"] == [(ann.outreach_id, "failed"), (bob.outreach_id, "sent")]
    with engine.connect() as conn:
        audit = conn.execute(
            select(T["audit"]).where(T["audit"].c.action == "contact_point.invalid")
        ).one()
    assert (audit.actor, audit.entity_id, audit.profile_id) == ("test", ann.cp_id, ann.profile_id)
    assert audit.evidence == {
        "outreach_id": ann.outreach_id,
        "code": letters.return_code(ann.outreach_id),
    }


def test_bad_and_unknown_codes_are_reported_and_a_second_run_changes_nothing(
    engine: Engine,
) -> None:
    ann = letter(engine, "ann")
    moved_on = letter(engine, "cat", enrollment_step=3)  # the ladder already went past the letter
    good = letters.return_code(ann.outreach_id)
    codes = [good, good, letters.return_code(moved_on.outreach_id), "L-000001-9", "nonsense", "",
             letters.return_code(99_999)]  # fmt: skip
    first = returned(engine, codes)
    assert (first.marked, first.enrollments_due) == (2, 1)
    assert first.bad_codes == ["L-000001-9", "nonsense"]
    assert first.unknown_codes == [letters.return_code(99_999)]
    after_first = state(engine)
    again = returned(engine, codes, now=NOW + timedelta(hours=1))
    assert (again.marked, again.already_invalid, again.enrollments_due) == (0, 2, 0)
    assert state(engine) == after_first


def test_an_opted_out_address_stays_opted_out(engine: Engine) -> None:
    ann = letter(engine, "ann", cp_status="opted_out")
    outcome = returned(engine, [letters.return_code(ann.outreach_id)])
    assert (outcome.marked, outcome.already_invalid) == (0, 1)
    assert state(engine)["cps"] == [(ann.cp_id, "opted_out", None)]
