"""Entries to a campaign's incentive and the awards completed enrollments earn.

An entry is made when the customer ticks the incentive's box on the landing page: one per
enrollment (a second tick changes nothing), on the terms version the campaign offers and the
sha256 of the file shown. It is **earned** when that enrollment completes (its goal met):
:func:`award_earned` is called by the completion rule with the enrollments it completed; an
entry made after its enrollment completed is earned at once. Awarding is a conditional UPDATE
(``earned_at IS NULL``), so calling it twice, or from two transactions at once, awards once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from models.audit import AuditRow, audit, audit_many
from models.campaigns.spec import CampaignSpec
from models.incentives.terms import ShownTerms, TermsError, terms_in_force
from models.tables import INCENTIVE_ENTRY, Enrollment, IncentiveEntry
from models.vocabulary import ACTIVE, COMPLETED, AuditAction

# Why an entry is refused (the page maps each to its own text, with a 422).
NOT_OFFERED = "incentive: not offered"  # the campaign has no incentive, or another one
TERMS_CHANGED = "incentive: terms changed"  # not the terms file the campaign offers now
CLOSED = "incentive: closed"  # the enrollment ended without completing: nothing to earn
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
ENTITY = "incentive_entry"


class IncentiveRefused(ValueError):
    """The entry cannot be recorded; ``reason`` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IncentiveStatus:
    """What the page can say of a customer's entry."""

    key: str
    terms_version: str
    entered_at: datetime
    earned_at: datetime | None

    @property
    def earned(self) -> bool:
        return self.earned_at is not None


def enter(
    session: Session,
    *,
    profile_id: int,
    enrollment_id: int,
    spec: CampaignSpec,
    shown: ShownTerms,
    now: datetime,
    evidence: dict[str, Any] | None,
    templates_dir: Path | None = None,
) -> bool:
    """Record that the customer agreed to take part; True when recorded now, False when this
    enrollment already has an entry. Raises :class:`IncentiveRefused` when the campaign offers
    no such incentive, the terms are another version (or, with ``templates_dir``, not a file of
    that version), or the enrollment ended without completing. An entry for an enrollment that
    already completed is earned at once."""
    incentive = spec.incentive
    if incentive is None or shown.key != incentive.key:
        raise IncentiveRefused(NOT_OFFERED)
    if shown.version != incentive.terms_version or not _SHA256.fullmatch(shown.sha256):
        raise IncentiveRefused(TERMS_CHANGED)
    if templates_dir is not None:
        try:
            in_force = terms_in_force(templates_dir, spec)
        except TermsError as err:
            raise IncentiveRefused(TERMS_CHANGED) from err
        if shown.sha256 not in in_force:
            raise IncentiveRefused(TERMS_CHANGED)
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.profile_id != profile_id:
        raise IncentiveRefused(NOT_OFFERED)
    if enrollment.state not in (ACTIVE, COMPLETED):
        raise IncentiveRefused(CLOSED)
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    values = {
        "profile_id": profile_id,
        "enrollment_id": enrollment_id,
        "round_id": enrollment.round_id,
        "incentive_key": incentive.key,
        "terms_version": shown.version,
        "terms_sha256": shown.sha256,
        "entered_at": now,
    }
    # Two forms of the same link at once: one insert wins, the other records nothing.
    result = session.execute(
        insert(INCENTIVE_ENTRY)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["enrollment_id"])
        .returning(INCENTIVE_ENTRY.c.id)
    )
    entry_id = result.scalar_one_or_none()
    if entry_id is None:
        return False
    audit(
        session=session,
        actor="customer",
        action=AuditAction.INCENTIVE_ENTERED,
        entity_type=ENTITY,
        entity_id=int(entry_id),
        profile_id=profile_id,
        after={
            "incentive": incentive.key,
            "kind": incentive.kind,
            "terms_version": shown.version,
            "terms_sha256": shown.sha256,
            "enrollment_id": enrollment_id,
        },
        evidence={**(evidence or {}), "method": "landing"},
    )
    if enrollment.state == COMPLETED:
        award_earned(session, enrollment_ids=[enrollment_id], now=now, evidence=evidence)
    return True


def award_earned(
    session: Session,
    *,
    enrollment_ids: Sequence[int],
    now: datetime,
    evidence: dict[str, Any] | None,
    actor: str = "customer",
) -> list[int]:
    """Mark as earned the entries of these (completed) enrollments not earned yet; returns the
    ids of the entries earned now, each audited ``incentive.earned``."""
    if not enrollment_ids:
        return []
    t = INCENTIVE_ENTRY.c
    earned = session.execute(
        update(INCENTIVE_ENTRY)
        .where(t.enrollment_id.in_(sorted(set(enrollment_ids))), t.earned_at.is_(None))
        .values(earned_at=now)
        .returning(t.id, t.profile_id, t.enrollment_id, t.incentive_key, t.terms_version)
    ).all()
    audit_many(
        session,
        [
            AuditRow(
                at=now,
                actor=actor,
                action=AuditAction.INCENTIVE_EARNED,
                entity_type=ENTITY,
                entity_id=row.id,
                profile_id=row.profile_id,
                after={
                    "incentive": row.incentive_key,
                    "terms_version": row.terms_version,
                    "enrollment_id": row.enrollment_id,
                    "earned_at": now.isoformat(),
                },
                reason="enrollment completed",
                evidence=evidence,
            )
            for row in sorted(earned, key=lambda r: r.id)
        ],
    )
    return sorted(int(row.id) for row in earned)


def incentive_status(
    session: Session, profile_id: int, *, enrollment_id: int | None = None
) -> IncentiveStatus | None:
    """The profile's latest entry (of ``enrollment_id`` when given), or None."""
    query = select(IncentiveEntry).where(col(IncentiveEntry.profile_id) == profile_id)
    if enrollment_id is not None:
        query = query.where(col(IncentiveEntry.enrollment_id) == enrollment_id)
    row = (
        session.execute(
            query.order_by(col(IncentiveEntry.entered_at).desc(), col(IncentiveEntry.id).desc())
        )
        .scalars()
        .first()
    )
    if row is None:
        return None
    return IncentiveStatus(row.incentive_key, row.terms_version, row.entered_at, row.earned_at)
