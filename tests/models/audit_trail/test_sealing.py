"""Sealing: pending rows join the chain in id order, their personal part apart; the database
refuses to change or delete a sealed row (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
from typing import Any

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
from tests.models.audit_trail.trail_data import attacker, write_rows


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
        *(
            ["TRUNCATE audit_event CASCADE", "TRUNCATE audit_personal"]
            if engine.dialect.name == "postgresql"
            else []  # SQLite has no TRUNCATE; its DELETE without WHERE meets the row trigger
        ),
    ):
        refused = pytest.raises(
            DBAPIError, match=r"sealed into the audit chain|cannot be changed|cannot be truncated"
        )
        with refused, engine.begin() as conn:
            conn.execute(text(sql))
    # A personal part may be deleted (that is erasure); the row itself stays.
    with engine.begin() as conn:
        assert conn.execute(text("DELETE FROM audit_personal")).rowcount == 1
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 4


AWKWARD: dict[str, Any] = {
    "quote": 'a "quoted" word and a back\\slash',
    "control": "tab\tnewline\ncarriage\rbell\x07unit\x1f",
    "non_ascii": "Zoë in Besançon, 東京, \U0001f600",
    "\U0001f600 key beyond the BMP": 1,
    "\uff61 key": 2,
    "floats": [0.1 + 0.2, 1e21, -0.0, 1.5],
    "nested": {"deeper": [{"deepest": [None, True, False, ""]}]},
    "big_but_safe": 2**53 - 1,
    "": "empty key",
}


def test_awkward_content_seals_verifies_and_is_stored_canonically(engine: Engine) -> None:
    """Strings needing every escape, keys RFC 8785 orders differently from code points, floats
    and deep nesting: written by Python and by the database, they seal, verify, are stored as
    their canonical text, and an edit deep inside is still caught."""
    from models.audit import audit_from_select, json_object
    from models.audit_trail.canonical import canonical_text
    from models.tables import PROFILE

    with engine.begin() as conn:
        pid = add_profile(conn, "AWK-1", [])
        audit_many(conn, [AuditRow(
            at=NOW, actor="tester \"quoted\"", action=AuditAction.PROFILE_UPDATE,
            entity_type="profile", entity_id=pid, profile_id=pid, before=None,
            after=AWKWARD, reason="", evidence={"list": [AWKWARD, [1, [2, [3]]]]},
        )])  # fmt: skip
        audit_from_select(
            conn, now=NOW, actor="database", action=AuditAction.PROFILE_UPDATE,
            entity_type="profile",
            source=select(
                PROFILE.c.id, PROFILE.c.id,
                json_object(conn.dialect.name, {"external_id": PROFILE.c.external_id,
                                                "locale": PROFILE.c.locale, "id": PROFILE.c.id}),
                PROFILE.c.locale,
                json_object(conn.dialect.name, {"note": PROFILE.c.external_id}),
            ).where(PROFILE.c.id == pid),
        )  # fmt: skip
    assert seal(engine) == 2
    result = verify(engine)
    assert (result.problem, result.rows) == (None, 2)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT CAST(after AS text), CAST(evidence AS text) FROM audit_event ORDER BY seq")
        ).all()
    for after, evidence in stored:
        for column in (after, evidence):
            assert column == canonical_text(json.loads(column))
    with engine.connect() as conn:
        trail = profile_trail(conn, [pid])
    assert trail[0].after is not None and trail[0].after["nested"] == AWKWARD["nested"]
    with attacker(engine) as cursor:
        forged = stored[0][1].replace('"deepest":[null,true', '"deepest":[null,false')
        assert forged != stored[0][1]
        placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
        cursor.execute(f"UPDATE audit_event SET evidence = {placeholder} WHERE seq = 1", (forged,))
    problem = verify(engine).problem
    assert problem is not None and (problem.kind, problem.seq) == ("edited", 1)


@pytest.mark.postgres
def test_a_trail_sealed_as_jsonb_still_verifies_after_the_upgrade(postgres: Any) -> None:
    """Before revision 0010 PostgreSQL kept the trail's JSON as jsonb (re-spelled on output);
    the upgrade turns it into the canonical text, the chain untouched."""
    from models.audit_trail.canonical import canonical_text
    from models.db import make_engine, upgrade

    admin = make_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE before_0010"))
    engine = make_engine(postgres.url("before_0010"))
    try:
        upgrade(engine, "0009")
        write_rows(engine, 12)
        assert seal(engine) == 12
        with engine.connect() as conn:
            spelled = conn.execute(text("SELECT CAST(after AS text) FROM audit_event")).scalars()
            assert any(", " in t for t in spelled)  # jsonb's own spelling
        assert verify(engine).problem is None
        head = verify(engine).head_hash
        upgrade(engine)
        result = verify(engine)
        assert (result.problem, result.rows, result.head_hash) == (None, 12, head)
        with engine.connect() as conn:
            for (after,) in conn.execute(text("SELECT CAST(after AS text) FROM audit_event")):
                assert after == canonical_text(json.loads(after))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE before_0010 WITH (FORCE)"))
        admin.dispose()
