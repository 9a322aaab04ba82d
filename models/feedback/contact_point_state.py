"""What delivery events do to a contact point: bounced, invalid, opted out, or restored.

The rule does not depend on the order events arrive in: opted out beats bounced/invalid beats
everything else, and between opt-outs and opt-ins the one that *occurred* last wins (an opt-out
wins a tie). Every opt-out/opt-in a provider reports is kept as a ``contact_point.opt_*_signal``
audit row, which is the memory that makes a late-arriving old STOP lose to a START already seen.
An opt-in restores a contact point only when the opt-out it undoes was reported by the same
provider (the same channel) and no other opt-out was recorded after it; it returns to the status
it had before that opt-out, unless a hard bounce or an invalid-number report arrived meanwhile.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from models.audit import AUDIT_TABLE, AuditRow, audit_many
from models.feedback.event_records import StoredEvent, audit_row, chunks, iso
from models.tables import CONTACT
from models.vocabulary import (
    BOUNCED,
    INVALID,
    OPTED_OUT,
    STATUS_ACTION,
    USABLE_STATUSES,
    VALID,
    AuditAction,
)

# A contact point's delivery state (:func:`contact_state`), written in bulk: b_id, b_updated_at and
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


@dataclass(frozen=True, slots=True)
class _Signal:
    at: datetime
    out: bool
    provider: str
    new: StoredEvent | None  # None for a signal stored by an earlier ingestion


def _stored_signals(session: Session, cp_ids: list[int]) -> tuple[dict, dict]:
    """Earlier opt signals per contact point, and the status each had before its last opt-out."""
    signals: dict[int, list[_Signal]] = defaultdict(list)
    before: dict[int, tuple[datetime, str]] = {}
    actions = (OPT_OUT_SIGNAL, OPT_IN_SIGNAL, OPTED_OUT_ACTION)
    for chunk in chunks(cp_ids):
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


def contact_state(cp: Any) -> dict[str, Any]:
    return {
        "status": cp.status,
        "bounced_at": cp.bounced_at,
        "opted_out_at": cp.opted_out_at,
        "invalid_reason": cp.invalid_reason,
    }


def _after(hits: list[StoredEvent], fresh: datetime | None, flag: str) -> list[StoredEvent]:
    """The hits with ``flag`` set, oldest first, ignoring reports older than a verification."""
    found = [
        h for h in hits if getattr(h.event, flag) and (fresh is None or h.event.occurred_at > fresh)
    ]
    return sorted(found, key=lambda h: h.event.occurred_at)


def _provider_report(reason: str | None) -> bool:
    return reason is not None and PROVIDER_REPORT.fullmatch(reason) is not None


def _resolve(
    cp: Any, hits: list[StoredEvent], signals: list[_Signal], pre_opt_out: str | None
) -> tuple[dict[str, Any], StoredEvent | None]:
    """The contact point's new fields and the event that decided them (pure)."""
    state = contact_state(cp)
    fresh = cp.verified_at  # a report older than the last verification is about an old value
    bounces = _after(hits, fresh, "hard_bounce")
    invalids = _after(hits, fresh, "invalid_recipient")
    decisive: StoredEvent | None = None
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


def apply_contact_points(session: Session, news: list[StoredEvent], now: datetime) -> int:
    hits: dict[int, list[StoredEvent]] = defaultdict(list)
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
    for chunk in chunks(cp_ids):
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
                    audit_row(
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
        before = contact_state(cp)
        if state == before:
            continue
        action = _action(before, state)
        decisive = decisive or hits[cp_id][0]
        updates.append(
            {"b_id": cp_id, "b_updated_at": now, **{f"b_{k}": v for k, v in state.items()}}
        )
        audits.append(
            audit_row(
                decisive,
                now,
                action,
                "contact_point",
                cp_id,
                cp.profile_id,
                {k: iso(v) if isinstance(v, datetime) else v for k, v in before.items()},
                {k: iso(v) if isinstance(v, datetime) else v for k, v in state.items()},
                {},
            )
        )
    if updates:
        session.execute(CONTACT_STATE_UPDATE, updates)
    audit_many(session, audits)
    return len(updates)
