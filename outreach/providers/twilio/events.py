"""Twilio status callbacks and inbound messages mapped to our event vocabulary.

Data plus pure functions: one dict from Twilio's message status to
:data:`models.vocabulary.EVENT_TYPES`, the error codes that mean the number cannot take SMS, and
the STOP/START keywords. A malformed callback raises, or becomes a rejected event with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from models.feedback.event_records import EventRecord
from models.feedback.rejected_events import RejectedEvent, rejected_event
from outreach.providers.event_fields import (
    MalformedEvent,
    ascii_digits,
    bounded_detail,
    received_time,
    storable,
)
from outreach.providers.webhook_errors import WebhookPayloadError

TWILIO: Final = "twilio"

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

_TWILIO_SID_MAX: Final = 64

_TWILIO_TEXT_MAX: Final[dict[str, int]] = {
    "MessageStatus": 64,
    "SmsStatus": 64,
    "To": 64,
    "From": 64,
}

_TWILIO_SID = re.compile(r"[A-Za-z0-9_-]+")


def _check_twilio_form(form: Mapping[str, str]) -> str:
    """The message SID of a well-formed callback; raises :class:`WebhookPayloadError`."""
    if not storable(dict(form)):
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
    code = ascii_digits(value, 9)
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
        occurred_at=received_time(received_at),
        recipient=form.get("To") or None,
        recipient_kind="mobile",
        detail=bounded_detail(
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
        occurred_at=received_time(received_at),
        recipient=form.get("From") or None,
        recipient_kind="mobile",
        detail=("opt-out keyword" if opt_out else "opt-in keyword" if opt_in else None),
        opt_out=opt_out,
        opt_in=opt_in,
        raw=dict(form),
    )
