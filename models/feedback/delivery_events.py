"""Ingesting provider delivery events: stored once per (provider, event id), effects applied once.

The rule for a contact point does not depend on the order events arrive in: opted out beats
bounced/invalid beats everything else, and between opt-outs and opt-ins the one that *occurred*
last wins (an opt-out wins a tie). Every opt-out/opt-in a provider reports is kept as a
``contact_point.opt_*_signal`` audit row, which is the memory that makes a late-arriving old
STOP lose to a START already seen. Only a newly stored event can change anything, so a replayed
webhook changes nothing. An opt-in restores a contact point only when the opt-out it undoes was
reported by the same provider (the same channel) and no other opt-out was recorded after it;
it returns to the status it had before that opt-out, unless a hard bounce or an invalid-number
report arrived meanwhile.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.audit import AUDIT_TABLE, AuditRow, audit_many
from models.tables import CONTACT, DELIVERY, ENROLLMENT, OUTREACH
from models.vocabulary import (
    ACTIVE,
    BOUNCED,
    FAILED,
    INVALID,
    OPTED_OUT,
    SENT,
    STATUS_ACTION,
    USABLE_STATUSES,
    VALID,
    AuditAction,
)

# A contact point's delivery state (:func:`_state`), written in bulk: b_id, b_updated_at and
# b_ plus each state key.
CONTACT_STATE_UPDATE = (
    update(CONTACT)
    .where(CONTACT.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        bounced_at=bindparam("b_bounced_at"),
        opted_out_at=bindparam("b_opted_out_at"),
        invalid_reason=bindparam("b_invalid_reason"),
        updated_at=bindparam("b_updated_at"),
    )
)

OPT_OUT_SIGNAL = AuditAction.CONTACT_POINT_OPT_OUT_SIGNAL
OPT_IN_SIGNAL = AuditAction.CONTACT_POINT_OPT_IN_SIGNAL
OPTED_OUT_ACTION = AuditAction.CONTACT_POINT_OPTED_OUT
# A provider's report that a number takes no messages is kept as the invalid_reason
# "<provider> error <code>"; validation and returned letters word their reasons otherwise.
PROVIDER_REPORT = re.compile(r"[a-z_]+ error \S+")
FAILED_EVENT_TYPES = frozenset({"bounced", "failed", "rejected"})
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One provider event in our vocabulary (built by the parsers in ``outreach.providers``)."""

    provider: str
    provider_event_id: str
    event_type: str
    outreach_id: int | None
    provider_message_id: str | None
    occurred_at: datetime
    recipient: str | None = field(default=None, repr=False)  # personal: never log it
    # The contact-point kind the recipient address names ("email", "mobile"), if any.
    recipient_kind: str | None = None
    detail: str | None = None
    hard_bounce: bool = False
    opt_out: bool = False
    opt_in: bool = False
    invalid_recipient: bool = False
    error_code: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    new: int
    duplicates: int
    unmatched: int
    contact_points_changed: int = 0
    enrollments_due: int = 0


@dataclass(slots=True)
class _New:
    """A newly stored event with what it was tied to."""

    event: EventRecord
    row_id: int
    outreach: Any | None  # outreach row (id, contact_point_id, enrollment_id, step_index, status)
    contact_points: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Signal:
    at: datetime
    out: bool
    provider: str
    new: _New | None  # None for a signal stored by an earlier ingestion


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _evidence(new: _New) -> dict[str, Any]:
    return {
        "delivery_event_id": new.row_id,
        "provider_event_id": new.event.provider_event_id,
        "outreach_id": new.outreach.id if new.outreach is not None else None,
    }


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
    for chunk in _chunks(ids):
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
    for chunk in _chunks(pmids):
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
    for chunk in _chunks(rows):
        stmt = (
            insert(DELIVERY)
            .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
            .returning(DELIVERY.c.id, DELIVERY.c.provider, DELIVERY.c.provider_event_id)
        )
        for r in session.execute(stmt, list(chunk)):
            inserted[(r.provider, r.provider_event_id)] = r.id
    return inserted


def _match_recipients(session: Session, news: list[_New]) -> None:
    """Tie opt-outs, opt-ins and inbound messages without a known outreach to contact points."""
    wanted: dict[tuple[str, str], list[_New]] = defaultdict(list)
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
        for chunk in _chunks(values):
            query = select(CONTACT.c.id, column.label("v")).where(
                CONTACT.c.kind == kind, column.in_(chunk)
            )
            for r in session.execute(query):
                for n in wanted[(kind, r.v)]:
                    n.contact_points.append(r.id)


