"""Ingesting provider delivery events: stored once per (provider, event id), effects applied once.

Only a newly stored event can change anything, so a replayed webhook changes nothing. Each new
event is tied to its outreach (or, for an opt-out or an inbound message without one, to the
contact points its recipient names); then its effects follow: the contact point's state
(:mod:`models.feedback.contact_point_state`), a bounced or failed message's enrollment made due
for its next step, and the outreach marked failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.audit import audit_many
from models.feedback.contact_point_state import apply_contact_points
from models.feedback.event_records import (
    EventRecord,
    IngestOutcome,
    StoredEvent,
    audit_row,
    chunks,
    iso,
)
from models.tables import CONTACT, DELIVERY, ENROLLMENT, OUTREACH
from models.vocabulary import ACTIVE, FAILED, SENT, AuditAction

FAILED_EVENT_TYPES = frozenset({"bounced", "failed", "rejected"})


def _find_outreaches(session: Session, events: Sequence[EventRecord]) -> tuple[dict, dict]:
    cols = (
        OUTREACH.c.id,
        OUTREACH.c.contact_point_id,
        OUTREACH.c.enrollment_id,
        OUTREACH.c.step_index,
        OUTREACH.c.status,
        OUTREACH.c.provider_message_id,
    )
    ids = sorted({e.outreach_id for e in events if e.outreach_id is not None})
    by_id = {}
    for chunk in chunks(ids):
        by_id.update(
            {r.id: r for r in session.execute(select(*cols).where(OUTREACH.c.id.in_(chunk)))}
        )
    # Without our id (a callback URL lacking it), fall back to the provider's message id when it
    # names exactly one outreach; an id that covers a whole batch of emails rarely does.
    pmids = sorted(
        {
            e.provider_message_id
            for e in events
            if e.outreach_id is None and e.provider_message_id and e.event_type != "inbound"
        }
    )
    by_pmid: dict[str, Any] = {}
    for chunk in chunks(pmids):
        rows = session.execute(select(*cols).where(OUTREACH.c.provider_message_id.in_(chunk)))
        seen: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            seen[r.provider_message_id].append(r)
        by_pmid.update({k: v[0] for k, v in seen.items() if len(v) == 1})
    return by_id, by_pmid


def _insert_events(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert, skipping (provider, provider_event_id) already stored; returns the new ids."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted: dict[tuple[str, str], int] = {}
    for chunk in chunks(rows):
        stmt = (
            insert(DELIVERY)
            .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
            .returning(DELIVERY.c.id, DELIVERY.c.provider, DELIVERY.c.provider_event_id)
        )
        for r in session.execute(stmt, list(chunk)):
            inserted[(r.provider, r.provider_event_id)] = r.id
    return inserted


def _match_recipients(session: Session, news: list[StoredEvent]) -> None:
    """Tie opt-outs, opt-ins and inbound messages without a known outreach to contact points."""
    wanted: dict[tuple[str, str], list[StoredEvent]] = defaultdict(list)
    for n in news:
        e = n.event
        kind = e.recipient_kind
        if (
            n.outreach is None
            and e.recipient
            and kind
            and (e.opt_out or e.opt_in or e.event_type == "inbound")
        ):
            value = e.recipient.strip().lower() if kind == "email" else e.recipient.strip()
            wanted[(kind, value)].append(n)
    for kind in {k for k, _ in wanted}:
        values = sorted(v for k, v in wanted if k == kind)
        # Email values keep the local part's case; compare case-insensitively.
        column = func.lower(CONTACT.c.value) if kind == "email" else CONTACT.c.value
        for chunk in chunks(values):
            query = select(CONTACT.c.id, column.label("v")).where(
                CONTACT.c.kind == kind, column.in_(chunk)
            )
            for r in session.execute(query):
                for n in wanted[(kind, r.v)]:
                    n.contact_points.append(r.id)


def _step(new: StoredEvent) -> int | None:
    return new.outreach.step_index if new.outreach is not None else None


def _nudge_enrollments(session: Session, news: list[StoredEvent], now: datetime) -> int:
    """A hard bounce or dead number makes the enrollment's next step due at once."""
    by_enrollment: dict[int, StoredEvent] = {}  # enrollment id -> first bounce of an outreach
    for n in sorted(news, key=lambda n: n.event.occurred_at):
        o = n.outreach
        if (
            o is not None
            and o.enrollment_id is not None
            and (n.event.hard_bounce or n.event.invalid_recipient)
        ):
            by_enrollment.setdefault(o.enrollment_id, n)
    if not by_enrollment:
        return 0
    rows: list[Any] = []
    for chunk in chunks(sorted(by_enrollment)):
        query = select(
            ENROLLMENT.c.id,
            ENROLLMENT.c.profile_id,
            ENROLLMENT.c.step_index,
            ENROLLMENT.c.next_due_at,
        ).where(ENROLLMENT.c.id.in_(chunk), ENROLLMENT.c.state == ACTIVE)
        rows.extend(session.execute(query))
    due = [
        r
        for r in rows
        # Only when the bounced message is the enrollment's latest step: a bounce of an
        # earlier step says nothing about the step now waiting for an answer.
        if r.step_index == _step(by_enrollment[r.id])
        and (r.next_due_at is None or r.next_due_at > now)
    ]
    if not due:
        return 0
    session.execute(
        update(ENROLLMENT)
        .where(ENROLLMENT.c.id == bindparam("b_id"))
        .values(next_due_at=bindparam("b_due"), updated_at=bindparam("b_due")),
        [{"b_id": r.id, "b_due": now} for r in due],
    )
    audit_many(
        session,
        [
            audit_row(
                by_enrollment[r.id],
                now,
                AuditAction.ENROLLMENT_DUE_NOW,
                "enrollment",
                r.id,
                r.profile_id,
                {"next_due_at": iso(r.next_due_at)},
                {"next_due_at": now.isoformat()},
                {},
            )
            for r in due
        ],
    )
    return len(due)


