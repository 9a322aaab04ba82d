"""The completion rule: an active enrollment ends the moment its gaps are closed.

A gap is closed when the contact data it was about is verified (a verified email for the email
gaps, a verified mobile for the mobile gaps, a verified postal address for ``unverified_postal``;
an email or mobile gap is closed as *declined* too, when the customer said since the enrollment
started that they have none, :mod:`models.answers.declined`;
for ``stale_verification`` every primary verified email, mobile and postal address was verified
since the enrollment started) and every ``required`` purpose of the campaign has an answer
recorded since then (with the ``outdated_consent`` gap, every purpose to re-ask too); a purpose
counts only when the page can ask it: the customer has a contact point, not opted out, of one
of its channels. The sender only writes to active enrollments, so completing one stops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select, update

from models.audit import audit
from models.campaigns.gaps import OUTDATED_CONSENT, gaps_of
from models.campaigns.spec import CampaignSpec
from models.db import stored_id
from models.incentives.entries import award_earned
from models.tables import Campaign, Consent, ContactPoint, Enrollment, Profile, Round
from models.vocabulary import (
    ACTIVE,
    CHANNEL_KIND,
    COMPLETED,
    OPTED_OUT,
    VERIFIED,
    AuditAction,
)

# The contact-point kind that closes each gap (stale_verification is handled apart).
GAP_KIND = {
    "missing_email": "email",
    "bounced_email": "email",
    "invalid_email": "email",
    "missing_mobile": "mobile",
    "invalid_mobile": "mobile",
    "unverified_postal": "postal",
}
STALE_KINDS = ("email", "mobile", "postal")


@dataclass(frozen=True)
class VerifiedPoint:
    """What the rule needs of one verified contact point."""

    kind: str
    is_primary: bool
    verified_at: datetime | None


def open_gaps(
    *,
    gap_mask: int,
    verified: Iterable[VerifiedPoint],
    since: datetime,
    declined: Iterable[str] = (),
) -> list[str]:
    """The gaps of ``gap_mask`` not closed by the ``verified`` contact points, nor by the kinds
    the customer ``declined`` (said they have none), for an enrollment that started at
    ``since``."""
    points = list(verified)
    verified_kinds = {cp.kind for cp in points} | set(declined)
    still_open = []
    for gap in gaps_of(gap_mask):
        if gap in GAP_KIND and GAP_KIND[gap] not in verified_kinds:
            still_open.append(gap)
        if gap == "stale_verification":
            fresh = [
                cp.verified_at is not None and cp.verified_at >= since
                for cp in points
                if cp.is_primary and cp.kind in STALE_KINDS
            ]
            if not fresh or not all(fresh):
                still_open.append(gap)
    return still_open


def spec_of(definition: Mapping[str, Any] | None) -> CampaignSpec | None:
    """A stored campaign definition as a spec, or None when it cannot be read."""
    if not definition:
        return None
    try:
        return CampaignSpec.model_validate(definition)
    except ValidationError:
        return None


def purposes_to_answer(spec: CampaignSpec | None, gap_mask: int, channels: set[str]) -> set[str]:
    """The purposes an enrollment waits for: the required ones, and with the
    ``outdated_consent`` gap those to re-ask; each only if the page can ask it, i.e. the
    customer has one of its ``channels`` (:func:`askable_channels`)."""
    if spec is None:
        return set()
    reask = OUTDATED_CONSENT in gaps_of(gap_mask)
    return {
        p.key
        for p in spec.purposes
        if (p.required or (reask and p.reask_on_new_notice)) and channels.intersection(p.channels)
    }


def askable_channels(session: Session, profile_id: int) -> set[str]:
    """The channels a consent can be asked for: those the profile has a contact point of that
    is not opted out (an opt-out always wins: no consent question for a channel left)."""
    kinds = set(
        session.exec(
            select(ContactPoint.kind).where(
                ContactPoint.profile_id == profile_id,
                ContactPoint.status != OPTED_OUT,
                col(ContactPoint.opted_out_at).is_(None),
            )
        ).all()
    )
    return {channel for channel, kind in CHANNEL_KIND.items() if kind in kinds}


def enrollment_spec(*, session: Session, enrollment: Enrollment) -> CampaignSpec | None:
    """The campaign version the enrollment's round runs, or None when it cannot be read."""
    definition = session.exec(
        select(Campaign.definition)
        .join(Round, col(Round.campaign_id) == col(Campaign.id))
        .where(Round.id == enrollment.round_id)
    ).first()
    return spec_of(definition)


def goal_met(*, session: Session, enrollment: Enrollment) -> bool:
    """Whether the enrollment's gaps are closed and its required purposes answered."""
    points = session.exec(
        select(ContactPoint).where(
            ContactPoint.profile_id == enrollment.profile_id, ContactPoint.status == VERIFIED
        )
    ).all()
    verified = [VerifiedPoint(cp.kind, cp.is_primary, cp.verified_at) for cp in points]
    profile = session.get(Profile, enrollment.profile_id)
    declined = [
        kind
        for kind, at in (
            ("email", profile.email_declined_at if profile else None),
            ("mobile", profile.mobile_declined_at if profile else None),
        )
        if at is not None and at >= enrollment.created_at
    ]
    if open_gaps(
        gap_mask=enrollment.gap_mask,
        verified=verified,
        since=enrollment.created_at,
        declined=declined,
    ):
        return False
    required = purposes_to_answer(
        enrollment_spec(session=session, enrollment=enrollment),
        enrollment.gap_mask,
        askable_channels(session, enrollment.profile_id),
    )
    if required:
        answered = set(
            session.exec(
                select(Consent.purpose).where(
                    Consent.profile_id == enrollment.profile_id,
                    col(Consent.purpose).in_(sorted(required)),
                    Consent.recorded_at >= enrollment.created_at,
                )
            ).all()
        )
        if required - answered:
            return False
    return True


def complete_if_done(
    *,
    session: Session,
    profile_id: int,
    now: datetime,
    evidence: dict[str, Any] | None,
    actor: str = "customer",
) -> list[int]:
    """Complete the profile's active enrollments whose goal is met; returns their ids."""
    session.flush()
    active = session.exec(
        select(Enrollment).where(Enrollment.profile_id == profile_id, Enrollment.state == ACTIVE)
    ).all()
    done: list[int] = []
    for enrollment in active:
        if not goal_met(session=session, enrollment=enrollment):
            continue
        # Conditional on the state, so a concurrent stop or completion wins cleanly.
        result = session.execute(
            update(Enrollment)
            .where(col(Enrollment.id) == enrollment.id, col(Enrollment.state) == ACTIVE)
            .values(
                state=COMPLETED,
                ended_at=now,
                end_reason="goal met",
                next_due_at=None,
                updated_at=now,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.refresh(enrollment)
        enrollment_id = stored_id(enrollment)
        done.append(enrollment_id)
        audit(
            session=session,
            actor=actor,
            action=AuditAction.ENROLLMENT_COMPLETE,
            entity_type="enrollment",
            entity_id=enrollment_id,
            profile_id=profile_id,
            before={"state": ACTIVE},
            after={"state": COMPLETED, "end_reason": "goal met"},
            reason="goal met",
            evidence=evidence,
        )
    # An incentive entry of an enrollment completed now is earned (models.incentives).
    award_earned(session, enrollment_ids=done, now=now, evidence=evidence, actor=actor)
    return done
