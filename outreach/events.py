"""Provider webhook payloads (SendGrid events, Twilio callbacks) mapped to our event vocabulary.

Data plus pure functions, after django-anymail: one dict per provider from its status to
:data:`models.vocabulary.EVENT_TYPES`, and a function per payload shape. An unknown status maps
to ``unknown`` and keeps the raw payload. An authentic but malformed event (a field of the wrong
type, an id out of range, text no database can store) becomes a
:class:`~models.feedback.rejected_events.RejectedEvent` with its reason: one malformed SendGrid
event never sinks its batch, and nothing malformed reaches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from models.feedback.delivery_events import EventRecord
from models.feedback.rejected_events import RejectedEvent, rejected_event
from outreach.webhook_signatures import WebhookPayloadError

# The event other layers receive; it is the models-level record so ingestion needs no mapping.
NormalisedEvent = EventRecord

__all__ = [
    "INVALID_RECIPIENT_CODES",
    "OPT_IN_WORDS",
    "OPT_OUT_CODES",
    "OPT_OUT_WORDS",
    "SENDGRID_EVENT_TYPES",
    "TWILIO_STATUS_TYPES",
    "MalformedEvent",
    "NormalisedEvent",
    "ParsedBatch",
    "WebhookPayloadError",
    "outreach_id_from",
    "parse_sendgrid_batch",
    "rejected_twilio_callback",
    "sendgrid_events",
    "twilio_inbound_event",
    "twilio_status_event",
]

SENDGRID: Final = "sendgrid"
TWILIO: Final = "twilio"

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

TWILIO_STATUS_TYPES: Final[dict[str, str]] = {
    "queued": "queued",
    "accepted": "queued",
    "scheduled": "queued",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "read": "opened",
    "canceled": "rejected",
}
# Error codes that say the number itself cannot take SMS: 21211 invalid number, 21612 not
# reachable by SMS, 21614 not a mobile number, 30005 unknown handset, 30006 landline or
# unreachable carrier. 30003 (handset switched off or out of range) is temporary: not here.
INVALID_RECIPIENT_CODES: Final = frozenset({21211, 21612, 21614, 30005, 30006})
# 21610: the recipient replied STOP earlier; Twilio refuses to send until they reply START.
OPT_OUT_CODES: Final = frozenset({21610})

OPT_OUT_WORDS: Final = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS: Final = frozenset({"START", "YES", "UNSTOP"})

# Bounded repeats: an unbounded one makes a long text without "@" take quadratic time.
_EMAIL_RE = re.compile(r"[^\s<>\"'(),;:@]{1,64}@[^\s<>\"'(),;:@]{1,255}")
_DETAIL_MAX = 1000
_ID_MAX = 200
# outreach.id is a 32-bit integer column (PostgreSQL's integer): a larger id names no outreach.
OUTREACH_ID_MAX: Final = 2**31 - 1
# The latest instant a datetime holds (year 9999), as a Unix time.
_UNIX_MAX: Final = 253402300799
# Longest value taken for each SendGrid field we read; longer means malformed.
_SENDGRID_TEXT_MAX: Final[dict[str, int]] = {
    "event": 64,
    "sg_event_id": _ID_MAX,
    "sg_message_id": _ID_MAX,
    "email": 320,
    "type": 64,
    "status": 64,
}
# Free text we read only into a truncated detail: any length, but it must be text.
_SENDGRID_FREE_TEXT: Final = ("reason", "response")
_TWILIO_SID_MAX: Final = 64
_TWILIO_TEXT_MAX: Final[dict[str, int]] = {
    "MessageStatus": 64,
    "SmsStatus": 64,
    "To": 64,
    "From": 64,
}
_TWILIO_SID = re.compile(r"[A-Za-z0-9_-]+")


class MalformedEvent(WebhookPayloadError):
    """An authentic event with a field we cannot take; the message is the terse reason."""


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A SendGrid batch: the events to ingest, and the ones refused with their reasons."""

    events: list[EventRecord] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


def _redact(text: str) -> str:
    """Bounce reasons quote the recipient's address; the detail column must not hold it."""
    return _EMAIL_RE.sub("<address>", text)


def _detail(*parts: object) -> str | None:
    text = " ".join(str(p).strip()[: 2 * _DETAIL_MAX] for p in parts if p not in (None, ""))
    return _redact(text)[:_DETAIL_MAX] or None


def _digits(value: str, max_len: int) -> int | None:
    text = value.strip()
    # str.isdigit() also accepts digits like "²" that int() refuses: ASCII only.
    if not text or len(text) > max_len or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def outreach_id_from(value: object) -> int | None:
    """Our outreach id from a custom arg or query parameter; None when absent.

    Raises :class:`MalformedEvent` for anything that cannot be one of our ids (text, a
    negative or a number past the column's range), rather than letting it reach the database.
    """
    if value is None or value == "":
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        number = _digits(value, len(str(OUTREACH_ID_MAX)))
    if number is None or not 1 <= number <= OUTREACH_ID_MAX:
        raise MalformedEvent("outreach_id is not an outreach id")
    return number


def _unix_time(value: object) -> datetime | None:
    """A Unix timestamp; None when absent. Raises :class:`MalformedEvent` for anything else."""
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, str):
        number = _digits(value, 12)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    if number is None or not 0 <= number <= _UNIX_MAX:  # NaN fails both comparisons
        raise MalformedEvent("timestamp is not a Unix time")
    return datetime.fromtimestamp(number, UTC)


