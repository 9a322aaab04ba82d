"""Messages that are not settled: handed to a provider without a recorded answer (*in doubt*),
or written ahead and not yet handed over (*unsent*), each with its reason and what happens next.

A message is in doubt when its outreach row is ``pending`` with ``attempted_at`` set. One whose
enrollment another run holds a live lease on is *in flight* there, not in doubt. The reason is
stored (``doubt_reason``); what happens next depends on the channel (see
:func:`next_action`): a channel whose lookup is authoritative (an outbox, an SMS provider's message
list) settles it on the next run; one without waits for events during its grace, then for the
steward.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from models.tables import DELIVERY, ENROLLMENT, OUTREACH
from models.types import utcnow
from models.vocabulary import ACTIVE, PENDING, SENT

IN_DOUBT = "in_doubt"
UNSENT = "unsent"
UNEXAMINED = "handed to the provider by a run that stopped before recording the answer"
NOT_HANDED_OVER = "written ahead, not yet handed to the channel (the run stopped before it)"


@dataclass(frozen=True)
class Unsettled:
    outreach_id: int
    round_id: int | None
    enrollment_id: int | None
    step: int  # as the steward numbers steps (the first is 1)
    channel: str
    kind: str  # IN_DOUBT or UNSENT
    since: datetime  # when it was handed over (in doubt) or written ahead (unsent)
    reason: str
    next_action: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "outreach_id": self.outreach_id,
            "round_id": self.round_id,
            "enrollment_id": self.enrollment_id,
            "step": self.step,
            "channel": self.channel,
            "kind": self.kind,
            "since": self.since.isoformat(),
            "reason": self.reason,
            "next_action": self.next_action,
        }


def next_action(
    *, provider: str, attempted_at: datetime, now: datetime, grace: timedelta | None
) -> str:
    """What settles an in-doubt message of a channel. ``grace`` None: the channel's lookup is
    authoritative, so the next run settles it; otherwise it waits for the provider's events
    until the grace ends, then for the steward's decision."""
    if grace is None:
        return "settled by the next run (advance or resume) from the channel's own lookup"
    until = attempted_at + grace
    if now < until:
        return f"waiting for {provider} events until {until:%Y-%m-%d %H:%M} UTC"
    minutes = int(grace.total_seconds() // 60)
    return f"no {provider} event within {minutes} min: decide with `enrich outreach resolve`"


@dataclass(frozen=True)
class ChannelDoubt:
    """How a channel settles doubts: its provider and grace (None when its lookup is
    authoritative), as configured."""

    provider: str
    grace: timedelta | None


def unsettled(
    conn: Connection,
    *,
    now: datetime,
    channels: Mapping[str, ChannelDoubt],
    round_id: int | None = None,
    outreach_ids: list[int] | None = None,
    include_unsent: bool = True,
) -> list[Unsettled]:
    """Every unsettled ladder-step message of an active enrollment (of one round, of some ids,
    or all), in doubt first, oldest first; rows another live run has in flight are left out."""
    o, e = OUTREACH.c, ENROLLMENT.c
    # Leases run on the wall clock, whatever ``now`` a (simulated) run uses.
    in_flight = and_(e.lease_owner.is_not(None), e.lease_expires_at > utcnow())
    query = (
        select(
            o.id,
            e.round_id,
            o.enrollment_id,
            o.step_index,
            o.channel,
            o.attempted_at,
            o.created_at,
            o.doubt_reason,
        )
        .select_from(OUTREACH.join(ENROLLMENT, e.id == o.enrollment_id))
        .where(o.status == PENDING, o.context.is_(None), e.state == ACTIVE, ~in_flight)
        .order_by(o.attempted_at.is_(None), o.attempted_at, o.id)
    )
    if not include_unsent:
        query = query.where(o.attempted_at.is_not(None))
    if round_id is not None:
        query = query.where(e.round_id == round_id)
    if outreach_ids is not None:
        query = query.where(o.id.in_(outreach_ids))
    found = []
    for row in conn.execute(query):
        doubt = channels.get(row.channel, ChannelDoubt(row.channel, None))
        if row.attempted_at is None:
            kind, since, reason = UNSENT, row.created_at, NOT_HANDED_OVER
            action = "sent by the next run (advance or resume)"
        else:
            kind, since, reason = IN_DOUBT, row.attempted_at, row.doubt_reason or UNEXAMINED
            action = next_action(
                provider=doubt.provider, attempted_at=row.attempted_at, now=now, grace=doubt.grace
            )
        found.append(
            Unsettled(
                outreach_id=int(row.id),
                round_id=None if row.round_id is None else int(row.round_id),
                enrollment_id=None if row.enrollment_id is None else int(row.enrollment_id),
                step=int(row.step_index) + 1,
                channel=row.channel,
                kind=kind,
                since=since,
                reason=reason,
                next_action=action,
            )
        )
    return found


@dataclass(frozen=True)
class Unheard:
    """Messages a provider accepted (in a window) and how many of them never got an event."""

    provider: str
    accepted: int
    without_events: int


def accepted_without_events(
    conn: Connection, *, provider: str, accepted_before: datetime, accepted_since: datetime
) -> Unheard:
    """Among messages ``provider`` accepted between ``accepted_since`` and
    ``accepted_before``, how many have no provider event at all: when that is every one of
    them, the provider's webhooks are not reaching us."""
    o, d = OUTREACH.c, DELIVERY.c
    heard = select(d.id).where(d.outreach_id == o.id, d.provider == provider).exists()
    accepted, unheard = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((~heard, 1), else_=0)), 0)).where(
            o.provider == provider,
            o.status == SENT,
            o.sent_at < accepted_before,
            o.sent_at >= accepted_since,
        )
    ).one()
    return Unheard(provider=provider, accepted=int(accepted), without_events=int(unheard))
