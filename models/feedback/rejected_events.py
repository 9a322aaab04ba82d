"""Authentic provider events we could not take: kept once each, with the reason, redacted.

A provider retries a whole batch when we answer 5xx, so one malformed event inside a signed
batch must not fail the request: it is recorded here (the operator sees what the provider sent
and why we refused it) and the rest of the batch is applied. The excerpt is bounded and leaves
out what is personal: the values of the fields that carry addresses, numbers, message texts or
links (a clicked link holds the customer's token), and any address or URL found elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.tables import REJECTED

EXCERPT_MAX: Final = 2000
REASON_MAX: Final = 200
REDACTED: Final = "<redacted>"
# Fields (compared lower-cased) whose value is personal in the providers' event payloads.
PERSONAL_FIELDS: Final = frozenset(
    {
        "email",
        "to",
        "from",
        "body",
        "url",
        "ip",
        "useragent",
        "reason",
        "response",
        "fromcity",
        "fromzip",
        "tocity",
        "tozip",
        "profilename",
        "waid",
    }
)
# Bounded repeats: an unbounded one makes a long text without "@" take quadratic time.
_EMAIL = re.compile(r"[^\s<>\"'(),;:\\@]{1,64}@[^\s<>\"'(),;:\\@]{1,255}")
_URL = re.compile(r"https?://[^\s\"'\\]{1,2000}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One refused event: who sent it, why, a redacted excerpt and a fingerprint of it all."""

    provider: str
    reason: str
    excerpt: str
    fingerprint: str


def _canonical(raw: object) -> str:
    # ASCII only: a NUL or an unpaired surrogate (often why the event was refused) becomes an
    # escape sequence that every database stores.
    return json.dumps(raw, sort_keys=True, ensure_ascii=True, default=repr)


def _redacted(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in PERSONAL_FIELDS else _redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def excerpt_of(raw: object) -> str:
    """A bounded excerpt of ``raw`` without personal values (see the module docstring)."""
    # Cut well past the bound first: redaction only shortens, and the rest is never shown.
    text = _canonical(_redacted(raw))[: 4 * EXCERPT_MAX]
    text = _URL.sub("<url>", _EMAIL.sub("<address>", text))
    return text[:EXCERPT_MAX]


def rejected_event(*, provider: str, reason: str, raw: object) -> RejectedEvent:
    """The record of one refused event; ``raw`` is what the provider sent (depth-bounded)."""
    return RejectedEvent(
        provider=provider,
        reason=reason[:REASON_MAX],
        excerpt=excerpt_of(raw),
        fingerprint=hashlib.sha256(_canonical(raw).encode("ascii")).hexdigest(),
    )


def store_rejected(*, session: Session, rejected: Sequence[RejectedEvent], now: datetime) -> int:
    """Store each refused event once per (provider, fingerprint); returns how many were new."""
    if not rejected:
        return 0
    unique = {(r.provider, r.fingerprint): r for r in rejected}
    rows: list[dict[str, Any]] = [
        {
            "provider": r.provider,
            "reason": r.reason,
            "fingerprint": r.fingerprint,
            "excerpt": r.excerpt,
            "received_at": now,
        }
        for r in unique.values()
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(REJECTED)
        .on_conflict_do_nothing(index_elements=["provider", "fingerprint"])
        .returning(REJECTED.c.id)
    )
    return len(session.execute(stmt, rows).all())
