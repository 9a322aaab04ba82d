"""SendGrid Event Webhook batches mapped to our event vocabulary.

Data plus pure functions, after django-anymail: one dict from SendGrid's event to
:data:`models.vocabulary.EVENT_TYPES`, and a function per payload shape. An unknown event maps to
``unknown`` and keeps the raw payload. One malformed event never sinks its batch: it is returned
as rejected, with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from models.feedback.event_records import EventRecord
from models.feedback.rejected_events import RejectedEvent, rejected_event
from outreach.providers.event_fields import (
    ID_MAX,
    MalformedEvent,
    bounded_detail,
    fallback_id,
    outreach_id_from,
    received_time,
    storable,
    text_field,
    unix_time,
)
from outreach.providers.webhook_errors import WebhookPayloadError

SENDGRID: Final = "sendgrid"

SENDGRID_EVENT_TYPES: Final[dict[str, str]] = {
    "processed": "queued",
    "dropped": "rejected",
    "deferred": "deferred",
    "delivered": "delivered",
    "bounce": "bounced",  # type "blocked" is re-mapped to "failed" below
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    # The vocabulary has no "subscribed"; the opt_in flag carries the meaning.
    "group_resubscribe": "unknown",
}

SENDGRID_OPT_OUT_EVENTS: Final = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})

SENDGRID_OPT_IN_EVENTS: Final = frozenset({"group_resubscribe"})

# A "dropped" event names why SendGrid would not even try: its suppression lists.
SENDGRID_DROP_OPT_OUT: Final = frozenset({"unsubscribed address", "spam reporting address"})

SENDGRID_DROP_BOUNCE: Final = frozenset({"bounced address"})

SENDGRID_DROP_INVALID: Final = frozenset({"invalid"})

# Longest value taken for each SendGrid field we read; longer means malformed.
_SENDGRID_TEXT_MAX: Final[dict[str, int]] = {
    "event": 64,
    "sg_event_id": ID_MAX,
    "sg_message_id": ID_MAX,
    "email": 320,
    "type": 64,
    "status": 64,
}

# Free text we read only into a truncated detail: any length, but it must be text.
_SENDGRID_FREE_TEXT: Final = ("reason", "response")


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A SendGrid batch: the events to ingest, and the ones refused with their reasons."""

    events: list[EventRecord] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


def _sendgrid_event(item: Mapping[str, Any], received_at: datetime) -> EventRecord:
    """One SendGrid event; raises :class:`MalformedEvent` naming the first field we refuse."""
    if not storable(item):
        raise MalformedEvent("event holds text that cannot be stored")
    text = {name: text_field(item, name, limit) for name, limit in _SENDGRID_TEXT_MAX.items()}
    free = {name: text_field(item, name, None) for name in _SENDGRID_FREE_TEXT}
    name = text["event"]
    if not name:
        raise MalformedEvent("event has no event name")
    outreach_id = outreach_id_from(item.get("outreach_id"))
    occurred_at = unix_time(item.get("timestamp")) or received_at
    event_type = SENDGRID_EVENT_TYPES.get(name, "unknown")
    bounce_type = (text["type"] or "").lower()
    reason = free["reason"] or free["response"]
    hard_bounce = opt_out = opt_in = invalid = False
    if name == "bounce":
        # "blocked" is a refusal for this message (reputation, content, policy), not a dead
        # address; SendGrid will not retry it, so it is "failed" and the address stays usable.
        hard_bounce = bounce_type != "blocked"
        if not hard_bounce:
            event_type = "failed"
    elif name == "dropped":
        drop = (reason or "").strip().lower()
        hard_bounce = drop in SENDGRID_DROP_BOUNCE
        invalid = drop in SENDGRID_DROP_INVALID
        opt_out = drop in SENDGRID_DROP_OPT_OUT
    opt_out = opt_out or name in SENDGRID_OPT_OUT_EVENTS
    opt_in = name in SENDGRID_OPT_IN_EVENTS
    event_id = text["sg_event_id"]
    message_id = text["sg_message_id"]
    return EventRecord(
        provider=SENDGRID,
        provider_event_id=event_id or fallback_id(item),
        event_type=event_type,
        outreach_id=outreach_id,
        # sg_message_id is the send's X-Message-Id plus a per-recipient suffix after a dot.
        provider_message_id=message_id.split(".", 1)[0] if message_id else None,
        occurred_at=occurred_at,
        recipient=text["email"] or None,
        recipient_kind="email",
        detail=bounded_detail(
            name if event_type == "unknown" else None,
            bounce_type or None,
            text["status"],
            reason,
            None if event_id else "(no sg_event_id)",
        ),
        hard_bounce=hard_bounce,
        opt_out=opt_out,
        opt_in=opt_in,
        invalid_recipient=invalid,
        raw=dict(item),
    )


def parse_sendgrid_batch(payload: object, *, received_at: datetime | None = None) -> ParsedBatch:
    """Map a SendGrid Event Webhook body (a JSON array) to events, one per element.

    An element that is not an object, or has a field we refuse, goes to ``rejected`` with the
    reason; the others are events. A body that is not an array raises
    :class:`WebhookPayloadError`. ``received_at`` stands in for a missing ``timestamp``.
    """
    if not isinstance(payload, list):
        raise WebhookPayloadError("SendGrid events must be a JSON array")
    now = received_time(received_at)
    batch = ParsedBatch()
    for item in payload:
        try:
            if not isinstance(item, dict):
                raise MalformedEvent("event is not an object")
            batch.events.append(_sendgrid_event(item, now))
        except MalformedEvent as err:
            batch.rejected.append(rejected_event(provider=SENDGRID, reason=str(err), raw=item))
    return batch


def sendgrid_events(payload: object, *, received_at: datetime | None = None) -> list[EventRecord]:
    """The events of :func:`parse_sendgrid_batch`, for callers that ingest well-formed batches."""
    return parse_sendgrid_batch(payload, received_at=received_at).events
