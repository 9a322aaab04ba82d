"""What a personal link opens: the profile's data masked, the campaign's purposes and answers.

An unknown, expired or used link gives None from :func:`open_link`, so the page can show one
answer for all three without revealing which it was. Applying a form is in
:mod:`models.answers.submissions`, proof of control in :mod:`models.answers.proof_of_control`,
completion in
:mod:`models.rounds.completion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.answers.link_tokens import hash_presented
from models.campaigns.spec import CampaignSpec
from models.contact_data.masking import mask_address, mask_email, mask_phone
from models.db import stored_id
from models.rounds.completion import enrollment_spec
from models.tables import Consent, ContactPoint, Enrollment, Outreach, Profile, VerificationToken
from models.vocabulary import ACTIVE

FIELDS = ("email", "mobile", "postal")


@dataclass(frozen=True)
class FieldView:
    kind: str
    contact_point_id: int | None
    masked: str | None
    status: str | None


@dataclass(frozen=True)
class PurposeView:
    key: str
    required: bool
    text_version: str
    granted: bool | None  # the latest answer, None when never answered


@dataclass(frozen=True)
class LinkContext:
    token_id: int
    profile_id: int
    locale: str
    outreach_id: int | None
    channel: str | None
    outreach_contact_point_id: int | None
    enrollment_id: int | None
    spec: CampaignSpec | None
    fields: dict[str, FieldView]
    purposes: list[PurposeView]


def primaries(session: Session, profile_id: int) -> dict[str, ContactPoint]:
    points = session.exec(
        select(ContactPoint)
        .where(ContactPoint.profile_id == profile_id, col(ContactPoint.kind).in_(FIELDS))
        .order_by(col(ContactPoint.is_primary), col(ContactPoint.id))
    ).all()
    return {cp.kind: cp for cp in points}  # the last wins: primary, then newest


def _mask(cp: ContactPoint) -> str:
    if cp.kind == "email":
        return mask_email(cp.value)
    if cp.kind == "mobile":
        return mask_phone(cp.value)
    return mask_address(cp.street, cp.house_number, cp.postal_code, cp.city)


def link_row(session: Session, token: str) -> VerificationToken | None:
    digest = hash_presented(token)
    if digest is None:
        return None
    return session.exec(
        select(VerificationToken).where(
            VerificationToken.token_hash == digest, VerificationToken.kind == "link"
        )
    ).first()


def link_context(session: Session, row: VerificationToken) -> LinkContext:
    token_id = stored_id(row)
    profile = session.get(Profile, row.profile_id)
    outreach = session.get(Outreach, row.outreach_id) if row.outreach_id else None
    enrollment = session.exec(
        select(Enrollment).where(
            Enrollment.profile_id == row.profile_id, Enrollment.state == ACTIVE
        )
    ).first()
    spec = enrollment_spec(session=session, enrollment=enrollment) if enrollment else None
    points = primaries(session, row.profile_id)
    fields = {
        kind: FieldView(kind, cp.id, _mask(cp), cp.status)
        if (cp := points.get(kind))
        else FieldView(kind, None, None, None)
        for kind in FIELDS
    }
    purposes = []
    for p in spec.purposes if spec else []:
        latest = session.exec(
            select(Consent.granted)
            .where(Consent.profile_id == row.profile_id, Consent.purpose == p.key)
            .order_by(col(Consent.recorded_at).desc(), col(Consent.id).desc())
        ).first()
        purposes.append(PurposeView(p.key, p.required, p.text_version, latest))
    return LinkContext(
        token_id=token_id,
        profile_id=row.profile_id,
        locale=profile.locale if profile else "nl",
        outreach_id=row.outreach_id,
        channel=outreach.channel if outreach else None,
        outreach_contact_point_id=outreach.contact_point_id if outreach else None,
        enrollment_id=enrollment.id if enrollment else None,
        spec=spec,
        fields=fields,
        purposes=purposes,
    )


def open_link(*, session: Session, token: str, now: datetime) -> LinkContext | None:
    """What the page behind a personal link shows; None for unknown, expired or used links."""
    row = link_row(session, token)
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return link_context(session, row)
