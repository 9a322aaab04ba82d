"""Phase 3 of sending: record what the channel answered, in one transaction per chunk.

Outreach status and provider ids, the enrollment's step and next due date, the profile's last
contact and the audit trail; a refusal that says something about the address (invalid number,
opted out) is applied to the contact point as the provider's webhook saying so would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.audit import audit_many
from models.campaign import CampaignSpec
from models.delivery import EventRecord, ingest_events
from models.tables import Enrollment, Outreach, Profile
from models.vocabulary import FAILED, INVALID, OPTED_OUT, PENDING, SENT
from outreach.channels.base import SendResult

ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]
OUTREACH = Outreach.__table__  # type: ignore[attr-defined]
PROFILE = Profile.__table__  # type: ignore[attr-defined]


def refusal_events(
    conn: Connection, rows: Sequence[Any], results: Mapping[int, SendResult], now: datetime
) -> None:
    """A refusal that says something about the address (invalid, opted out) is applied to the
    contact point exactly like the provider's webhook saying the same: one way, one audit trail."""
    events = []
    for row in rows:
        result = results[row.id]
        if result.ok or result.contact_status not in (INVALID, OPTED_OUT):
            continue
        events.append(
            EventRecord(
                provider=result.provider,
                provider_event_id=f"send-refused:{row.id}:{row.attempts + 1}",
                event_type="rejected",
                outreach_id=row.id,
                provider_message_id=result.provider_message_id,
                occurred_at=now,
                recipient=row.value,
                detail=(result.error or "refused")[:200],
                opt_out=result.contact_status == OPTED_OUT,
                invalid_recipient=result.contact_status == INVALID,
            )
        )
    if events:
        with Session(bind=conn) as session:
            ingest_events(session=session, events=events, now=now)
            session.flush()


def record_results(
    conn: Connection,
    *,
    pending: Sequence[Any],
    results: Mapping[int, SendResult],
    spec: CampaignSpec,
    now: datetime,
    actor: str,
) -> tuple[int, int]:
    """Phase 3: outreach status, enrollment step and due date, last contact, audit events."""
    outreach_updates: list[dict[str, Any]] = []
    enrollment_updates: list[dict[str, Any]] = []
    contacted: list[int] = []
    audits: list[dict[str, Any]] = []
    sent = failed = 0
    for row in pending:
        result = results.get(row.id)
        if result is None or result.in_doubt:  # no answer yet: stays pending, settled later
            continue
        step = spec.ladder[row.step_index] if row.step_index < len(spec.ladder) else None
        ok = result.ok
        sent += ok
        failed += not ok
        outreach_updates.append(
            {
                "b_id": row.id,
                "b_status": SENT if ok else FAILED,
                "b_provider": result.provider,
                "b_pmid": result.provider_message_id,
                "b_pstatus": result.provider_status,
                "b_batch": result.batch_ref,
                "b_error": None if ok else (result.error or "failed")[:1000],
                "b_sent_at": now if ok else None,
            }
        )
        # A failed step is not the customer's silence: the next step is due at once.
        wait = timedelta(days=step.wait_days) if ok and step is not None else timedelta(0)
        enrollment_updates.append(
            {"b_id": row.enrollment_id, "b_step": row.step_index, "b_due": now + wait}
        )
        if ok:
            contacted.append(row.profile_id)
        audits.append(
            {
                "at": now,
                "actor": actor,
                "action": "outreach.sent" if ok else "outreach.failed",
                "entity_type": "outreach",
                "entity_id": row.id,
                "profile_id": row.profile_id,
                "after": {
                    "channel": row.channel,
                    "template": row.template,
                    "step": row.step_index,
                    "provider": result.provider,
                    **({} if ok else {"error": result.error}),
                },
                "reason": row.reason,
                "evidence": {
                    "round_id": row.round_id,
                    "enrollment_id": row.enrollment_id,
                    "outreach_id": row.id,
                    "provider_message_id": result.provider_message_id,
                },
            }
        )
    if outreach_updates:
        conn.execute(
            update(OUTREACH)
            .where(OUTREACH.c.id == bindparam("b_id"), OUTREACH.c.status == PENDING)
            .values(
                status=bindparam("b_status"),
                provider=bindparam("b_provider"),
                provider_message_id=bindparam("b_pmid"),
                provider_status=bindparam("b_pstatus"),
                batch_ref=bindparam("b_batch"),
                error=bindparam("b_error"),
                sent_at=bindparam("b_sent_at"),
                updated_at=now,
            ),
            outreach_updates,
        )
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == bindparam("b_id"))
            .values(
                step_index=bindparam("b_step"),
                next_due_at=bindparam("b_due"),
                wait_reason=None,
                updated_at=now,
            ),
            enrollment_updates,
        )
    if contacted:
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(contacted))
            .values(last_contacted_at=now, updated_at=now)
        )
    audit_many(conn, audits)
    return sent, failed
