"""Test helpers: audit rows to seal, and an attacker who edits the database behind the triggers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine, make_url

from models.audit import AuditRow, audit_many
from models.audit_trail.canonical import canonical
from models.audit_trail.sealing import content, link
from models.vocabulary import AuditAction
from tests.factories import NOW


def write_rows(engine: Engine, count: int, *, start: int = 1) -> None:
    """``count`` audit rows; every third names a person (a personal part when sealed)."""
    rows = [
        AuditRow(
            at=NOW,
            actor="tester",
            action=AuditAction.PROFILE_UPDATE,
            entity_type="profile",
            entity_id=i,
            profile_id=i,
            before={"state": f"old-{i:06d}"},
            after={"state": f"new-{i:06d}", **({"given_name": f"Name{i}"} if i % 3 == 0 else {})},
            reason="import",
            evidence={"batch": i // 10, "tags": ["a", "b"]},
        )
        for i in range(start, start + count)
    ]
    with engine.begin() as conn:
        audit_many(conn, rows)


@contextmanager
def attacker(engine: Engine) -> Iterator[Any]:
    """A DB-API cursor with the audit triggers out of the way: the sqlite3 module on the file
    with the triggers dropped, or a superuser session with them disabled. Commits at the end."""
    if engine.dialect.name == "sqlite":
        con = sqlite3.connect(str(make_url(str(engine.url)).database))
        for name in ("audit_event_sealed_no_update", "audit_event_sealed_no_delete",
                     "audit_personal_no_update"):  # fmt: skip
            con.execute(f"DROP TRIGGER IF EXISTS {name}")
        try:
            yield con.cursor()
            con.commit()
        finally:
            con.close()
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_personal DISABLE TRIGGER USER")
        yield cursor
        cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audit_personal ENABLE TRIGGER USER")
        raw.commit()
    finally:
        raw.close()


def p(engine: Engine, sql: str) -> str:
    """``sql`` with ``?`` placeholders in the driver's style."""
    return sql if engine.dialect.name == "sqlite" else sql.replace("?", "%s")


def forged_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """What an attacker who has the code computes for a row of their own."""
    return link(prev_hash, canonical(content(row, None)))
