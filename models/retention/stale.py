"""Which profiles are stale, and what to propose for each: keep, archive or erase.

A profile is **stale** when its ladder is exhausted (``unreachable_at`` is set, or an
enrollment ended ``exhausted``), it is in no active enrollment, it is not archived, and its last
interaction is older than the idle period. Its last interaction is the newest of: the profile's
``last_interaction_at``, a landing-page submission, a consent answer, a contact point's
verification, and the profile's creation (a profile imported last month is not idle).

The rule per stale profile, first match wins (reason codes in brackets, never personal data):

1. archive [``objected``]: the customer opted out or objected as a whole. The record is what
   keeps them from being contacted again; erasing it would let the next import revive them.
2. keep [``verified_contact``]: a verified contact point that is not opted out remains, so
   the customer can still be reached on a proven route.
3. keep [``active_consent``]: the newest answer for some purpose is a grant.
4. archive [``opted_out_contact``]: a contact point was opted out (same reasoning as 1).
5. archive [``unconfirmed_contact``]: a usable but never confirmed contact point remains; it may
   work, so erasing the customer on our own silence is too strong.
6. archive [``verified_before``]: something was verified once, so there was a real relationship
   whose legal retention (contracts, invoices) is not known to us.
7. archive [``answered_before``]: the customer answered once (a submission, a withdrawn consent);
   that evidence may be needed.
8. erase [``unreachable_unverified``]: no working contact point, nothing ever verified, no answer
   ever, idle for the whole period: data minimisation says it should go.

Nothing changes before the steward decides (:mod:`models.retention.sweep_decisions`). At most one
open proposal per profile; a ``keep`` decision defers the next one for that profile by one idle
period; archived and erased profiles are never swept again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from models.tables import CONSENT, CONTACT, ENROLLMENT, PROFILE, PROPOSAL, SUBMISSION
from models.types import UTCDateTime
from models.vocabulary import ACTIVE, EXHAUSTED, OPTED_OUT, USABLE_STATUSES, VERIFIED

P = PROFILE.alias("p")
CP = CONTACT

KEEP: Final = "keep"
ARCHIVE: Final = "archive"
ERASE: Final = "erase"
DECISIONS: Final = (KEEP, ARCHIVE, ERASE)
OPEN: Final = "open"
DECIDED: Final = "decided"
REASONS: Final = {
    "objected": ARCHIVE,
    "verified_contact": KEEP,
    "active_consent": KEEP,
    "opted_out_contact": ARCHIVE,
    "unconfirmed_contact": ARCHIVE,
    "verified_before": ARCHIVE,
    "answered_before": ARCHIVE,
    "unreachable_unverified": ERASE,
}
FLAGS: Final = (
    "objected",
    "verified_contact",
    "active_consent",
    "opted_out_contact",
    "usable_contact",
    "verified_before",
    "answered_before",
)


class SweepError(ValueError):
    """A decision that cannot be applied; nothing was changed. Names ids, never personal data."""


@dataclass(frozen=True)
class StaleProfile:
    """What the rule needs to know about one stale profile."""

    profile_id: int
    last_interaction_at: datetime
    objected: bool = False  # the profile as a whole opted out or objected
    verified_contact: bool = False  # a verified contact point, not opted out
    active_consent: bool = False  # the newest answer for some purpose is a grant
    opted_out_contact: bool = False
    usable_contact: bool = False  # unverified or valid, not opted out
    verified_before: bool = False  # some contact point has a verified_at
    answered_before: bool = False  # a submission or a consent answer exists


def propose(row: StaleProfile) -> tuple[str, str]:
    """(proposal, reason code) for one stale profile, by the rule in the module docstring."""
    checks = (
        (row.objected, "objected"),
        (row.verified_contact, "verified_contact"),
        (row.active_consent, "active_consent"),
        (row.opted_out_contact, "opted_out_contact"),
        (row.usable_contact, "unconfirmed_contact"),
        (row.verified_before, "verified_before"),
        (row.answered_before, "answered_before"),
    )
    reason = next((code for hit, code in checks if hit), "unreachable_unverified")
    return REASONS[reason], reason


def _greatest(dialect: str, *columns: Any) -> ColumnElement[Any]:
    """The largest of non-NULL ``columns`` (SQLite's multi-argument MAX, PostgreSQL's GREATEST)."""
    if dialect == "postgresql":
        return func.greatest(*columns, type_=UTCDateTime())
    return func.max(*columns, type_=UTCDateTime())


def last_interaction(dialect: str, profile: Any = P) -> ColumnElement[Any]:
    """The newest interaction of ``profile`` (a profile table or alias), as in the docstring."""
    created = profile.c.created_at

    def newest(column: Any, *where: Any) -> Any:
        sub = select(func.max(column)).where(*where).scalar_subquery()
        return func.coalesce(sub, created)

    return _greatest(
        dialect,
        created,
        func.coalesce(profile.c.last_interaction_at, created),
        newest(SUBMISSION.c.received_at, SUBMISSION.c.profile_id == profile.c.id),
        newest(CONSENT.c.recorded_at, CONSENT.c.profile_id == profile.c.id),
        newest(CP.c.verified_at, CP.c.profile_id == profile.c.id),
    )


def _has_cp(*conditions: Any) -> Any:
    return select(CP.c.id).where(CP.c.profile_id == P.c.id, *conditions).exists()


def _active_consent() -> Any:
    newer = CONSENT.alias("newer")
    return (
        select(CONSENT.c.id)
        .where(
            CONSENT.c.profile_id == P.c.id,
            CONSENT.c.granted.is_(True),
            ~select(newer.c.id)
            .where(
                newer.c.profile_id == CONSENT.c.profile_id,
                newer.c.purpose == CONSENT.c.purpose,
                newer.c.channel.is_not_distinct_from(CONSENT.c.channel),
                or_(
                    newer.c.recorded_at > CONSENT.c.recorded_at,
                    and_(newer.c.recorded_at == CONSENT.c.recorded_at, newer.c.id > CONSENT.c.id),
                ),
            )
            .exists(),
        )
        .exists()
    )


def find_stale(
    conn: Connection, *, now: datetime, idle_days: int, limit: int, after_id: int = 0
) -> list[StaleProfile]:
    """Up to ``limit`` stale profiles with ``id > after_id``, in id order, with their facts.

    Leaves out profiles with an open proposal, and those kept by a decision within the idle
    period. One statement; the correlated subqueries use the per-profile indexes.
    """
    if idle_days < 1 or limit < 1:
        raise ValueError("idle_days and limit must be at least 1")
    cutoff = now - timedelta(days=idle_days)
    last = last_interaction(conn.dialect.name).label("last_at")
    not_opted_out = and_(CP.c.opted_out_at.is_(None), CP.c.status != OPTED_OUT)
    exhausted = (
        select(ENROLLMENT.c.id)
        .where(ENROLLMENT.c.profile_id == P.c.id, ENROLLMENT.c.state == EXHAUSTED)
        .exists()
    )
    active = (
        select(ENROLLMENT.c.id)
        .where(ENROLLMENT.c.profile_id == P.c.id, ENROLLMENT.c.state == ACTIVE)
        .exists()
    )
    proposed = (
        select(PROPOSAL.c.id)
        .where(
            PROPOSAL.c.profile_id == P.c.id,
            or_(
                PROPOSAL.c.status == OPEN,
                and_(PROPOSAL.c.decision == KEEP, PROPOSAL.c.decided_at >= cutoff),
            ),
        )
        .exists()
    )
    answered = or_(
        select(SUBMISSION.c.id).where(SUBMISSION.c.profile_id == P.c.id).exists(),
        select(CONSENT.c.id).where(CONSENT.c.profile_id == P.c.id).exists(),
    )
    inner = (
        select(
            P.c.id,
            last,
            or_(P.c.opted_out_at.is_not(None), P.c.objected_at.is_not(None)).label("objected"),
            _has_cp(CP.c.status == VERIFIED, not_opted_out).label("verified_contact"),
            _active_consent().label("active_consent"),
            _has_cp(~not_opted_out).label("opted_out_contact"),
            _has_cp(CP.c.status.in_(USABLE_STATUSES), not_opted_out).label("usable_contact"),
            _has_cp(CP.c.verified_at.is_not(None)).label("verified_before"),
            answered.label("answered_before"),
        )
        .where(
            P.c.id > after_id,
            P.c.archived_at.is_(None),
            or_(P.c.unreachable_at.is_not(None), exhausted),
            ~active,
            ~proposed,
        )
        .subquery("candidate")
    )
    rows = conn.execute(
        select(inner).where(inner.c.last_at < cutoff).order_by(inner.c.id).limit(limit)
    ).mappings()
    return [
        StaleProfile(int(r["id"]), r["last_at"], **{flag: bool(r[flag]) for flag in FLAGS})
        for r in rows
    ]
