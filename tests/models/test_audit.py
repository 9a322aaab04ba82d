"""The audit trail's actions: the README lists exactly the ones Enrich writes, a row with any
other action is refused before it reaches the database, and the stored action is the plain
string the auditor reads (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import AuditRow, audit, audit_many
from models.tables import AuditEvent
from models.types import utcnow
from models.vocabulary import AuditAction

README = Path(__file__).resolve().parents[2] / "README.md"
AT = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _documented_actions() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n### What the trail records\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `([^`]+)`:", section, flags=re.MULTILINE)


def test_the_readme_lists_every_audit_action_once() -> None:
    documented = _documented_actions()
    assert sorted(documented) == sorted(set(documented)), "an action is listed twice"
    assert set(documented) == {action.value for action in AuditAction}


def test_a_row_with_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match=r"outreach\.teleported"):
        AuditRow(
            actor="system",
            action="outreach.teleported",  # type: ignore[arg-type]
            entity_type="outreach",
            entity_id=1,
        )


def test_rows_are_stored_with_their_action_and_a_default_time(engine: Engine) -> None:
    rows = [
        AuditRow(
            actor="alice",
            action=AuditAction.SWEEP_DECIDED,
            entity_type="sweep_proposal",
            entity_id=7,
            profile_id=3,
            before={"status": "open"},
            after={"status": "decided"},
            reason="idle",
            at=AT,
        ),
        AuditRow(
            actor="system", action=AuditAction.SWEEP_START, entity_type="sweep_run", entity_id=1
        ),
    ]
    written_from = utcnow()
    with engine.begin() as conn:
        assert audit_many(conn, rows) == 2
        assert audit_many(conn, []) == 0
    with Session(engine) as session:
        stored = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert [(e.action, e.actor, e.entity_id, e.profile_id) for e in stored] == [
        ("sweep.decided", "alice", 7, 3),
        ("sweep.start", "system", 1, None),
    ]
    assert type(stored[0].action) is str
    assert stored[0].at == AT and stored[0].before == {"status": "open"}
    assert written_from <= stored[1].at <= utcnow()
    assert stored[1].before is None and stored[1].evidence is None


def test_a_single_event_with_an_unknown_action_writes_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(ValueError, match=r"round\.paused"):
            audit(
                session=session,
                actor="alice",
                action="round.paused",  # type: ignore[arg-type]
                entity_type="round",
                entity_id=1,
            )
        session.commit()
        assert session.exec(select(AuditEvent)).all() == []
