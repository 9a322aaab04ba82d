"""Proof of control: confirmation links for email addresses, one-time SMS codes for mobiles.

Link secrets are stored as SHA-256 hashes (as personal links are). A 6-digit code has only a
million values, so a plain hash would fall to an offline search; codes are stored as
HMAC-SHA256 under a server secret (``code_secret``, from the caller's settings) over the
challenge id and the code, so a leaked table reveals nothing without the secret. The plain link
or code only ever lives in the returned :class:`Challenge`, for the caller to send.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlmodel import Session, col, select, update

from models.answers.link_tokens import hash_presented, hash_token
from models.audit import audit
from models.db import stored_id
from models.rounds.completion import complete_if_done
from models.tables import ContactPoint, VerificationToken
from models.vocabulary import VERIFIED, AuditAction

EMAIL_CONFIRM: Final = "email_confirm"
SMS_CODE: Final = "sms_code"
EMAIL_TTL = timedelta(hours=24)
SMS_TTL = timedelta(minutes=10)
MAX_SMS_ATTEMPTS = 5
_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class Challenge:
    """A proof request to send: ``secret`` is the plain email token or SMS code."""

    kind: Literal["email_confirm", "sms_code"]
    challenge_id: int
    contact_point_id: int
    secret: str
    expires_at: datetime


@dataclass(frozen=True)
class ConfirmResult:
    status: Literal["ok", "invalid"]
    profile_id: int | None = None
    contact_point_id: int | None = None
    completed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CodeResult:
    status: Literal["ok", "wrong", "locked", "expired", "invalid"]
    attempts_left: int = 0
    contact_point_id: int | None = None
    completed: list[int] = field(default_factory=list)


def code_hash(code_secret: bytes, challenge_id: int, code: str) -> str:
    return hmac.new(code_secret, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def consume(session: Session, token_id: int, now: datetime) -> bool:
    """Mark a token used; True for exactly one caller even under concurrency."""
    result = session.execute(
        update(VerificationToken)
        .where(col(VerificationToken.id) == token_id, col(VerificationToken.used_at).is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def create_challenge(
    *,
    session: Session,
    contact_point: ContactPoint,
    outreach_id: int | None,
    now: datetime,
    code_secret: bytes,
) -> Challenge:
    """A confirmation link (email) or code (mobile) for ``contact_point``; older ones lapse."""
    contact_point_id = stored_id(contact_point)
    kind: Literal["email_confirm", "sms_code"] = (
        EMAIL_CONFIRM if contact_point.kind == "email" else SMS_CODE
    )
    # Only the newest challenge per contact point counts, so codes cannot be collected.
    session.execute(
        update(VerificationToken)
        .where(
            col(VerificationToken.contact_point_id) == contact_point.id,
            col(VerificationToken.kind) == kind,
            col(VerificationToken.used_at).is_(None),
        )
        .values(used_at=now)
    )
    secret = (
        secrets.token_urlsafe(16) if kind == EMAIL_CONFIRM else f"{secrets.randbelow(10**6):06d}"
    )
    expires_at = now + (EMAIL_TTL if kind == EMAIL_CONFIRM else SMS_TTL)
    row = VerificationToken(
        # A code's hash needs the row id; a random placeholder keeps the column unique meanwhile.
        token_hash=hash_token(secret) if kind == EMAIL_CONFIRM else secrets.token_hex(32),
        kind=kind,
        profile_id=contact_point.profile_id,
        outreach_id=outreach_id,
        contact_point_id=contact_point.id,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    row_id = stored_id(row)
    if kind == SMS_CODE:
        row.token_hash = code_hash(code_secret, row_id, secret)
        session.flush()
    return Challenge(kind, row_id, contact_point_id, secret, expires_at)


def _state(cp: ContactPoint) -> dict[str, Any]:
    return {
        "status": cp.status,
        "is_primary": cp.is_primary,
        "verification_method": cp.verification_method,
        "opted_out_at": cp.opted_out_at.isoformat() if cp.opted_out_at else None,
    }


def verify_contact_point(
    *,
    session: Session,
    cp: ContactPoint,
    method: str,
    now: datetime,
    primary: bool,
    evidence: dict[str, Any],
    action: AuditAction = AuditAction.CONTACT_POINT_VERIFIED,
) -> None:
    """Mark ``cp`` verified (an opt-out is lifted: proving control is an opt-in), with audit."""
    before = _state(cp)
    if primary and not cp.is_primary:
        # The old primary of that kind is kept (history, fallback) but no longer used.
        session.execute(
            update(ContactPoint)
            .where(
                col(ContactPoint.profile_id) == cp.profile_id,
                col(ContactPoint.kind) == cp.kind,
                col(ContactPoint.id) != cp.id,
            )
            .values(is_primary=False, updated_at=now)
        )
        cp.is_primary = True
    opted_in = cp.opted_out_at is not None or cp.status == "opted_out"
    cp.status, cp.verified_at, cp.verification_method = VERIFIED, now, method
    cp.opted_out_at, cp.updated_at = None, now
    session.add(cp)
    audit(
        session=session,
        actor="customer",
        action=action,
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before=before,
        after=_state(cp),
        reason="opt-in on the landing page" if opted_in else None,
        evidence={**evidence, "method": method},
    )


def confirm_email(*, session: Session, token: str, now: datetime) -> ConfirmResult:
    """Open a confirmation link: the address becomes verified and primary, once."""
    digest = hash_presented(token)
    row = (
        session.exec(
            select(VerificationToken).where(
                VerificationToken.token_hash == digest, VerificationToken.kind == EMAIL_CONFIRM
            )
        ).first()
        if digest
        else None
    )
    if row is None or row.used_at is not None or row.expires_at <= now or row.id is None:
        return ConfirmResult("invalid")
    cp = session.get(ContactPoint, row.contact_point_id) if row.contact_point_id else None
    if cp is None or not consume(session, row.id, now):
        return ConfirmResult("invalid")
    evidence = {"token_id": row.id, "outreach_id": row.outreach_id, "method": "email_link"}
    verify_contact_point(
        session=session, cp=cp, method="email_link", now=now, primary=True, evidence=evidence
    )
    done = complete_if_done(session=session, profile_id=cp.profile_id, now=now, evidence=evidence)
    return ConfirmResult("ok", cp.profile_id, cp.id, done)


def check_sms_code(
    *,
    session: Session,
    profile_id: int,
    challenge_id: int,
    code: str,
    now: datetime,
    code_secret: bytes,
) -> CodeResult:
    """Check a one-time code; every call costs an attempt, so the caller must commit always."""
    counted = session.execute(
        update(VerificationToken)
        .where(
            col(VerificationToken.id) == challenge_id,
            col(VerificationToken.profile_id) == profile_id,
            col(VerificationToken.kind) == SMS_CODE,
            col(VerificationToken.used_at).is_(None),
            col(VerificationToken.attempts) < MAX_SMS_ATTEMPTS,
            col(VerificationToken.expires_at) > now,
        )
        .values(attempts=col(VerificationToken.attempts) + 1)
    )
    row = session.get(VerificationToken, challenge_id)
    if row is not None:
        session.refresh(row)
    if row is None or row.profile_id != profile_id or row.kind != SMS_CODE:
        return CodeResult("invalid")
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        if row.used_at is not None:
            return CodeResult("invalid")
        if row.expires_at <= now:
            return CodeResult("expired")
        return CodeResult("locked")
    left = MAX_SMS_ATTEMPTS - row.attempts
    candidate = code.strip() if isinstance(code, str) else ""
    expected = row.token_hash
    given = code_hash(code_secret, challenge_id, candidate) if _CODE.fullmatch(candidate) else ""
    if not hmac.compare_digest(expected, given):
        return CodeResult("wrong" if left > 0 else "locked", left)
    cp = session.get(ContactPoint, row.contact_point_id) if row.contact_point_id else None
    if cp is None or not consume(session, challenge_id, now):
        return CodeResult("invalid")
    evidence = {"token_id": row.id, "outreach_id": row.outreach_id, "method": "sms_code"}
    verify_contact_point(
        session=session, cp=cp, method="sms_code", now=now, primary=True, evidence=evidence
    )
    done = complete_if_done(session=session, profile_id=profile_id, now=now, evidence=evidence)
    return CodeResult("ok", left, cp.id, done)
