"""Reading provider webhook fields defensively: what both providers' event parsers share.

An authentic but malformed field (the wrong type, an id out of range, text no database can store)
raises :class:`MalformedEvent` with a terse reason; the parsers turn it into a
:class:`~models.feedback.rejected_events.RejectedEvent`, so nothing malformed reaches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from models.feedback.event_records import EventRecord
from outreach.providers.webhook_errors import WebhookPayloadError

# The event other layers receive; it is the models-level record so ingestion needs no mapping.
NormalisedEvent = EventRecord

# Bounded repeats: an unbounded one makes a long text without "@" take quadratic time.
_EMAIL_RE = re.compile(r"[^\s<>\"'(),;:@]{1,64}@[^\s<>\"'(),;:@]{1,255}")

DETAIL_MAX = 1000

ID_MAX = 200

# outreach.id is a 32-bit integer column (PostgreSQL's integer): a larger id names no outreach.
OUTREACH_ID_MAX: Final = 2**31 - 1

# The latest instant a datetime holds (year 9999), as a Unix time.
UNIX_MAX: Final = 253402300799


class MalformedEvent(WebhookPayloadError):
    """An authentic event with a field we cannot take; the message is the terse reason."""


def redact_addresses(text: str) -> str:
    """Bounce reasons quote the recipient's address; the detail column must not hold it."""
    return _EMAIL_RE.sub("<address>", text)


def bounded_detail(*parts: object) -> str | None:
    text = " ".join(str(p).strip()[: 2 * DETAIL_MAX] for p in parts if p not in (None, ""))
    return redact_addresses(text)[:DETAIL_MAX] or None


def ascii_digits(value: str, max_len: int) -> int | None:
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
        number = ascii_digits(value, len(str(OUTREACH_ID_MAX)))
    if number is None or not 1 <= number <= OUTREACH_ID_MAX:
        raise MalformedEvent("outreach_id is not an outreach id")
    return number


def unix_time(value: object) -> datetime | None:
    """A Unix timestamp; None when absent. Raises :class:`MalformedEvent` for anything else."""
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, str):
        number = ascii_digits(value, 12)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    if number is None or not 0 <= number <= UNIX_MAX:  # NaN fails both comparisons
        raise MalformedEvent("timestamp is not a Unix time")
    return datetime.fromtimestamp(number, UTC)


def storable(value: object) -> bool:
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


def text_field(item: Mapping[str, Any], name: str, max_len: int | None) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{name} is not text")
    if max_len is not None and len(value) > max_len:
        raise MalformedEvent(f"{name} is too long")
    return value


def received_time(received_at: datetime | None) -> datetime:
    if received_at is None:
        return datetime.now(UTC)
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(UTC)


def fallback_id(raw: object) -> str:
    # Deterministic, so a retried batch still deduplicates on it.
    canonical = json.dumps(raw, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]
