"""One outreach as the steward and the auditor see it: step, provider ids, status, events, audit.

Contact data is masked; everything else is what the database holds about that message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.contact_data.masking import mask_address, mask_email, mask_phone
from models.tables import AUDIT, CAMPAIGN, CONTACT, DELIVERY, ENROLLMENT, OUTREACH, ROUND


@dataclass(frozen=True)
class OutreachReport:
    fields: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def _masked(kind: str | None, row: Any) -> str | None:
    if kind is None:
        return None
    if kind == "email":
        return mask_email(row.value)
    if kind in ("mobile", "phone"):
        return mask_phone(row.value)
    return mask_address(row.street, row.house_number, row.postal_code, row.city)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def outreach_report(conn: Connection, outreach_id: int) -> OutreachReport | None:
    """Everything recorded about one outreach, or None when it does not exist."""
    o, e, r, c, cp = OUTREACH.c, ENROLLMENT.c, ROUND.c, CAMPAIGN.c, CONTACT.c
    row = conn.execute(
        select(
            o.id,
            o.enrollment_id,
            o.profile_id,
            o.step_index,
            o.channel,
            o.template,
            o.locale,
            o.context,
            o.status,
            o.reason,
            o.provider,
            o.provider_message_id,
            o.provider_status,
            o.batch_ref,
            o.error,
            o.attempts,
            o.attempted_at,
            o.created_at,
            o.sent_at,
            e.round_id,
            e.state.label("enrollment_state"),
            c.key.label("campaign"),
            c.version.label("campaign_version"),
            cp.kind,
            cp.value,
            cp.street,
            cp.house_number,
            cp.postal_code,
            cp.city,
            cp.country,
            cp.status.label("contact_status"),
        )
        .select_from(
            OUTREACH.outerjoin(ENROLLMENT, e.id == o.enrollment_id)
            .outerjoin(ROUND, r.id == e.round_id)
            .outerjoin(CAMPAIGN, c.id == r.campaign_id)
            .outerjoin(CONTACT, cp.id == o.contact_point_id)
        )
        .where(o.id == outreach_id)
    ).first()
    if row is None:
        return None
    fields = {
        "outreach": row.id,
        "round": row.round_id,
        "campaign": f"{row.campaign} v{row.campaign_version}" if row.campaign else None,
        "enrollment": f"{row.enrollment_id} ({row.enrollment_state})",
        "step": row.step_index + 1 if row.context is None else None,
        "context": row.context,
        "channel": row.channel,
        "template": f"{row.template} ({row.locale})" if row.locale else row.template,
        "to": _masked(row.kind, row),
        "contact point status": row.contact_status,
        "status": row.status,
        "reason": row.reason,
        "provider": row.provider,
        "provider message id": row.provider_message_id,
        "provider status": row.provider_status,
        "batch": row.batch_ref,
        "error": row.error,
        "attempts": row.attempts,
        "last attempt": _iso(row.attempted_at),
        "created": _iso(row.created_at),
        "sent": _iso(row.sent_at),
    }
    d = DELIVERY.c
    events = [
        {
            "occurred": _iso(ev.occurred_at),
            "provider": ev.provider,
            "type": ev.event_type,
            "detail": ev.detail,
            "event id": ev.provider_event_id,
        }
        for ev in conn.execute(
            select(d.occurred_at, d.provider, d.event_type, d.detail, d.provider_event_id)
            .where(d.outreach_id == outreach_id)
            .order_by(d.occurred_at, d.id)
        )
    ]
    a = AUDIT.c
    audit = [
        {"at": _iso(ev.at), "actor": ev.actor, "action": ev.action, "reason": ev.reason}
        for ev in conn.execute(
            select(a.at, a.actor, a.action, a.reason)
            .where(a.entity_type == "outreach", a.entity_id == outreach_id)
            .order_by(a.at, a.id)
        )
    ]
    return OutreachReport(fields=fields, events=events, audit=audit)
