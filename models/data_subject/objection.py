"""Objection (Art. 21): the customer objects to being processed, to everything or to one purpose.

- Without a purpose the objection is to everything Enrich does with the person: ``objected_at``
  is set, the active enrollment stops at once, and no round selects them, no ladder step goes
  out and no contact moment asks them any more (selection, write-ahead and contact moments all
  read ``objected_at``). The profile is kept: its record is what stops a re-import from
  contacting them again. Withdrawing the objection clears ``objected_at``; the next round may
  select them again.
- With a purpose (one a campaign asks consent for, e.g. ``newsletter``), the objection is recorded
  as a withdrawal of that purpose's consent (a ``consent`` row, ``granted`` false, source
  ``objection``), the same record a withdrawal on the landing page leaves; rounds keep running
  for the person's contact data. Such a withdrawal is not undone on request: only the customer
  can grant a consent again, on the landing page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.data_subject.request import (
    Request,
    RequestError,
    find_profile,
    refuse_erased,
    set_mark,
    stop_enrollments,
)
from models.tables import CAMPAIGN, CONSENT
from models.vocabulary import AuditAction

OBJECTED: Final = "objected"
ALREADY_OBJECTED: Final = "already objected"
PURPOSE_WITHDRAWN: Final = "consent withdrawn"
WITHDRAWN: Final = "objection withdrawn"
NOT_OBJECTED: Final = "not objected"
SOURCE: Final = "objection"


class UnknownPurpose(RequestError):
    field = "purpose"


def known_purposes(conn: Connection, current: Iterable[str] = ()) -> set[str]:
    """Every purpose a stored campaign version asks consent for, and ``current``'s."""
    found = set(current)
    for (definition,) in conn.execute(select(CAMPAIGN.c.definition)):
        purposes = definition.get("purposes") if isinstance(definition, dict) else None
        for purpose in purposes or []:
            if isinstance(purpose, dict) and isinstance(purpose.get("key"), str):
                found.add(purpose["key"])
    return found


def object_to_processing(
    conn: Connection,
    *,
    external_id: str,
    request: Request,
    now: datetime,
    purpose: str | None = None,
    purposes: Iterable[str] = (),
) -> str:
    """Record the objection (see the module docstring); returns what was done.

    ``purposes`` are the current campaign's; a purpose no campaign asks for is refused.
    """
    profile = find_profile(conn, external_id)
    refuse_erased(profile, "object to")
    if purpose is not None:
        return _withdraw_purpose(conn, profile.id, purpose, set(purposes), request, now)
    if profile.objected_at is not None:
        return ALREADY_OBJECTED
    set_mark(
        conn,
        profile=profile,
        column="objected_at",
        at=now,
        action=AuditAction.PROFILE_OBJECTED,
        request=request,
        now=now,
    )
    stop_enrollments(conn, profile_id=profile.id, why="objected", request=request, now=now)
    return OBJECTED


def _withdraw_purpose(
    conn: Connection,
    profile_id: int,
    purpose: str,
    current: set[str],
    request: Request,
    now: datetime,
) -> str:
    if purpose not in known_purposes(conn, current):
        raise UnknownPurpose("unknown purpose: no campaign asks consent for it")
    consent_id = conn.execute(
        insert(CONSENT)
        .values(
            profile_id=profile_id,
            purpose=purpose,
            channel=None,
            granted=False,
            source=SOURCE,
            recorded_at=now,
            evidence=request.evidence,
        )
        .returning(CONSENT.c.id)
    ).scalar_one()
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=request.requested_by,
                action=AuditAction.CONSENT_WITHDRAWN,
                entity_type="consent",
                entity_id=consent_id,
                profile_id=profile_id,
                after={"purpose": purpose, "granted": False, "source": SOURCE},
                reason=request.reason,
                evidence=request.evidence,
            )
        ],
    )
    return PURPOSE_WITHDRAWN


def withdraw_objection(
    conn: Connection, *, external_id: str, request: Request, now: datetime
) -> str:
    """Clear the objection to everything; returns what was done."""
    profile = find_profile(conn, external_id)
    refuse_erased(profile, "withdraw")
    if profile.objected_at is None:
        return NOT_OBJECTED
    set_mark(
        conn,
        profile=profile,
        column="objected_at",
        at=None,
        action=AuditAction.PROFILE_OBJECTION_WITHDRAWN,
        request=request,
        now=now,
    )
    return WITHDRAWN
