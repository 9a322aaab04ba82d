"""What a personal link opens: the profile's data masked, the campaign's purposes and answers.

A personal link stays usable until it expires: the customer may come back through it to see
what they sent and change or add more. An unknown or expired link, or one of a profile that
objected, gives None from :func:`open_link`, so the page shows one answer for all of them
without revealing which it was. Applying a form is in
:mod:`models.answers.submissions`, proof of control in :mod:`models.answers.proof_of_control`,
completion in
:mod:`models.rounds.completion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select, update

from models.answers.link_tokens import hash_presented
from models.campaigns.gaps import gaps_of
from models.campaigns.spec import CampaignSpec
from models.contact_data.masking import mask_address, mask_email, mask_phone
from models.db import stored_id
from models.rounds.completion import askable_channels, enrollment_spec
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
    granted: bool | None  # the latest answer on any channel, None when never answered
    # The purpose's channels the customer has a contact point for that is not opted out: the
    # page asks only these (no SMS question without a mobile).
    channels: tuple[str, ...] = ()
    answers: dict[str, bool | None] = field(default_factory=dict)  # the latest per channel


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
    # The active enrollment's gaps: what the page asks for (models.campaigns.asks).
    gaps: tuple[str, ...] = ()
    # The contact moment the link came with (another system's message), None for our own.
    context: str | None = None
    # The enrollment whose campaign the page shows: the active one, else the message's own.
    shown_enrollment_id: int | None = None


def primaries(session: Session, profile_id: int) -> dict[str, ContactPoint]:
    points = session.exec(
        select(ContactPoint)
        .where(ContactPoint.profile_id == profile_id, col(ContactPoint.kind).in_(FIELDS))
        .order_by(col(ContactPoint.is_primary), col(ContactPoint.id))
    ).all()
    return {cp.kind: cp for cp in points}  # the last wins: primary, then newest


def mask(cp: ContactPoint) -> str:
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


def _purposes(session: Session, profile_id: int, spec: CampaignSpec | None) -> list[PurposeView]:
    """The campaign's purposes with the channels to ask and the answers in force: the newest
    per channel, where an answer without a channel (given before consents had channels, or an
    objection to the purpose) stands for every one. A grant on another notice version is shown
    as not answered: consent to a new text is given, never pre-ticked."""
    if spec is None or not spec.purposes:
        return []
    rows = session.exec(
        select(Consent.purpose, Consent.channel, Consent.granted, Consent.text_version)
        .where(
            Consent.profile_id == profile_id,
            col(Consent.purpose).in_([p.key for p in spec.purposes]),
        )
        .order_by(col(Consent.recorded_at), col(Consent.id))
    ).all()
    reachable = askable_channels(session, profile_id)
    views = []
    for p in spec.purposes:
        answers: dict[str, bool | None] = dict.fromkeys(p.channels)
        latest: bool | None = None
        for purpose, channel, granted, version in rows:  # oldest first: the newest wins
            if purpose != p.key:
                continue
            latest = granted
            shown: bool | None = None if granted and version != p.text_version else granted
            for c in p.channels if channel is None else [channel]:
                if c in answers:
                    answers[c] = shown
        channels = tuple(c for c in p.channels if c in reachable)
        views.append(
            PurposeView(
                p.key,
                p.required,
                p.text_version,
                latest,
                channels,
                {c: answers[c] for c in channels},
            )
        )
    return views


def message_locale(outreach: Outreach | None, profile: Profile | None) -> str:
    """The locale a message was written in (recorded on its outreach row), else the profile's."""
    if outreach is not None and outreach.locale:
        return outreach.locale
    return profile.locale if profile else "nl"


def link_context(session: Session, row: VerificationToken) -> LinkContext:
    token_id = stored_id(row)
    profile = session.get(Profile, row.profile_id)
    outreach = session.get(Outreach, row.outreach_id) if row.outreach_id else None
    enrollment = session.exec(
        select(Enrollment).where(
            Enrollment.profile_id == row.profile_id, Enrollment.state == ACTIVE
        )
    ).first()
    # After the enrollment ended, the customer coming back still sees its questions.
    shown = enrollment or (
        session.get(Enrollment, outreach.enrollment_id)
        if outreach is not None and outreach.enrollment_id is not None
        else None
    )
    spec = enrollment_spec(session=session, enrollment=shown) if shown else None
    points = primaries(session, row.profile_id)
    fields = {
        kind: FieldView(kind, cp.id, mask(cp), cp.status)
        if (cp := points.get(kind))
        else FieldView(kind, None, None, None)
        for kind in FIELDS
    }
    purposes = _purposes(session, row.profile_id, spec)
    return LinkContext(
        token_id=token_id,
        profile_id=row.profile_id,
        # The page speaks the language of the message the customer came from.
        locale=message_locale(outreach, profile),
        outreach_id=row.outreach_id,
        channel=outreach.channel if outreach else None,
        outreach_contact_point_id=outreach.contact_point_id if outreach else None,
        enrollment_id=enrollment.id if enrollment else None,
        spec=spec,
        gaps=tuple(gaps_of(enrollment.gap_mask)) if enrollment else (),
        context=outreach.context if outreach else None,
        shown_enrollment_id=shown.id if shown else None,
        fields=fields,
        purposes=purposes,
    )


def record_opened(*, session: Session, token_id: int, now: datetime) -> bool:
    """Note that the landing page opened with this link (a click, or the QR code of a letter
    scanned), the first time only: one conditional UPDATE, so a reload or a second device
    changes nothing. Returns whether this was the first time. A mail filter that fetches
    links to check them counts as an opening too: the page cannot tell it from the customer."""
    result = session.execute(
        update(VerificationToken)
        .where(col(VerificationToken.id) == token_id, col(VerificationToken.opened_at).is_(None))
        .values(opened_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def link_alive(session: Session, row: VerificationToken | None, now: datetime) -> bool:
    """Whether the personal link opens the page: not expired, and its profile has not objected
    (an objection through the link ends it) nor been erased."""
    if row is None or row.expires_at <= now:
        return False
    profile = session.get(Profile, row.profile_id)
    return profile is not None and profile.objected_at is None and profile.erased_at is None


def claim_link(session: Session, token_id: int, now: datetime) -> bool:
    """Take the personal link for one submission before reading what it applies to: an UPDATE
    that changes nothing but holds the row until the transaction ends, so two submissions
    through one link apply one after the other and the second sees the first. False when the
    link expired meanwhile."""
    result = session.execute(
        update(VerificationToken)
        .where(col(VerificationToken.id) == token_id, col(VerificationToken.expires_at) > now)
        .values(used_at=col(VerificationToken.used_at))
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_used(session: Session, token_id: int, now: datetime) -> None:
    """Keep when the link was first used to send something (the dossier shows it)."""
    session.execute(
        update(VerificationToken)
        .where(col(VerificationToken.id) == token_id, col(VerificationToken.used_at).is_(None))
        .values(used_at=now)
    )


def open_link(*, session: Session, token: str, now: datetime) -> LinkContext | None:
    """What the page behind a personal link shows; None unless :func:`link_alive`."""
    row = link_row(session, token)
    if row is None or not link_alive(session, row, now):
        return None
    return link_context(session, row)