def _fail_outreaches(session: Session, news: list[StoredEvent], now: datetime) -> None:
    """A sent message the provider reports as bounced, failed or rejected becomes failed."""
    first: dict[int, StoredEvent] = {}
    for n in sorted(news, key=lambda n: n.event.occurred_at):
        o = n.outreach
        if o is not None and o.status == SENT and n.event.event_type in FAILED_EVENT_TYPES:
            first.setdefault(o.id, n)
    if not first:
        return
    session.execute(
        update(OUTREACH)
        .where(OUTREACH.c.id == bindparam("b_id"), OUTREACH.c.status == SENT)
        .values(status=FAILED, error=bindparam("b_error"), updated_at=bindparam("b_now")),
        [
            {"b_id": oid, "b_now": now, "b_error": (n.event.detail or n.event.event_type)[:1000]}
            for oid, n in first.items()
        ],
    )
    audit_many(
        session,
        [
            audit_row(
                n,
                now,
                AuditAction.OUTREACH_FAILED,
                "outreach",
                oid,
                None,
                {"status": SENT},
                {"status": FAILED},
                {},
            )
            for oid, n in first.items()
        ],
    )


def ingest_events(
    *, session: Session, events: Sequence[EventRecord], now: datetime
) -> IngestOutcome:
    """Store ``events`` once each and apply the effects of the ones not seen before.

    Runs inside the caller's transaction. ``unmatched`` counts the new events tied to neither a
    known outreach nor (for inbound messages and opt-outs) a contact point; they are stored all
    the same, with no outreach.
    """
    unique: dict[tuple[str, str], EventRecord] = {}
    for e in events:
        unique.setdefault((e.provider, e.provider_event_id), e)
    by_id, by_pmid = _find_outreaches(session, list(unique.values()))

    def outreach_of(e: EventRecord) -> Any | None:
        if e.outreach_id is not None:
            return by_id.get(e.outreach_id)
        return by_pmid.get(e.provider_message_id or "")

    rows = [
        {
            "outreach_id": o.id if (o := outreach_of(e)) is not None else None,
            "provider": e.provider,
            "provider_event_id": e.provider_event_id,
            "event_type": e.event_type,
            "detail": e.detail,
            "occurred_at": e.occurred_at,
            "received_at": now,
            "raw": e.raw,
        }
        for e in unique.values()
    ]
    inserted = _insert_events(session, rows)
    news = [
        StoredEvent(event=e, row_id=inserted[key], outreach=outreach_of(e))
        for key, e in unique.items()
        if key in inserted
    ]
    _match_recipients(session, news)
    changed = apply_contact_points(session, news, now)
    due = _nudge_enrollments(session, news, now)
    _fail_outreaches(session, news, now)
    return IngestOutcome(
        new=len(news),
        duplicates=len(events) - len(news),
        unmatched=sum(1 for n in news if n.outreach is None and not n.contact_points),
        contact_points_changed=changed,
        enrollments_due=due,
    )
