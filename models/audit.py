"""Writing audit events, one at a time or in bulk, always inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.tables import AuditEvent
from models.types import utcnow

AUDIT_TABLE = AuditEvent.__table__  # type: ignore[attr-defined]


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