def _stored_signals(session: Session, cp_ids: list[int]) -> tuple[dict, dict]:
    """Earlier opt signals per contact point, and the status each had before its last opt-out."""
    signals: dict[int, list[_Signal]] = defaultdict(list)
    before: dict[int, tuple[datetime, str]] = {}
    actions = (OPT_OUT_SIGNAL, OPT_IN_SIGNAL, OPTED_OUT_ACTION)
    for chunk in _chunks(cp_ids):
        query = select(
            AUDIT_TABLE.c.entity_id,
            AUDIT_TABLE.c.action,
            AUDIT_TABLE.c.at,
            AUDIT_TABLE.c.before,
            AUDIT_TABLE.c.evidence,
        ).where(
            AUDIT_TABLE.c.entity_type == "contact_point",
            AUDIT_TABLE.c.entity_id.in_(chunk),
            AUDIT_TABLE.c.action.in_(actions),
        )
        for r in session.execute(query):
            if r.action == OPTED_OUT_ACTION:
                status = (r.before or {}).get("status")
                if (
                    status
                    and status != OPTED_OUT
                    and (r.entity_id not in before or before[r.entity_id][0] < r.at)
                ):
                    before[r.entity_id] = (r.at, status)
                continue
            ev = r.evidence or {}
            signals[r.entity_id].append(
                _Signal(
                    at=datetime.fromisoformat(ev["occurred_at"]),
                    out=r.action == OPT_OUT_SIGNAL,
                    provider=ev.get("provider", ""),
                    new=None,
                )
            )
    return signals, {k: v[1] for k, v in before.items()}


def _state(cp: Any) -> dict[str, Any]:
    return {
        "status": cp.status,
        "bounced_at": cp.bounced_at,
        "opted_out_at": cp.opted_out_at,
        "invalid_reason": cp.invalid_reason,
    }


def _after(hits: list[_New], fresh: datetime | None, flag: str) -> list[_New]:
    """The hits with ``flag`` set, oldest first, ignoring reports older than a verification."""
    found = [
        h for h in hits if getattr(h.event, flag) and (fresh is None or h.event.occurred_at > fresh)
    ]
    return sorted(found, key=lambda h: h.event.occurred_at)


def _provider_report(reason: str | None) -> bool:
    return reason is not None and PROVIDER_REPORT.fullmatch(reason) is not None


def _resolve(
    cp: Any, hits: list[_New], signals: list[_Signal], pre_opt_out: str | None
) -> tuple[dict[str, Any], _New | None]:
    """The contact point's new fields and the event that decided them (pure)."""
    state = _state(cp)
    fresh = cp.verified_at  # a report older than the last verification is about an old value
    bounces = _after(hits, fresh, "hard_bounce")
    invalids = _after(hits, fresh, "invalid_recipient")
    decisive: _New | None = None
    if bounces:
        known = (
            cp.bounced_at if cp.bounced_at and (fresh is None or cp.bounced_at > fresh) else None
        )
        first = bounces[0].event.occurred_at
        state["bounced_at"] = min(known, first) if known else first
        decisive = bounces[0]
    if invalids and not _provider_report(cp.invalid_reason):
        first_invalid = invalids[0].event
        state["invalid_reason"] = f"{first_invalid.provider} error {first_invalid.error_code}"
        decisive = decisive or invalids[0]
    latest = max(signals, key=lambda s: (s.at, s.out), default=None)
    restoring = False
    # Only a signal stored now may act: an old one was already applied, or since overridden
    # by the customer on the landing page.
    if latest is not None and latest.new is not None and latest.out:
        if cp.status != OPTED_OUT or cp.opted_out_at is None or cp.opted_out_at < latest.at:
            state["status"], state["opted_out_at"] = OPTED_OUT, latest.at
            decisive = latest.new
    elif (
        latest is not None
        and latest.new is not None
        and cp.status == OPTED_OUT
        and (cp.opted_out_at is None or cp.opted_out_at <= latest.at)
        and any(s.out and s.provider == latest.provider for s in signals)
    ):
        state["status"], state["opted_out_at"] = pre_opt_out or VALID, None
        decisive, restoring = latest.new, True
    if state["status"] in USABLE_STATUSES:
        if (
            (bounces or restoring)
            and state["bounced_at"] is not None
            and (fresh is None or state["bounced_at"] > fresh)
        ):
            state["status"] = BOUNCED
        elif (
            (invalids or restoring)
            and cp.kind == "mobile"
            and _provider_report(state["invalid_reason"])
        ):
            state["status"] = INVALID
    return state, decisive


def _action(before: dict[str, Any], after: dict[str, Any]) -> AuditAction:
    if after["status"] != before["status"]:
        restored = before["status"] == OPTED_OUT
        return AuditAction.CONTACT_POINT_RESTORED if restored else STATUS_ACTION[after["status"]]
    if after["opted_out_at"] != before["opted_out_at"]:
        return OPTED_OUT_ACTION
    return STATUS_ACTION[BOUNCED if after["bounced_at"] != before["bounced_at"] else INVALID]


