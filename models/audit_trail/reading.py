"""Reading the audit rows about profiles: by profile id, or naming one of their records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.engine import Connection

from models.tables import AUDIT, CONSENT, CONTACT, ENROLLMENT, OUTREACH, SUBMISSION, TOKEN

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
    named = [
        and_(
            AUDIT.c.entity_type == entity,
            AUDIT.c.entity_id.in_(select(table.c.id).where(table.c.profile_id.in_(ids))),
        )
        for entity, table in OWNED.items()
    ]
    rows = conn.execute(
        select(
            AUDIT.c.id, AUDIT.c.at, AUDIT.c.actor, AUDIT.c.action, AUDIT.c.entity_type,
            AUDIT.c.entity_id, AUDIT.c.profile_id, AUDIT.c.before, AUDIT.c.after,
            AUDIT.c.reason, AUDIT.c.evidence,
        )
        .where(or_(AUDIT.c.profile_id.in_(ids),
                   and_(AUDIT.c.entity_type == "profile", AUDIT.c.entity_id.in_(ids)), *named))
        .order_by(AUDIT.c.id)
    ).all()  # fmt: skip
    return [
        TrailRow(
            **{
                **r._mapping,
                "profile_id": r.profile_id
                if r.profile_id is not None
                else owner.get((r.entity_type, r.entity_id)),
            }
        )
        for r in rows
    ]
