"""Phase 3 of sending: record what the channel answered, in one transaction per chunk.

Outreach status and provider ids, the enrollment's step and next due date, the profile's last
contact and the audit trail; a refusal that says something about the address (invalid number,
opted out) is applied to the contact point as the provider's webhook saying so would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.audit import audit_from_select, json_object
from models.campaigns.spec import CampaignSpec
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord
from models.tables import ENROLLMENT, OUTREACH, PROFILE
from models.vocabulary import FAILED, INVALID, OPTED_OUT, PENDING, SENT, AuditAction
from outreach.channels.base import SendResult


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
) -> tuple[int, int, set[int]]:
    """Phase 3: outreach status, enrollment step and due date, last contact, audit events;
    (sent, failed, ids recorded).

    Set-based: rows that end the same way (a provider request's messages share its id) are
    updated by one statement each, so a chunk of a thousand costs a handful of statements.
    Only rows still pending change, and only the rows this call changed advance their
    enrollment and get an audit row: recording the same answer twice (two runs, a retry)
    records it once.
    """
    # (status, provider, ...) -> [(outreach id, provider message id)]
    outcomes: dict[tuple[Any, ...], list[tuple[int, str | None]]] = {}
    by_id = {row.id: row for row in pending}
    for row in pending:
        result = results.get(row.id)
        if result is None or result.in_doubt:  # no answer yet: stays pending, settled later
            continue
        error = None if result.ok else (result.error or "failed")[:1000]
        key = (result.ok, result.provider, result.provider_status, result.batch_ref, error)
        outcomes.setdefault(key, []).append((row.id, result.provider_message_id))
    o, e = OUTREACH.c, ENROLLMENT.c
    recorded: dict[bool, list[int]] = {True: [], False: []}  # outreach ids by ok
    for (ok, provider, pstatus, batch, error), answered in outcomes.items():
        values = {
            "status": SENT if ok else FAILED,
            "provider": provider,
            "provider_status": pstatus,
            "batch_ref": batch,
            "error": error,
            "doubt_reason": None,
            "sent_at": now if ok else None,
            "updated_at": now,
        }
        pmids = {pmid for _, pmid in answered}
        if len(pmids) == 1:  # one request's messages (SendGrid): its id goes in the same statement
            values["provider_message_id"] = next(iter(pmids))
        changed = set(
            conn.execute(
                update(OUTREACH)
                .where(o.id.in_([i for i, _ in answered]), o.status == PENDING)
                .values(**values)
                .returning(o.id)
            ).scalars()
        )
        if len(pmids) > 1 and changed:  # a message id each (Twilio), for the rows just changed
            conn.execute(
                update(OUTREACH)
                .where(o.id == bindparam("b_id"))
                .values(provider_message_id=bindparam("b_pmid")),
                [{"b_id": i, "b_pmid": pmid} for i, pmid in answered if i in changed],
            )
        recorded[ok].extend(sorted(changed))
    advances: dict[tuple[int, datetime], list[int]] = {}  # (step, next due) -> enrollment ids
    for ok, ids in recorded.items():
        for outreach_id in ids:
            row = by_id[outreach_id]
            step = spec.ladder[row.step_index] if row.step_index < len(spec.ladder) else None
            # A failed step is not the customer's silence: the next step is due at once.
            wait = timedelta(days=step.wait_days) if ok and step is not None else timedelta(0)
            advances.setdefault((row.step_index, now + wait), []).append(row.enrollment_id)
    for (step_index, due), enrollment_ids in advances.items():
        conn.execute(
            update(ENROLLMENT)
            .where(e.id.in_(enrollment_ids))
            .values(step_index=step_index, next_due_at=due, wait_reason=None, updated_at=now)
        )
    contacted = [by_id[i].profile_id for i in recorded[True]]
    if contacted:
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(contacted))
            .values(last_contacted_at=now, updated_at=now)
        )
    for ok, ids in recorded.items():
        if ids:
            _audit(conn, ids, ok=ok, now=now, actor=actor)
    return len(recorded[True]), len(recorded[False]), {*recorded[True], *recorded[False]}


def _audit(conn: Connection, ids: list[int], *, ok: bool, now: datetime, actor: str) -> None:
    """One audit row per recorded outreach, built by the database from the rows just updated."""
    o, e = OUTREACH.c, ENROLLMENT.c
    dialect = conn.dialect.name
    after = {"channel": o.channel, "template": o.template, "step": o.step_index}
    after |= {"provider": o.provider} | ({} if ok else {"error": o.error})
    evidence = {
        "round_id": e.round_id,
        "enrollment_id": o.enrollment_id,
        "outreach_id": o.id,
        "provider_message_id": o.provider_message_id,
    }
    audit_from_select(
        conn,
        now=now,
        actor=actor,
        action=AuditAction.OUTREACH_SENT if ok else AuditAction.OUTREACH_FAILED,
        entity_type="outreach",
        source=select(
            o.id,
            o.profile_id,
            json_object(dialect, after),
            o.reason,
            json_object(dialect, evidence),
        )
        .select_from(OUTREACH.join(ENROLLMENT, e.id == o.enrollment_id))
        .where(o.id.in_(ids))
        .order_by(o.id),
    )
