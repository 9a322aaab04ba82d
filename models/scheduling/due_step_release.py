"""Respect for the customer's time and attention: when a due step may actually go out.

One decision per step combines the send window of its channel (in the customer's time zone;
letters on the organisation's working days) with the frequency caps over everything the
profile was sent lately. A step that may not go out now *waits* until the earliest instant both
allow, with a reason the steward can list; it is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from models.scheduling.caps import CapPolicy, cap_hold
from models.scheduling.windows import WindowPolicy, next_allowed, zone_for

# Caps and windows can push each other (a cap releases at night, a window opens on a capped
# day); a few rounds always settle, since both only move the instant forward.
_MAX_ROUNDS = 8


@dataclass(frozen=True)
class Respect:
    windows: WindowPolicy
    caps: CapPolicy
    default_zone: ZoneInfo


@dataclass(frozen=True)
class Hold:
    until: datetime
    reason: str  # the first thing that stopped the step now; no personal data


def hold_for(
    *,
    channel: str,
    now: datetime,
    time_zone: str | None,
    country: str | None,
    sent: Sequence[tuple[datetime, str]],
    respect: Respect,
) -> Hold | None:
    """None when the step may go out at ``now``; else until when it waits, and why."""
    zone = zone_for(time_zone, country, respect.default_zone)
    at = now
    reason: str | None = None
    for _ in range(_MAX_ROUNDS):
        capped = cap_hold(sent, channel=channel, now=at, policy=respect.caps)
        if capped is not None:
            at = capped[0]
            reason = reason or capped[1]
        opens, why = next_allowed(channel, at, zone, respect.windows)
        if why is not None:
            at = opens
            reason = reason or why
        if capped is None and why is None:
            break
    return None if reason is None else Hold(until=at, reason=reason)
