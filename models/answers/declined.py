"""A customer's "I don't have one": no email address, or no mobile number.

Said on the landing page, it closes the email gaps (or the mobile gaps) as *declined*: the
enrollment completes when every gap is verified or declined (:mod:`models.rounds.completion`),
and no round or contact moment asks for that field again for ``declined_field_days``
(:mod:`models.rounds.selection`). The values of that kind still on file are the customer's no
longer, so each one not already contested becomes ``contested`` (never sent to again), audited
as by "this is wrong". Giving a value of that kind later (on the page, by any link) withdraws
the statement. Both are audited on the profile, with the submission as evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col, select

from models.answers.rights import contest
from models.audit import audit
from models.tables import ContactPoint, Profile
from models.vocabulary import CONTESTED, OPTED_OUT, AuditAction

DECLINABLE: Final = ("email", "mobile")
COLUMN: Final = {"email": "email_declined_at", "mobile": "mobile_declined_at"}


def declined_at(profile: Profile, kind: str) -> datetime | None:
    """When the customer said they have no ``kind`` (None: never, or withdrawn since)."""
    value: datetime | None = getattr(profile, COLUMN[kind]) if kind in COLUMN else None
    return value


def decline(
    session: Session, profile: Profile, kind: str, now: datetime, evidence: dict[str, Any]
) -> dict[str, Any]:
    """Record "I don't have one" for ``kind`` and contest the values of that kind on file."""
    if kind not in DECLINABLE:
        raise ValueError(f"{kind} cannot be declined")
    points = session.exec(
        select(ContactPoint).where(
            ContactPoint.profile_id == profile.id,
            ContactPoint.kind == kind,
            col(ContactPoint.status) != CONTESTED,
        )
    ).all()
    contested = []
    for cp in points:
        if cp.status == OPTED_OUT or cp.opted_out_at is not None:
            continue  # already never written to; an opt-out stays as it is
        contest(session, cp, now, {**evidence, "declined": kind})
        contested.append(cp.id)
    before = declined_at(profile, kind)
    setattr(profile, COLUMN[kind], now)
    profile.updated_at = now
    session.add(profile)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.PROFILE_FIELD_DECLINED,
        entity_type="profile",
        entity_id=profile.id,
        profile_id=profile.id,
        before={"kind": kind, "declined": before is not None},
        after={"kind": kind, "declined": True},
        reason=f"no {kind}, said on the landing page",
        evidence={**evidence, "method": "page_none"},
    )
    return {"action": "none", "result": "declined", "contested": contested}


def withdraw_decline(
    session: Session, profile: Profile, kind: str, now: datetime, evidence: dict[str, Any]
) -> bool:
    """A value of ``kind`` given after "I don't have one": the statement no longer holds."""
    if kind not in COLUMN or declined_at(profile, kind) is None:
        return False
    setattr(profile, COLUMN[kind], None)
    profile.updated_at = now
    session.add(profile)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.PROFILE_FIELD_DECLINE_WITHDRAWN,
        entity_type="profile",
        entity_id=profile.id,
        profile_id=profile.id,
        before={"kind": kind, "declined": True},
        after={"kind": kind, "declined": False},
        reason=f"a {kind} given on the landing page",
        evidence=evidence,
    )
    return True
