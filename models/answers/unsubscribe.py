"""One-click unsubscribe (RFC 8058): the link in an email's ``List-Unsubscribe`` header opts the
address that message went to out of everything Enrich sends by email.

The link carries a token of its own (kind ``unsubscribe``), issued with the email's personal
link token: whoever sees the header (a mail server, a forwarded message) can unsubscribe that
address and nothing else, and cannot open the customer's data. Unlike the landing page it keeps
working after the personal link expired or was used: an unsubscribe must never fail for the
customer. Emails sent before unsubscribe tokens existed carry their personal token in the
header; it still unsubscribes, but only for an outreach that has no unsubscribe token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.answers.link_tokens import LINK_KIND, UNSUBSCRIBE_KIND, hash_presented
from models.audit import audit
from models.tables import ContactPoint, Outreach, VerificationToken
from models.vocabulary import EMAIL, OPTED_OUT, AuditAction

UNSUBSCRIBE = UNSUBSCRIBE_KIND
LEGACY_LINK = LINK_KIND  # a personal-link token, in the headers of emails sent before


@dataclass(frozen=True)
class UnsubscribeResult:
    status: str  # "ok" | "already" | "invalid"
    contact_point_id: int | None = None


def _has_unsubscribe_token(session: Session, outreach_id: int | None) -> bool:
    return (
        session.exec(
            select(VerificationToken.id).where(
                VerificationToken.outreach_id == outreach_id,
                VerificationToken.kind == UNSUBSCRIBE,
            )
        ).first()
        is not None
    )


def unsubscribe(*, session: Session, token: str, now: datetime, method: str) -> UnsubscribeResult:
    """Opt out the email address the message with this link was sent to; audited, idempotent."""
    digest = hash_presented(token)
    if digest is None:
        return UnsubscribeResult("invalid")
    row = session.exec(
        select(VerificationToken, Outreach)
        .join(Outreach, Outreach.id == VerificationToken.outreach_id)  # type: ignore[arg-type]
        .where(
            VerificationToken.token_hash == digest,
            col(VerificationToken.kind).in_((UNSUBSCRIBE, LEGACY_LINK)),
        )
    ).first()
    if row is None or row[1].channel != EMAIL or row[1].contact_point_id is None:
        return UnsubscribeResult("invalid")
    link, outreach = row
    if link.kind == LEGACY_LINK and _has_unsubscribe_token(session, outreach.id):
        return UnsubscribeResult("invalid")
    cp = session.get(ContactPoint, outreach.contact_point_id)
    if cp is None:
        return UnsubscribeResult("invalid")
    if cp.status == OPTED_OUT:
        return UnsubscribeResult("already", cp.id)
    before = {"status": cp.status}
    cp.status, cp.opted_out_at, cp.updated_at = OPTED_OUT, now, now
    session.add(cp)
    audit(
        session=session,
        actor="customer",
        action=AuditAction.CONTACT_POINT_OPT_OUT,
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before=before,
        after={"status": OPTED_OUT},
        reason="unsubscribed from email",
        evidence={
            "token_id": link.id,
            "token_kind": link.kind,
            "outreach_id": outreach.id,
            "method": method,
        },
    )
    return UnsubscribeResult("ok", cp.id)