def _storable(value: object) -> bool:
    """Whether every text inside ``value`` can be stored: PostgreSQL refuses NUL characters,
    and no database encodes an unpaired surrogate (JSON's "\\ud800")."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return True


def _text(item: Mapping[str, Any], name: str, max_len: int | None) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{name} is not text")
    if max_len is not None and len(value) > max_len:
        raise MalformedEvent(f"{name} is too long")
    return value


def _now(received_at: datetime | None) -> datetime:
    if received_at is None:
        return datetime.now(UTC)
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(UTC)


def _fallback_id(raw: object) -> str:
    # Deterministic, so a retried batch still deduplicates on it.
    canonical = json.dumps(raw, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _sendgrid_event(item: Mapping[str, Any], received_at: datetime) -> EventRecord:
    """One SendGrid event; raises :class:`MalformedEvent` naming the first field we refuse."""
    if not _storable(item):
        raise MalformedEvent("event holds text that cannot be stored")
    text = {name: _text(item, name, limit) for name, limit in _SENDGRID_TEXT_MAX.items()}
    free = {name: _text(item, name, None) for name in _SENDGRID_FREE_TEXT}
    name = text["event"]
    if not name:
        raise MalformedEvent("event has no event name")
    outreach_id = outreach_id_from(item.get("outreach_id"))
    occurred_at = _unix_time(item.get("timestamp")) or received_at
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
        provider_event_id=event_id or _fallback_id(item),
        event_type=event_type,
        outreach_id=outreach_id,
        # sg_message_id is the send's X-Message-Id plus a per-recipient suffix after a dot.
        provider_message_id=message_id.split(".", 1)[0] if message_id else None,
        occurred_at=occurred_at,
        recipient=text["email"] or None,
        detail=_detail(
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
    now = _now(received_at)
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


def _check_twilio_form(form: Mapping[str, str]) -> str:
    """The message SID of a well-formed callback; raises :class:`WebhookPayloadError`."""
    if not _storable(dict(form)):
        raise MalformedEvent("callback holds text that cannot be stored")
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise WebhookPayloadError("Twilio callback without MessageSid")
    if len(sid) > _TWILIO_SID_MAX or not _TWILIO_SID.fullmatch(sid):
        raise MalformedEvent("MessageSid is not a message id")
    for name, limit in _TWILIO_TEXT_MAX.items():
        if len(form.get(name) or "") > limit:
            raise MalformedEvent(f"{name} is too long")
    return sid


def rejected_twilio_callback(form: Mapping[str, str], reason: str) -> RejectedEvent:
    """The record of an authentic Twilio callback we refused."""
    return rejected_event(provider=TWILIO, reason=reason, raw=dict(form))


def _error_code(form: Mapping[str, str]) -> int | None:
    value = form.get("ErrorCode") or ""
    if not value.strip():
        return None
    code = _digits(value, 9)
    if code is None:
        raise MalformedEvent("ErrorCode is not a number")
    return code


def twilio_status_event(
    form: Mapping[str, str], outreach_id: int | None, *, received_at: datetime | None = None
) -> EventRecord:
    """Map a Twilio status callback; ``outreach_id`` is the ``oid`` query parameter we set.

    Twilio sends no event time, so ``occurred_at`` is ``received_at`` (default: now). A
    malformed callback raises :class:`WebhookPayloadError` (:class:`MalformedEvent` when it
    has a field we refuse).
    """
    sid = _check_twilio_form(form)
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    code = _error_code(form)
    return EventRecord(
        provider=TWILIO,
        provider_event_id=f"{sid}:{status or 'none'}",
        event_type=TWILIO_STATUS_TYPES.get(status, "unknown"),
        outreach_id=outreach_id,
        provider_message_id=sid,
        occurred_at=_now(received_at),
        recipient=form.get("To") or None,
        detail=_detail(
            status if status not in TWILIO_STATUS_TYPES else None,
            f"error {code}" if code is not None else None,
        ),
        opt_out=code in OPT_OUT_CODES,
        invalid_recipient=code in INVALID_RECIPIENT_CODES,
        error_code=code,
        raw=dict(form),
    )


def _keyword(body: str) -> tuple[str, bool]:
    """(first word of the body, upper-cased and stripped of punctuation; body is one word)."""
    words = body.strip().upper().split()
    if not words:
        return "", False
    return words[0].strip(".,;:!?\"'()"), len(words) == 1


def twilio_inbound_event(
    form: Mapping[str, str], *, received_at: datetime | None = None
) -> EventRecord:
    """Map an inbound SMS; flags opt-out and opt-in keywords (the body itself stays in raw).

    Opt-out is read from the first word ("Stop please" stops: erring towards silence is
    safe); opt-in needs the whole body to be the keyword, as Twilio does, because a reply like
    "Yes that is my number" must not undo a STOP. ``OptOutType`` (Advanced Opt-Out) counts too.
    A malformed callback raises :class:`WebhookPayloadError`, as for status callbacks.
    """
    sid = _check_twilio_form(form)
    word, single = _keyword(form.get("Body") or "")
    opt_type = (form.get("OptOutType") or "").strip().upper()
    opt_out = word in OPT_OUT_WORDS or opt_type == "STOP"
    opt_in = not opt_out and ((single and word in OPT_IN_WORDS) or opt_type == "START")
    return EventRecord(
        provider=TWILIO,
        provider_event_id=sid,
        event_type="inbound",
        outreach_id=None,
        provider_message_id=sid,
        occurred_at=_now(received_at),
        recipient=form.get("From") or None,
        detail=("opt-out keyword" if opt_out else "opt-in keyword" if opt_in else None),
        opt_out=opt_out,
        opt_in=opt_in,
        raw=dict(form),
    )
