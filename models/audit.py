"""Writing audit events, one at a time, in bulk, or built by the database from a query; always
inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, insert, literal, literal_column
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.tables import AUDIT, AuditEvent
from models.types import UTCDateTime, utcnow

AUDIT_TABLE = AUDIT


def audit(
    *,
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int | None,
    profile_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            profile_id=profile_id,
            before=before,
            after=after,
            reason=reason,
            evidence=evidence,
        )
    )


def audit_many(conn: Connection | Session, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk-insert audit rows (dicts with AuditEvent's columns); ``at`` defaults to now."""
    now = utcnow()
    batch = [
        {
            "at": now,
            "before": None,
            "after": None,
            "reason": None,
            "evidence": None,
            "profile_id": None,
            **row,
        }
        for row in rows
    ]
    if batch:
        conn.execute(insert(AUDIT_TABLE), batch)
    return len(batch)


def json_object(dialect: str, pairs: Mapping[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """A JSON object built by the database from columns (SQLite ``json_object``, PostgreSQL
    ``jsonb_build_object``), so set-based audit rows need no per-row work in Python."""
    build = func.jsonb_build_object if dialect == "postgresql" else func.json_object
    args: list[ColumnElement[Any]] = []
    for key, value in pairs.items():
        if not key.isidentifier():
            raise ValueError(f"not a plain key: {key!r}")
        args += [literal_column(f"'{key}'"), value]
    return build(*args)


def audit_from_select(
    conn: Connection,
    *,
    now: datetime,
    actor: str,
    action: str,
    entity_type: str,
    source: Select[Any],
) -> None:
    """Insert one audit row per row of ``source``, which selects, in this order, the entity id,
    the profile id, ``after``, ``reason`` and ``evidence``; the database builds the rows."""
    columns = ["at", "actor", "action", "entity_type", "entity_id", "profile_id"]
    columns += ["after", "reason", "evidence"]
    head: list[ColumnElement[Any]] = [
        literal(now, UTCDateTime()),
        literal(actor, String()),
        literal(action, String()),
        literal(entity_type, String()),
    ]
    selected = source.with_only_columns(*head, *source.selected_columns.values())
    conn.execute(insert(AUDIT_TABLE).from_select(columns, selected))
