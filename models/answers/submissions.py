"""Applying what a customer sent from the landing page: validation, proof requests, consents.

Rules worth knowing:
- A submission is validated whole first; any invalid field changes nothing.
- The personal link stays usable until it expires, up to ``max_submissions`` submissions: the
  customer can come back to change or add more, and every change is audited as the first. Each
  submission first takes the link's row (:func:`claim_link`), so two at once apply one after
  the other, each validated against what the other left.
- "I don't have one" (``none``, email and mobile) closes the field as declined
  (:mod:`models.answers.declined`); an email or mobile given later withdraws it.
- Confirming the value the link's message was sent to verifies it (method ``link:email``,
  ``link:sms`` or ``letter:qr``). Confirming another email or mobile starts a proof challenge.
  A postal address confirmed on the page is verified as ``customer_confirmed``: there is no
  proof channel for an address beyond the letter itself.
- A changed or added email/mobile is stored as a new unverified, non-primary contact point (the
  old value stays in use) with a challenge. A changed postal address is stored unverified but
  primary, so the next letter goes there; a letter reaching it is what will verify it.
- Confirming an opted-out contact point is an opt-in: its opt-out is lifted.
- Marking a value wrong makes it ``contested`` (:mod:`models.answers.rights`); confirming it,
  or typing it again, later withdraws the contest (proof is asked as for any confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, func, select

from models.answers.declined import decline, withdraw_decline
from models.answers.form_rules import (
    FieldAction,
    PostalInput,
    SubmissionForm,
    typed_text,
    validate_form,
)
from models.answers.personal_link import (
    FIELDS,
    LinkContext,
    claim_link,
    link_alive,
    link_context,
    link_row,
    mark_used,
)
from models.answers.proof_of_control import Challenge, create_challenge, verify_contact_point
from models.answers.rights import contest
from models.audit import audit
from models.consent.record import record_consents
from models.contact_data.validation import normalise_country
from models.incentives.entries import IncentiveRefused, enter
from models.rounds.completion import complete_if_done
from models.tables import ContactPoint, Profile, Submission, VerificationToken
from models.vocabulary import CHANNEL_KIND, CONTESTED, OPTED_OUT, UNVERIFIED, VALID, AuditAction

__all__ = ["FieldAction", "PostalInput", "SubmissionForm", "SubmissionResult", "apply_submission"]

LINK_METHOD = {"email": "link:email", "sms": "link:sms", "letter": "letter:qr"}


@dataclass(frozen=True)
class SubmissionResult:
    status: Literal["ok", "invalid", "invalid_link", "limit"]
    errors: dict[str, str] = field(default_factory=dict)  # "email", "postal.city", "consents"
    submission_id: int | None = None
    challenges: list[Challenge] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)


def _same(kind: str, a: str, b: str) -> bool:
    return a.lower() == b.lower() if kind == "email" else a == b


def _confirm(
    session: Session,
    ctx: LinkContext,
    cp: ContactPoint,
    now: datetime,
    evidence: dict[str, Any],
    challenges: list[Challenge],
    code_secret: bytes,
) -> dict[str, Any]:
    reached = (
        ctx.channel is not None
        and CHANNEL_KIND.get(ctx.channel) == cp.kind
        and ctx.outreach_contact_point_id == cp.id
    )
    if reached or cp.kind == "postal":
        method = LINK_METHOD[ctx.channel] if reached and ctx.channel else "customer_confirmed"
        verify_contact_point(
            session=session, cp=cp, method=method, now=now, primary=True, evidence=evidence
        )
        return {"action": "confirm", "contact_point_id": cp.id, "result": "verified"}
    # Confirmed by the customer but not proven by this message: ask for proof. The confirmation
    # itself lifts an opt-out or the customer's own contest, so the proof message may be sent.
    before = {"status": cp.status, "opted_out": cp.opted_out_at is not None}
    opted_in = cp.status == OPTED_OUT or cp.opted_out_at is not None
    withdrawn = cp.status == CONTESTED
    if opted_in or withdrawn:
        cp.status = VALID if cp.status == OPTED_OUT else UNVERIFIED if withdrawn else cp.status
        cp.opted_out_at, cp.updated_at = None, now
        session.add(cp)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.CONTACT_POINT_CONFIRMED,
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before=before,
        after={"status": cp.status, "opted_out": cp.opted_out_at is not None},
        reason="opt-in on the landing page"
        if opted_in
        else "contest withdrawn on the landing page"
        if withdrawn
        else "proof pending",
        evidence={**evidence, "method": "page_confirm"},
    )
    challenges.append(
        create_challenge(
            session=session,
            contact_point=cp,
            outreach_id=ctx.outreach_id,
            now=now,
            code_secret=code_secret,
        )
    )
    return {"action": "confirm", "contact_point_id": cp.id, "result": "challenge"}


def _change(
    session: Session,
    ctx: LinkContext,
    kind: str,
    new: Any,
    now: datetime,
    evidence: dict[str, Any],
    challenges: list[Challenge],
    code_secret: bytes,
) -> dict[str, Any]:
    value = new if isinstance(new, str) else new.value
    points = session.exec(
        select(ContactPoint).where(
            ContactPoint.profile_id == ctx.profile_id, ContactPoint.kind == kind
        )
    ).all()
    current = next((cp for cp in points if cp.id == ctx.fields[kind].contact_point_id), None)
    if current is not None and _same(kind, current.value, value):
        # Typing the value on file again is a confirmation of it.
        return _confirm(session, ctx, current, now, evidence, challenges, code_secret)
    existing = next((cp for cp in points if _same(kind, cp.value, value)), None)
    if existing is not None and existing.status == CONTESTED:
        existing.status = UNVERIFIED  # entered again: the customer no longer says it is wrong
    cp = existing or ContactPoint(
        profile_id=ctx.profile_id,
        kind=kind,
        value=value,
        status=UNVERIFIED,
        is_primary=False,
        source="landing",
        source_at=now,
        created_at=now,
        updated_at=now,
    )
    if kind == "postal":
        cp.street, cp.house_number = new.street, new.house_number
        cp.postal_code, cp.city, cp.country = new.postal_code, new.city, new.country
    session.add(cp)
    session.flush()
    if kind == "postal":
        # The next letter goes to the new address; the old one is kept, demoted.
        for other in points:
            if other.id != cp.id and other.is_primary:
                other.is_primary, other.updated_at = False, now
                session.add(other)
        cp.is_primary, cp.status, cp.updated_at = True, UNVERIFIED, now
        session.add(cp)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.CONTACT_POINT_ADDED
        if existing is None
        else AuditAction.CONTACT_POINT_REENTERED,
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=ctx.profile_id,
        after={"kind": kind, "status": cp.status, "is_primary": cp.is_primary},
        reason="changed on the landing page",
        evidence={**evidence, "method": "page_change"},
    )
    if kind != "postal":
        challenges.append(
            create_challenge(
                session=session,
                contact_point=cp,
                outreach_id=ctx.outreach_id,
                now=now,
                code_secret=code_secret,
            )
        )
    return {"action": "change", "contact_point_id": cp.id, "result": "unverified"}


def _wrong(
    session: Session,
    ctx: LinkContext,
    kind: str,
    new: Any,
    now: datetime,
    evidence: dict[str, Any],
    challenges: list[Challenge],
    code_secret: bytes,
) -> dict[str, Any]:
    """The value on file is contested; a new value typed with it is added as by a change (the
    value on file typed again adds nothing: the customer said it is wrong)."""
    cp = session.get(ContactPoint, ctx.fields[kind].contact_point_id)
    if cp is None:  # validation found it in this transaction: it cannot have gone
        raise LookupError(f"{kind} contact point to contest is not in the database")
    done = contest(session, cp, now, evidence)
    value = new if new is None or isinstance(new, str) else new.value
    if value is not None and not _same(kind, cp.value, value):
        done["new"] = _change(session, ctx, kind, new, now, evidence, challenges, code_secret)
    return done


def apply_submission(
    *,
    session: Session,
    token: str,
    form: SubmissionForm,
    now: datetime,
    client_time: str | None,
    default_region: str,
    code_secret: bytes,
    max_submissions: int = 10,
) -> SubmissionResult:
    """Validate and apply one landing-page form; the caller commits and sends the challenges
    (and rolls back when the status is not ``ok``)."""
    row = link_row(session, token)
    if row is None or row.id is None or not link_alive(session, row, now):
        return SubmissionResult("invalid_link")
    if not claim_link(session, row.id, now):
        return SubmissionResult("invalid_link")
    session.refresh(row)
    if _submissions(session, row) >= max_submissions:
        return SubmissionResult("limit")
    ctx = link_context(session, row)
    profile = session.get(Profile, row.profile_id)
    if profile is None:  # the token's foreign key holds it
        raise LookupError("the personal link's profile is not in the database")
    country = normalise_country(profile.country)
    errors, values = validate_form(ctx, form, default_region, country)
    if errors:
        return SubmissionResult("invalid", errors)
    mark_used(session, row.id, now)
    client_time = typed_text(client_time, 64, "invalid").value or None
    submission = Submission(
        profile_id=ctx.profile_id,
        token_id=row.id,
        outreach_id=row.outreach_id,
        client_time=client_time,
        received_at=now,
    )
    session.add(submission)
    session.flush()
    evidence = {
        "token_id": row.id,
        "outreach_id": row.outreach_id,
        "client_time": client_time,
        "submission_id": submission.id,
    }
    data: dict[str, Any] = {}
    challenges: list[Challenge] = []
    for kind in FIELDS:
        act: FieldAction = getattr(form, kind)
        if act.action in ("confirm", "change") or (act.action == "wrong" and kind in values):
            # A value of this kind from the customer: "I don't have one" no longer holds.
            withdraw_decline(session, profile, kind, now, evidence)
        if act.action == "none":
            data[kind] = decline(session, profile, kind, now, evidence)
        elif act.action == "confirm":
            cp_id = ctx.fields[kind].contact_point_id
            cp = session.get(ContactPoint, cp_id) if cp_id is not None else None
            if cp is None:  # validation found it in this transaction: it cannot have gone
                raise LookupError(f"contact point {cp_id} to confirm is not in the database")
            data[kind] = _confirm(session, ctx, cp, now, evidence, challenges, code_secret)
        elif act.action == "wrong":
            data[kind] = _wrong(
                session, ctx, kind, values.get(kind), now, evidence, challenges, code_secret
            )
        elif act.action == "change":
            data[kind] = _change(
                session, ctx, kind, values[kind], now, evidence, challenges, code_secret
            )
    data["consents"] = record_consents(
        session=session,
        ctx=ctx,
        consents=form.consents,
        notices=form.notices,
        now=now,
        evidence=evidence,
    )
    # The enrollment of the campaign shown: an entry after it completed is earned at once.
    enrollment_id = ctx.shown_enrollment_id
    if form.incentive is not None and ctx.spec is not None and enrollment_id is not None:
        try:
            data["incentive"] = enter(
                session,
                profile_id=ctx.profile_id,
                enrollment_id=enrollment_id,
                spec=ctx.spec,
                shown=form.incentive,
                now=now,
                evidence=evidence,
            )
        except IncentiveRefused as refused:  # the caller rolls back
            return SubmissionResult("invalid", {"incentive": refused.reason})
    submission.data = data
    session.add(submission)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.SUBMISSION_RECEIVED,
        entity_type="submission",
        entity_id=submission.id,
        profile_id=ctx.profile_id,
        evidence={**evidence, "method": "landing"},
    )
    done = complete_if_done(session=session, profile_id=ctx.profile_id, now=now, evidence=evidence)
    return SubmissionResult("ok", {}, submission.id, challenges, done)


def _submissions(session: Session, row: VerificationToken) -> int:
    """How many submissions the link has taken so far."""
    return int(
        session.exec(
            select(func.count()).select_from(Submission).where(Submission.token_id == row.id)
        ).one()
    )
