"""Sending proof-of-control messages: a confirmation link by email, a one-time code by SMS.

Each challenge becomes an Outreach row (no enrollment, reason "proof of control") written and
committed before sending, then marked sent or failed with an audit row, like round messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from enrich.settings import Settings
from models.answers.proof_of_control import EMAIL_CONFIRM, Challenge
from models.audit import audit
from models.db import stored_id
from models.tables import ContactPoint, Outreach, Profile
from models.types import utcnow
from models.vocabulary import AuditAction
from outreach.channels import Channel, Message

REASON = "proof of control"


@dataclass(frozen=True)
class Sent:
    challenge: Challenge
    outreach_id: int
    ok: bool


def send_challenges(
    *,
    session: Session,
    settings: Settings,
    channels: Mapping[str, Channel],
    challenges: Sequence[Challenge],
    locale: str,
) -> list[Sent]:
    """Send each challenge on ``channels`` (the app's, built once); commits (the outreach row
    exists before the message leaves)."""
    if not challenges:
        return []
    now = utcnow()
    pending: list[tuple[Challenge, Outreach, ContactPoint]] = []
    for ch in challenges:
        cp = session.get(ContactPoint, ch.contact_point_id)
        if cp is None:
            continue
        email = ch.kind == EMAIL_CONFIRM
        row = Outreach(
            enrollment_id=None,
            profile_id=cp.profile_id,
            contact_point_id=cp.id,
            step_index=0,
            channel="email" if email else "sms",
            template="confirm" if email else "otp",
            locale=locale,
            status="pending",
            reason=REASON,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        pending.append((ch, row, cp))
    session.commit()
    base = settings.base_url.rstrip("/")
    out: list[Sent] = []
    for ch, row, cp in pending:
        outreach_id = stored_id(row)
        profile = session.get(Profile, cp.profile_id)
        email = ch.kind == EMAIL_CONFIRM
        message = Message(
            outreach_id=outreach_id,
            channel=row.channel,
            template=row.template,
            locale=locale,
            recipient=cp.value,
            # The confirmation page opens in the language the email is written in.
            link=f"{base}/e/{ch.secret}?lang={locale}" if email else f"{base}/c",
            given_name=profile.given_name if profile else None,
            family_name=profile.family_name if profile else None,
            code=None if email else ch.secret,
            unsubscribe=False,
        )
        result = channels[row.channel].send_batch([message])[0]
        sent_at = utcnow()
        row.status = "sent" if result.ok else "failed"
        row.provider, row.provider_message_id = result.provider, result.provider_message_id
        row.batch_ref, row.error = result.batch_ref, result.error
        row.sent_at = sent_at if result.ok else None
        row.updated_at = sent_at
        session.add(row)
        audit(
            session=session,
            actor="system",
            action=AuditAction.OUTREACH_SENT if result.ok else AuditAction.OUTREACH_FAILED,
            entity_type="outreach",
            entity_id=outreach_id,
            profile_id=cp.profile_id,
            after={"channel": row.channel, "template": row.template, "status": row.status},
            reason=REASON,
            evidence={"challenge_id": ch.challenge_id},
        )
        session.commit()
        out.append(Sent(ch, outreach_id, result.ok))
    return out
