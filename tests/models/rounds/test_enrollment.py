"""Enrollment: rounds start with an audit event; enrolling is set-based, batched and idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from models.campaigns.gaps import GAP_BITS
from models.db import session_scope
from models.rounds.enrollment import finish_round, round_summary
from models.tables import AUDIT, ENROLLMENT, Round
from tests.factories import COMPLETE, NOW, add_profile, enrol, replace, start_round


def enrollments(engine: Engine) -> list[tuple[int, int, int, str, int]]:
    with engine.connect() as conn:
        e = ENROLLMENT.c
        return [
            tuple(r)
            for r in conn.execute(  # type: ignore[misc]
                select(e.round_id, e.profile_id, e.gap_mask, e.state, e.step_index).order_by(
                    e.round_id, e.profile_id
                )
            )
        ]


def test_create_round_writes_an_audit_event(engine: Engine) -> None:
    round_id = start_round(engine, "alice")
    with engine.connect() as conn:
        audit_row = conn.execute(select(AUDIT)).mappings().one()
        status = conn.execute(select(Round.status).where(Round.id == round_id)).scalar_one()
    assert (audit_row["actor"], audit_row["action"], audit_row["entity_id"]) == (
        "alice",
        "round.start",
        round_id,
    )
    assert status == "running"


def test_enroll_selects_in_batches_and_is_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = [add_profile(conn, f"p{i}", replace(COMPLETE, "email")) for i in range(5)]
        add_profile(conn, "complete", COMPLETE)
        last = add_profile(conn, "no-mobile", replace(COMPLETE, "mobile"))
    round_id = start_round(engine)
    assert enrol(engine, round_id) == 6
    rows = enrollments(engine)
    expected = [(round_id, pid, GAP_BITS["missing_email"], "active", -1) for pid in ids]
    assert rows == [*expected, (round_id, last, GAP_BITS["missing_mobile"], "active", -1)]
    with engine.connect() as conn:
        due = conn.execute(select(func.min(ENROLLMENT.c.next_due_at))).scalar_one()
    assert due == NOW
    assert enrol(engine, round_id) == 0
    assert enrollments(engine) == rows


def test_limit_caps_the_round_and_a_rerun_adds_only_the_rest(engine: Engine) -> None:
    with engine.begin() as conn:
        for i in range(5):
            add_profile(conn, f"p{i}", replace(COMPLETE, "email"))
    round_id = start_round(engine)
    assert enrol(engine, round_id, limit=3) == 3
    assert enrol(engine, round_id, limit=1) == 1
    assert len(enrollments(engine)) == 4


def test_an_active_enrollment_in_another_round_excludes_the_profile(engine: Engine) -> None:
    with engine.begin() as conn:
        add_profile(conn, "p", replace(COMPLETE, "email"))
    first, second = start_round(engine), start_round(engine)
    assert enrol(engine, first) == 1
    assert enrol(engine, second) == 0
    with engine.begin() as conn:
        conn.execute(ENROLLMENT.update().values(state="exhausted"))
    assert enrol(engine, second) == 1
    assert [r[0] for r in enrollments(engine)] == [first, second]


def test_enroll_respects_cooldown_from_last_contact(engine: Engine) -> None:
    with engine.begin() as conn:
        add_profile(conn, "recent", [], last_contacted_at=NOW - timedelta(days=1))
    assert enrol(engine, start_round(engine)) == 0


def test_enroll_rejects_a_zero_batch(engine: Engine) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        enrol(engine, start_round(engine), batch_size=0)


def test_round_summary_and_finish(engine: Engine) -> None:
    with engine.begin() as conn:
        add_profile(conn, "a", replace(COMPLETE, "email"))
        add_profile(conn, "b", [])
    round_id = start_round(engine)
    enrol(engine, round_id)
    with engine.connect() as conn:
        summary = round_summary(conn=conn, round_id=round_id)
    assert summary["enrolled"] == 2
    assert summary["per_gap"] == {"missing_email": 2, "missing_mobile": 1, "unverified_postal": 1}
    assert summary["per_state"] == {"active": 2}
    with session_scope(engine) as session:
        finish_round(session=session, round_id=round_id, summary=summary, actor="steward")
    with engine.connect() as conn:
        stored = conn.execute(select(Round.status, Round.summary).where(Round.id == round_id)).one()
    assert stored.status == "finished"
    assert stored.summary["enrolled"] == 2
