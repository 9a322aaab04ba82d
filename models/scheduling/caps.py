"""Frequency caps: at most so many messages per profile in a sliding window, overall and per
channel, counting every sent ladder step and contact-moment ask alike.

The defaults (4 messages in 30 days; at most 3 emails, 2 SMS and 1 letter) let the default
ladder (email, SMS, letter within 11 days) run whole with room for one contact-moment ask,
and no more: a letter is the costliest and most intrusive message, an SMS the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.tables import OUTREACH
from models.vocabulary import CHANNELS, SENT

# Profile ids per query: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 5000
# How the wait reason of a step held by a cap begins (Enrollment.wait_reason; the report's
# "capped").
CAP_REASON_PREFIX: Final = "frequency cap: "
_NOUNS = {
    "messages": ("message", "messages"),
    "email": ("email", "emails"),
    "sms": ("sms", "sms"),
    "letter": ("letter", "letters"),
}


def _default_per_channel() -> Mapping[str, int]:
    return MappingProxyType({"email": 3, "sms": 2, "letter": 1})


@dataclass(frozen=True)
class CapPolicy:
    """How many messages one profile may get within ``period_days``; channels not in
    ``per_channel`` are limited by ``max_messages`` alone."""

    period_days: int = 30
    max_messages: int = 4
    per_channel: Mapping[str, int] = field(default_factory=_default_per_channel, hash=False)

    def __post_init__(self) -> None:
        if self.period_days < 1:
            raise ValueError("cap period_days must be at least 1")
        if self.max_messages < 1:
            raise ValueError("cap max_messages must be at least 1")
        for channel, limit in self.per_channel.items():
            if channel not in CHANNELS:
                raise ValueError(f"cap for unknown channel {channel!r}")
            if limit < 1:
                raise ValueError(f"cap for {channel} must be at least 1")
        object.__setattr__(self, "per_channel", MappingProxyType(dict(self.per_channel)))

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)


def recent_sends(
    conn: Connection, profile_ids: Iterable[int], *, since: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """``{profile_id: [(sent_at, channel), ...]}`` oldest first, of every sent ladder step or
    contact-moment ask (any round) at or after ``since``; every given id is a key.

    Proof messages a customer asked for on the landing page (a confirmation email, a one-time
    code) belong to no enrollment and do not count: they answer the customer, unasked for by us.
    """
    ids = sorted(set(profile_ids))
    out: dict[int, list[tuple[datetime, str]]] = {pid: [] for pid in ids}
    o = OUTREACH.c
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(o.profile_id, o.sent_at, o.channel)
            .where(
                o.profile_id.in_(ids[start : start + CHUNK]),
                o.status == SENT,
                o.enrollment_id.is_not(None),
                o.sent_at >= since,
            )
            .order_by(o.profile_id, o.sent_at, o.id)
        )
        for profile_id, sent_at, channel in rows:
            out[int(profile_id)].append((sent_at, channel))
    return out


def _release(times: Sequence[datetime], limit: int, period: timedelta) -> datetime:
    """When one more message fits, given ``times`` (all in the window, sorted, ``>= limit``)."""
    # After the oldest len - limit + 1 have left, limit - 1 remain: room for one more.
    return times[len(times) - limit] + period


def _reason(limit: int, what: str, period_days: int) -> str:
    singular, plural = _NOUNS[what]
    return f"{CAP_REASON_PREFIX}{limit} {singular if limit == 1 else plural} in {period_days} days"


def cap_hold(
    sent: Sequence[tuple[datetime, str]], *, channel: str, now: datetime, policy: CapPolicy
) -> tuple[datetime, str] | None:
    """None when one more message on ``channel`` is allowed at ``now``; else the earliest
    instant it is allowed and why not now (``"frequency cap: 2 sms in 30 days"``).

    A message sent at ``t`` counts while ``now < t + period``: it leaves the window exactly
    ``period_days`` later.
    """
    period = policy.period
    window = sorted(t for t, _ in sent if t + period > now)
    holds: list[tuple[datetime, str]] = []
    if len(window) >= policy.max_messages:
        at = _release(window, policy.max_messages, period)
        holds.append((at, _reason(policy.max_messages, "messages", policy.period_days)))
    limit = policy.per_channel.get(channel)
    if limit is not None:
        same = sorted(t for t, c in sent if c == channel and t + period > now)
        if len(same) >= limit:
            at = _release(same, limit, period)
            holds.append((at, _reason(limit, channel, policy.period_days)))
    if not holds:
        return None
    # Both caps must have room; the later release is the one that counts.
    return max(holds, key=lambda hold: hold[0])
