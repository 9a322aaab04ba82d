"""A provider event in our vocabulary, and what every effect of an ingested event shares: the
stored event it came from, chunked statements, and its audit row naming the provider as actor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.audit import AuditRow
from models.vocabulary import AuditAction

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
class StoredEvent:
    """A newly stored event with what it was tied to."""

    event: EventRecord
    row_id: int
    outreach: Any | None  # outreach row (id, contact_point_id, enrollment_id, step_index, status)
    contact_points: list[int] = field(default_factory=list)


def chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def evidence(new: StoredEvent) -> dict[str, Any]:
    return {
        "delivery_event_id": new.row_id,
        "provider_event_id": new.event.provider_event_id,
        "outreach_id": new.outreach.id if new.outreach is not None else None,
    }


def audit_row(
    new: StoredEvent,
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
        evidence={**evidence(new), **extra},
    )
