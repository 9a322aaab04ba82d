"""How complete a customer's details are, as the landing page shows it: field by field.

Each of the email, the mobile and the postal address is in one state:

- ``verified``: a verified value, not opted out, verified within ``max_age_days``;
- ``declined``: the customer said they have none (:mod:`models.answers.declined`);
- ``pending``: a value the customer gave that waits for its proof (the confirmation link or
  the code sent to it), or an address they gave that a letter has not reached yet;
- ``to_check``: a value on file the customer has not confirmed;
- ``missing``: nothing usable on file.

With required consent questions in the campaign, ``consents`` is one more field: ``verified``
(answered) when each required purpose the page asks has an answer on the notice in force, else
``missing``; optional questions may be left for later. Verified and declined
fields are done; the page says how many of all, and names the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlmodel import Session, col, select

from models.answers.declined import declined_at
from models.answers.personal_link import FIELDS, LinkContext, mask
from models.answers.proof_of_control import EMAIL_CONFIRM, SMS_CODE
from models.tables import ContactPoint, Profile, VerificationToken
from models.vocabulary import CONTESTED, OPTED_OUT, UNVERIFIED, USABLE_STATUSES, VERIFIED

State = Literal["verified", "declined", "pending", "to_check", "missing"]
DONE: Final = ("verified", "declined")
CONSENTS: Final = "consents"


@dataclass(frozen=True)
class FieldState:
    kind: str  # email, mobile, postal or consents
    state: State
    masked: str | None = None  # the value the state is about, masked; None for consents

    @property
    def done(self) -> bool:
        return self.state in DONE


@dataclass(frozen=True)
class Progress:
    fields: tuple[FieldState, ...]

    @property
    def done(self) -> int:
        return sum(f.done for f in self.fields)

    @property
    def total(self) -> int:
        return len(self.fields)

    @property
    def left(self) -> tuple[FieldState, ...]:
        return tuple(f for f in self.fields if not f.done)

    def state(self, kind: str) -> State:
        return next(f.state for f in self.fields if f.kind == kind)


def _shown(points: list[ContactPoint]) -> str:
    """The value the state is about, masked: the primary point of a kind, else the newest."""
    return mask(max(points, key=lambda cp: (cp.is_primary, cp.id or 0)))


def _state(
    kind: str,
    points: list[ContactPoint],
    declined: datetime | None,
    proving: set[int],
    fresh_after: datetime,
) -> FieldState:
    live = [cp for cp in points if cp.opted_out_at is None and cp.status != OPTED_OUT]
    verified = [
        cp
        for cp in live
        if cp.status == VERIFIED and cp.verified_at is not None and cp.verified_at >= fresh_after
    ]
    if verified:
        return FieldState(kind, "verified", _shown(verified))
    if declined is not None:
        return FieldState(kind, "declined")
    waiting = [
        cp
        for cp in live
        if cp.status == UNVERIFIED
        and cp.source == "landing"
        and (cp.id in proving or kind == "postal")
    ]
    if waiting:
        return FieldState(kind, "pending", _shown(waiting))
    usable = [cp for cp in live if cp.status in USABLE_STATUSES and cp.status != CONTESTED]
    if usable:
        return FieldState(kind, "to_check", _shown(usable))
    return FieldState(kind, "missing")


def progress(session: Session, ctx: LinkContext, *, now: datetime, max_age_days: int) -> Progress:
    """The customer's progress now, for the page behind their personal link."""
    points = session.exec(
        select(ContactPoint).where(
            ContactPoint.profile_id == ctx.profile_id, col(ContactPoint.kind).in_(FIELDS)
        )
    ).all()
    # The values a live confirmation link or code was sent to.
    proving = {
        cp_id
        for cp_id in session.exec(
            select(VerificationToken.contact_point_id).where(
                VerificationToken.profile_id == ctx.profile_id,
                col(VerificationToken.kind).in_((EMAIL_CONFIRM, SMS_CODE)),
                col(VerificationToken.used_at).is_(None),
                VerificationToken.expires_at > now,
            )
        ).all()
        if cp_id is not None
    }
    profile = session.get(Profile, ctx.profile_id)
    fresh_after = now - timedelta(days=max_age_days)
    fields = [
        _state(
            kind,
            [cp for cp in points if cp.kind == kind],
            declined_at(profile, kind) if profile is not None else None,
            proving,
            fresh_after,
        )
        for kind in FIELDS
    ]
    required = [p for p in ctx.purposes if p.required and p.channels]
    if required:
        answered = all(any(a is not None for a in p.answers.values()) for p in required)
        fields.append(FieldState(CONSENTS, "verified" if answered else "missing"))
    return Progress(tuple(fields))
