"""Writing audit events, one at a time, in bulk, or built by the database from a query; always
inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Text,
    cast,
    func,
    insert,
    literal,
    literal_column,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.tables import AUDIT, AuditEvent
from models.types import UTCDateTime, utcnow
from models.vocabulary import AuditAction

AUDIT_TABLE = AUDIT


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit event to write with :func:`audit_many`; ``at`` left out is the time of writing.

    An action outside :class:`AuditAction` is refused (``ValueError``) when the row is built.
    """

    actor: str
    action: AuditAction
    entity_type: str
    entity_id: int | None
    profile_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None
    evidence: dict[str, Any] | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        # mypy refuses a plain string; this stops one that arrives untyped (Any, parsed data).
        if type(self.action) is not AuditAction:
            object.__setattr__(self, "action", AuditAction(self.action))


def audit(
    *,
    session: Session,
    actor: str,
    action: AuditAction,
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
            action=AuditAction(action),
            entity_type=entity_type,
            entity_id=entity_id,
            profile_id=profile_id,
            before=before,
            after=after,
            reason=reason,
            evidence=evidence,
        )
    )


def audit_many(conn: Connection | Session, rows: Iterable[AuditRow]) -> int:
    """Bulk-insert audit rows in one executemany; a row without ``at`` is stamped now."""
    now = utcnow()
    batch = [
        {
            "at": now if row.at is None else row.at,
            "actor": row.actor,
            "action": row.action,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "profile_id": row.profile_id,
            "before": row.before,
            "after": row.after,
            "reason": row.reason,
            "evidence": row.evidence,
        }
        for row in rows
    ]
    if batch:
        conn.execute(insert(AUDIT_TABLE), batch)
    return len(batch)


def json_object(dialect: str, pairs: Mapping[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """A JSON object built by the database from columns, so set-based audit rows need no
    per-row work in Python.

    Keys go in sorted order and without spaces, so the object is stored as sealing keeps it
    (RFC 8785) and the sealer need not rewrite it: SQLite's ``json_object`` writes it so;
    PostgreSQL's ``json_build_object`` would add spaces, so there the text is put together
    from ``to_json`` of each value (which escapes strings as RFC 8785 does).
    """
    for key in pairs:
        if not key.isidentifier():
            raise ValueError(f"not a plain key: {key!r}")
    ordered = sorted(pairs.items())
    if dialect != "postgresql":
        args: list[ColumnElement[Any]] = []
        for key, value in ordered:
            args += [literal_column(f"'{key}'"), value]
        return func.json_object(*args)
    spelled: ColumnElement[Any] = literal_column("'{'")
    for i, (key, value) in enumerate(ordered):
        as_text = func.coalesce(cast(func.to_json(value), Text), literal_column("'null'"))
        spelled = spelled.concat(literal_column(f"'{',' if i else ''}\"{key}\":'")).concat(as_text)
    return cast(spelled.concat(literal_column("'}'")), JSON)


def audit_from_select(
    conn: Connection,
    *,
    now: datetime,
    actor: str,
    action: AuditAction,
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
        literal(AuditAction(action), String()),
        literal(entity_type, String()),
    ]
    selected = source.with_only_columns(*head, *source.selected_columns.values())
    conn.execute(insert(AUDIT_TABLE).from_select(columns, selected))
