"""Reading the audit rows about profiles: by profile id, or naming one of their records; a
sealed row comes back with its personal part merged in (``[erased]`` where it was erased)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.engine import Connection

from models.audit_trail.personal import merge
from models.tables import (
    AUDIT,
    AUDIT_PERSONAL,
    CONSENT,
    CONTACT,
    ENROLLMENT,
    OUTREACH,
    SUBMISSION,
    TOKEN,
)

# Tables whose rows belong to one profile, by the entity type audit events name them with.
OWNED: Final[dict[str, Table]] = {
    "contact_point": CONTACT,
    "consent": CONSENT,
    "verification_token": TOKEN,
    "submission": SUBMISSION,
    "outreach": OUTREACH,
    "enrollment": ENROLLMENT,
}


@dataclass(frozen=True, slots=True)
class TrailRow:
    """One audit row, with the profile it is about (looked up when the row names only a record)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: int | None
    profile_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    evidence: dict[str, Any] | None
    # Sealed into the hash chain (see :mod:`models.audit_trail.sealing`): it can no longer change.
    sealed: bool = False


def profile_trail(conn: Connection, profile_ids: Sequence[int]) -> list[TrailRow]:
    """Every audit row about these profiles, oldest first.

    Some events name only the record (a provider's ``outreach.failed``); their owner is looked
    up, so each row comes back with the profile it is about.
    """
    ids = list(profile_ids)
    owner: dict[tuple[str, int], int] = {("profile", pid): pid for pid in ids}
    for entity, table in OWNED.items():
        query = select(table.c.id, table.c.profile_id).where(table.c.profile_id.in_(ids))
        owner.update({(entity, rid): pid for rid, pid in conn.execute(query)})
    # The records' ids as plain lists, not subqueries: PostgreSQL then combines index lookups
    # (a BitmapOr) instead of scanning the whole trail, which at millions of rows takes seconds.
    named = [
        and_(AUDIT.c.entity_type == entity, AUDIT.c.entity_id.in_(records))
        for entity in OWNED
        if (records := sorted(rid for kind, rid in owner if kind == entity))
    ]
    rows = conn.execute(
        select(
            AUDIT.c.id, AUDIT.c.at, AUDIT.c.actor, AUDIT.c.action, AUDIT.c.entity_type,
            AUDIT.c.entity_id, AUDIT.c.profile_id, AUDIT.c.before, AUDIT.c.after,
            AUDIT.c.reason, AUDIT.c.evidence, AUDIT.c.row_hash, AUDIT.c.personal_digest,
        )
        .where(or_(AUDIT.c.profile_id.in_(ids),
                   and_(AUDIT.c.entity_type == "profile", AUDIT.c.entity_id.in_(ids)), *named))
        .order_by(AUDIT.c.id)
    ).all()  # fmt: skip
    personal = _personal_parts(conn, [r.id for r in rows if r.personal_digest is not None])
    trail = []
    for r in rows:
        values = {k: v for k, v in r._mapping.items() if k not in ("row_hash", "personal_digest")}
        if r.personal_digest is not None:
            values.update(merge(values, personal.get(r.id)))
        values["profile_id"] = (
            r.profile_id if r.profile_id is not None else owner.get((r.entity_type, r.entity_id))
        )
        trail.append(TrailRow(**values, sealed=r.row_hash is not None))
    return trail


def _personal_parts(conn: Connection, audit_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The personal parts still held for these sealed rows (an erased one is missing)."""
    found: dict[int, list[Any]] = {}
    for start in range(0, len(audit_ids), 1000):
        chunk = audit_ids[start : start + 1000]
        query = select(AUDIT_PERSONAL.c.audit_id, AUDIT_PERSONAL.c.data)
        found.update(dict(conn.execute(query.where(AUDIT_PERSONAL.c.audit_id.in_(chunk))).all()))
    return found
