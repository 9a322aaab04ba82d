"""A provider's suppression lists applied to email contact points: one set-based, audited pass.

Each entry says what its list means here (:attr:`SuppressionEntry.effect`): ``bounced``
(``bounced_at`` = entry time), ``invalid``, ``opted_out``, or nothing for a list of temporary
refusals, which is counted but changes nothing. The provider's module maps its own lists.

The same rules as webhook events (``models.feedback.delivery_events``): opted out beats
bounced/invalid beats a usable status and nothing is ever resurrected; an entry no newer than the
point's last verification is about an older state of the mailbox and is ignored. Addresses match
case- insensitively. A second run with the same entries changes nothing and audits nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.audit import AuditRow, audit_many
from models.feedback.contact_point_state import CONTACT_STATE_UPDATE, contact_state
from models.feedback.event_records import chunks, iso
from models.tables import CONTACT
from models.vocabulary import (
    BOUNCED,
    INVALID,
    OPTED_OUT,
    STATUS_ACTION,
    USABLE_STATUSES,
    AuditAction,
)

# Applied in this order, so the stronger status is the one left standing.
_ORDER: Final = (INVALID, BOUNCED, OPTED_OUT)


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """One row of a provider's suppression list."""

    email: str = field(repr=False)  # personal: never log it
    provider: str
    list_name: str  # the provider's name for the list, kept in the audit evidence
    effect: str | None  # bounced | invalid | opted_out; None: the list changes nothing
    created: datetime | None = None
    status: str | None = None  # e.g. the SMTP code "5.1.1"; the reason text is not kept


@dataclass(frozen=True, slots=True)
class ListCounts:
    entries: int = 0  # rows in the list
    matched: int = 0  # contact points those rows name
    changed: int = 0  # contact points this list changed


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    lists: dict[str, ListCounts]  # by the provider's list name; a list with no entries is absent

    @property
    def changed(self) -> int:
        return sum(c.changed for c in self.lists.values())


def _fresh(entry: SuppressionEntry, cp: Any) -> bool:
    """False when the point was verified at or after the entry (proof of a working mailbox)."""
    return cp.verified_at is None or entry.created is None or entry.created > cp.verified_at


def _apply(state: dict[str, Any], entry: SuppressionEntry) -> bool:
    """Apply one entry to a contact point's fields (pure); True when it changed them."""
    effect = entry.effect
    status = state["status"]
    at = entry.created
    if effect == OPTED_OUT and status != OPTED_OUT:
        state["status"], state["opted_out_at"] = OPTED_OUT, state["opted_out_at"] or at
    elif effect == BOUNCED and status in USABLE_STATUSES:
        state["status"], state["bounced_at"] = BOUNCED, at or state["bounced_at"]
    elif effect == INVALID and status in USABLE_STATUSES:
        state["status"], state["invalid_reason"] = INVALID, f"{entry.provider} {entry.list_name}"
    else:
        return False
    return True


def _action(status: str) -> AuditAction:
    """The same actions webhook events write, so a contact point's history reads as one."""
    return STATUS_ACTION[status]


def audit_row(
    cp: Any, before: dict, after: dict, entry: SuppressionEntry, now: datetime, actor: str
) -> AuditRow:
    evidence: dict[str, Any] = {"list": entry.list_name, "created": iso(entry.created)}
    if entry.status:
        evidence["status"] = entry.status
    return AuditRow(
        at=now,
        actor=actor,
        action=_action(after["status"]),
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before={k: iso(v) if isinstance(v, datetime) else v for k, v in before.items()},
        after={k: iso(v) if isinstance(v, datetime) else v for k, v in after.items()},
        reason=f"{entry.provider} suppression list: {entry.list_name}",
        evidence=evidence,
    )


def apply_suppressions(
    conn: Connection | Session,
    entries: Sequence[SuppressionEntry],
    *,
    now: datetime,
    actor: str,
) -> SyncOutcome:
    """Mark the email contact points the lists name; runs inside the caller's transaction."""
    by_email: dict[str, list[SuppressionEntry]] = defaultdict(list)
    entry_counts: dict[str, int] = defaultdict(int)
    for e in entries:
        entry_counts[e.list_name] += 1
        if e.email.strip():
            by_email[e.email.strip().lower()].append(e)
    lowered = func.lower(CONTACT.c.value)
    cps: list[Any] = []
    for chunk in chunks(sorted(by_email)):
        query = (
            select(CONTACT, lowered.label("lowered"))
            .where(CONTACT.c.kind == "email", lowered.in_(chunk))
            .with_for_update()
        )
        cps.extend(conn.execute(query))
    matched: dict[str, int] = defaultdict(int)
    changed: dict[str, int] = defaultdict(int)
    updates: list[dict[str, Any]] = []
    audits: list[AuditRow] = []
    for cp in cps:
        found = by_email[cp.lowered]
        for name in {e.list_name for e in found}:
            matched[name] += 1
        before = contact_state(cp)
        after = dict(before)
        decisive: SuppressionEntry | None = None
        for effect in _ORDER:
            for entry in sorted(
                (e for e in found if e.effect == effect and _fresh(e, cp)),
                key=lambda e: (e.created is None, e.created),
            ):
                if _apply(after, entry):
                    decisive = entry
        if decisive is None or after == before:
            continue
        changed[decisive.list_name] += 1
        updates.append(
            {"b_id": cp.id, "b_updated_at": now, **{f"b_{k}": v for k, v in after.items()}}
        )
        audits.append(audit_row(cp, before, after, decisive, now, actor))
    if updates:
        conn.execute(CONTACT_STATE_UPDATE, updates)
        audit_many(conn, audits)
    return SyncOutcome(
        lists={
            name: ListCounts(entry_counts[name], matched[name], changed[name])
            for name in entry_counts
        }
    )
