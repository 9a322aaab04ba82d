"""One-click unsubscribe (RFC 8058): the link in an email's ``List-Unsubscribe`` header opts the
address that message went to out of everything Enrich sends by email.

The link carries the message's personal token. Unlike the landing page it keeps working after
the token expired or was used: an unsubscribe must never fail for the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from models.audit import audit
from models.proof import hash_secret
from models.tables import ContactPoint, Outreach, VerificationToken
from models.vocabulary import EMAIL, OPTED_OUT


@dataclass(frozen=True)
class UnsubscribeResult:
    status: str  # "ok" | "already" | "invalid"
    contact_point_id: int | None = None


def unsubscribe(*, session: Session, token: str, now: datetime, method: str) -> UnsubscribeResult:
    """Opt out the email address the message with this link was sent to; audited, idempotent."""
    digest = hash_secret(token)
    if digest is None:
        return UnsubscribeResult("invalid")
    row = session.exec(
        select(VerificationToken, Outreach)
        .join(Outreach, Outreach.id == VerificationToken.outreach_id)  # type: ignore[arg-type]
        .where(VerificationToken.token_hash == digest, VerificationToken.kind == "link")
    ).first()
    if row is None or row[1].channel != EMAIL or row[1].contact_point_id is None:
        return UnsubscribeResult("invalid")
    link, outreach = row
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
        action="contact_point.opt_out",
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before=before,
        after={"status": OPTED_OUT},
        reason="unsubscribed from email",
        evidence={"token_id": link.id, "outreach_id": outreach.id, "method": method},
    )
    return UnsubscribeResult("ok", cp.id)
