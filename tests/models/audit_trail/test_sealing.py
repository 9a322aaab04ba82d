"""Sealing: pending rows join the chain in id order, their personal part apart; the database
refuses to change or delete a sealed row (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from models.audit import AuditRow, audit_many
from models.audit_trail.personal import PLACEHOLDER
from models.audit_trail.reading import profile_trail
from models.audit_trail.sealing import GENESIS, seal
from models.audit_trail.verify import verify
from models.tables import AUDIT, AUDIT_PERSONAL, CONTACT
from models.vocabulary import AuditAction
from tests.factories import NOW, add_profile
from tests.models.audit_trail.trail_data import write_rows


def test_rows_are_sealed_in_order_and_verify(engine: Engine) -> None:
    write_rows(engine, 25)
    assert seal(engine, batch_size=10) == 25
    write_rows(engine, 5, start=26)
    assert seal(engine) == 5 and seal(engine) == 0
    with engine.connect() as conn:
        rows = conn.execute(
            select(AUDIT.c.id, AUDIT.c.seq, AUDIT.c.prev_hash, AUDIT.c.row_hash).order_by(
                AUDIT.c.seq
            )
        ).all()
    assert [r.seq for r in rows] == list(range(1, 31))
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    result = verify(engine)
    assert (result.problem, result.rows, result.head_seq, result.pending) == (None, 30, 30, 0)
    assert result.head_hash == rows[-1].row_hash


def test_personal_values_move_out_of_the_row_and_read_back(engine: Engine) -> None:
    with engine.begin() as conn:
        pid = add_profile(conn, "CRM-7", [{"kind": "email", "status": "valid"}])
        cp = conn.execute(select(CONTACT.c.id)).scalar_one()
        conn.execute(update(CONTACT).values(value="anna.jansen@example.nl"))
        audit_many(conn, [
            AuditRow(actor="t", action=AuditAction.CONTACT_POINT_UPDATE,
                     entity_type="contact_point", entity_id=cp,
                     before={"value": "old@example.nl", "status": "valid"},
                     after={"status": "bounced"}, evidence={"detail": "550 old@example.nl"},
                     reason="bounce for anna.jansen@example.nl", at=NOW),
        ])  # fmt: skip
    seal(engine)
    with engine.connect() as conn:
        row = conn.execute(select(AUDIT)).one()
        part = conn.execute(select(AUDIT_PERSONAL)).one()
        [trail] = profile_trail(conn, [pid])
    # The owner is filled in from the contact point; the hashed row holds no personal value.
    assert row.profile_id == pid and part.profile_id == pid
    assert row.before == {"value": PLACEHOLDER, "status": "valid"}
    assert row.evidence == {"detail": PLACEHOLDER} and row.reason == PLACEHOLDER
    assert row.after == {"status": "bounced"} and row.personal_digest is not None
    assert "example.nl" not in repr(tuple(row))
    assert trail.sealed and trail.before == {"value": "old@example.nl", "status": "valid"}
    assert trail.evidence == {"detail": "550 old@example.nl"}
    assert trail.reason == "bounce for anna.jansen@example.nl"
    assert verify(engine).problem is None


def test_the_database_refuses_to_change_a_sealed_row(engine: Engine) -> None:
    write_rows(engine, 3)
    seal(engine)
    write_rows(engine, 1, start=4)  # pending: still open to change
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET reason = 'fixed' WHERE seq IS NULL"))
    for sql in (
        "UPDATE audit_event SET reason = 'forged' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 1",
        "UPDATE audit_personal SET salt = 'x'",
    ):
        refused = pytest.raises(DBAPIError, match=r"sealed into the audit chain|cannot be changed")
        with refused, engine.begin() as conn:
            conn.execute(text(sql))
    # A personal part may be deleted (that is erasure); the row itself stays.
    with engine.begin() as conn:
        assert conn.execute(text("DELETE FROM audit_personal")).rowcount == 1
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 4