def _apply_contact_points(session: Session, news: list[_New], now: datetime) -> int:
    hits: dict[int, list[_New]] = defaultdict(list)
    for n in news:
        targets = n.contact_points or (
            [n.outreach.contact_point_id]
            if n.outreach is not None and n.outreach.contact_point_id is not None
            else []
        )
        n.contact_points = targets
        e = n.event
        if e.hard_bounce or e.invalid_recipient or e.opt_out or e.opt_in:
            for cp_id in targets:
                hits[cp_id].append(n)
    if not hits:
        return 0
    cp_ids = sorted(hits)
    cps: dict[int, Any] = {}
    for chunk in _chunks(cp_ids):
        # Lock the rows (PostgreSQL) so a concurrent batch reads our signals after we commit.
        query = select(CONTACT).where(CONTACT.c.id.in_(chunk)).with_for_update()
        cps.update({r.id: r for r in session.execute(query)})
    signals, pre = _stored_signals(session, cp_ids)
    audits: list[AuditRow] = []
    updates: list[dict[str, Any]] = []
    for cp_id in cp_ids:
        cp = cps[cp_id]
        for n in hits[cp_id]:
            if n.event.opt_out or n.event.opt_in:
                signals[cp_id].append(
                    _Signal(n.event.occurred_at, n.event.opt_out, n.event.provider, n)
                )
                audits.append(
                    _audit_row(
                        n,
                        now,
                        OPT_OUT_SIGNAL if n.event.opt_out else OPT_IN_SIGNAL,
                        "contact_point",
                        cp_id,
                        cp.profile_id,
                        None,
                        None,
                        {
                            "occurred_at": n.event.occurred_at.isoformat(),
                            "provider": n.event.provider,
                        },
                    )
                )
        state, decisive = _resolve(cp, hits[cp_id], signals[cp_id], pre.get(cp_id))
        before = _state(cp)
        if state == before:
            continue
        action = _action(before, state)
        decisive = decisive or hits[cp_id][0]
        updates.append(
            {"b_id": cp_id, "b_updated_at": now, **{f"b_{k}": v for k, v in state.items()}}
        )
        audits.append(
            _audit_row(
                decisive,
                now,
                action,
                "contact_point",
                cp_id,
                cp.profile_id,
                {k: _iso(v) if isinstance(v, datetime) else v for k, v in before.items()},
                {k: _iso(v) if isinstance(v, datetime) else v for k, v in state.items()},
                {},
            )
        )
    if updates:
        session.execute(CONTACT_STATE_UPDATE, updates)
    audit_many(session, audits)
    return len(updates)


def _audit_row(
    new: _New,
    now: datetime,
    action: AuditAction,
    entity_type: str,
    entity_id: int | None,
    profile_id: int | None,
    before: Any,
    after: Any,
    extra: dict[str, Any],
) -> AuditRow:
    return AuditRow(
        at=now,
        actor=f"provider:{new.event.provider}",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        profile_id=profile_id,
        before=before,
        after=after,
        reason=(new.event.detail or new.event.event_type)[:500],
        evidence={**_evidence(new), **extra},
    )


def _step(new: _New) -> int | None:
    return new.outreach.step_index if new.outreach is not None else None


def _nudge_enrollments(session: Session, news: list[_New], now: datetime) -> int:
    """A hard bounce or dead number makes the enrollment's next step due at once."""
    by_enrollment: dict[int, _New] = {}  # enrollment id -> first bounce of an outreach
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
    for chunk in _chunks(sorted(by_enrollment)):
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
            _audit_row(
                by_enrollment[r.id],
                now,
                AuditAction.ENROLLMENT_DUE_NOW,
                "enrollment",
                r.id,
                r.profile_id,
                {"next_due_at": _iso(r.next_due_at)},
                {"next_due_at": now.isoformat()},
                {},
            )
            for r in due
        ],
    )
    return len(due)


def _fail_outreaches(session: Session, news: list[_New], now: datetime) -> None:
    """A sent message the provider reports as bounced, failed or rejected becomes failed."""
    first: dict[int, _New] = {}
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
            _audit_row(
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
        _New(event=e, row_id=inserted[key], outreach=outreach_of(e))
        for key, e in unique.items()
        if key in inserted
    ]
    _match_recipients(session, news)
    changed = _apply_contact_points(session, news, now)
    due = _nudge_enrollments(session, news, now)
    _fail_outreaches(session, news, now)
    return IngestOutcome(
        new=len(news),
        duplicates=len(events) - len(news),
        unmatched=sum(1 for n in news if n.outreach is None and not n.contact_points),
        contact_points_changed=changed,
        enrollments_due=due,
    )
