"""Provider webhook payloads (SendGrid events, Twilio callbacks) mapped to our event vocabulary.

Data plus pure functions, after django-anymail: one dict per provider from its status to
:data:`models.vocabulary.EVENT_TYPES`, and a function per payload shape. An unknown status maps
to ``unknown`` and keeps the raw payload; one malformed SendGrid event never sinks its batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from models.delivery import EventRecord
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
    "NormalisedEvent",
    "WebhookPayloadError",
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

_EMAIL_RE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_DETAIL_MAX = 1000
_ID_MAX = 200


def _redact(text: str) -> str:
    """Bounce reasons quote the recipient's address; the detail column must not hold it."""
    return _EMAIL_RE.sub("<address>", text)


def _detail(*parts: object) -> str | None:
    text = " ".join(str(p).strip() for p in parts if p not in (None, ""))
    return _redact(text)[:_DETAIL_MAX] or None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _unix_time(value: object) -> datetime | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


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
    name = str(item.get("event") or "")
    event_type = SENDGRID_EVENT_TYPES.get(name, "unknown")
    bounce_type = str(item.get("type") or "").lower()
    reason = item.get("reason") or item.get("response")
    hard_bounce = opt_out = opt_in = invalid = False
    if name == "bounce":
        # "blocked" is a refusal for this message (reputation, content, policy), not a dead
        # address; SendGrid will not retry it, so it is "failed" and the address stays usable.
        hard_bounce = bounce_type != "blocked"
        if not hard_bounce:
            event_type = "failed"
    elif name == "dropped":
        drop = str(reason or "").strip().lower()
        hard_bounce = drop in SENDGRID_DROP_BOUNCE
        invalid = drop in SENDGRID_DROP_INVALID
        opt_out = drop in SENDGRID_DROP_OPT_OUT
    opt_out = opt_out or name in SENDGRID_OPT_OUT_EVENTS
    opt_in = name in SENDGRID_OPT_IN_EVENTS
    occurred_at = _unix_time(item.get("timestamp")) or received_at
    event_id = item.get("sg_event_id")
    message_id = item.get("sg_message_id")
    return EventRecord(
        provider=SENDGRID,
        provider_event_id=str(event_id)[:_ID_MAX] if event_id else _fallback_id(item),
        event_type=event_type,
        outreach_id=_int_or_none(item.get("outreach_id")),
        # sg_message_id is the send's X-Message-Id plus a per-recipient suffix after a dot.
        provider_message_id=str(message_id).split(".", 1)[0] if message_id else None,
        occurred_at=occurred_at,
        recipient=str(item["email"]) if item.get("email") else None,
        detail=_detail(
            name if event_type == "unknown" else None,
            bounce_type or None,
            item.get("status"),
            reason,
            None if event_id else "(no sg_event_id)",
        ),
        hard_bounce=hard_bounce,
        opt_out=opt_out,
        opt_in=opt_in,
        invalid_recipient=invalid,
        raw=dict(item),
    )


def sendgrid_events(payload: object, *, received_at: datetime | None = None) -> list[EventRecord]:
    """Map a SendGrid Event Webhook body (a JSON array) to events, one per element.

    A malformed element becomes an ``unknown`` event carrying it in ``raw``; a body that is not
    an array raises :class:`WebhookPayloadError`. ``received_at`` stands in for a missing
    ``timestamp``.
    """
    if not isinstance(payload, list):
        raise WebhookPayloadError("SendGrid events must be a JSON array")
    now = _now(received_at)
    events: list[EventRecord] = []
    for item in payload:
        if isinstance(item, Mapping):
            events.append(_sendgrid_event(item, now))
        else:
            events.append(
                EventRecord(
                    provider=SENDGRID,
                    provider_event_id=_fallback_id(item),
                    event_type="unknown",
                    outreach_id=None,
                    provider_message_id=None,
                    occurred_at=now,
                    detail="malformed event (not an object)",
                    raw={"malformed": item},
                )
            )
    return events


def _require_sid(form: Mapping[str, str]) -> str:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise WebhookPayloadError("Twilio callback without MessageSid")
    return sid[:_ID_MAX]


def twilio_status_event(
    form: Mapping[str, str], outreach_id: int | None, *, received_at: datetime | None = None
) -> EventRecord:
    """Map a Twilio status callback; ``outreach_id`` is the ``oid`` query parameter we set.

    Twilio sends no event time, so ``occurred_at`` is ``received_at`` (default: now).
    """
    sid = _require_sid(form)
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    code = _int_or_none(form.get("ErrorCode"))
    return EventRecord(
        provider=TWILIO,
        provider_event_id=f"{sid}:{status or 'none'}"[:_ID_MAX],
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
    """
    sid = _require_sid(form)
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
