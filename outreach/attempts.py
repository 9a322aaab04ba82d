"""Claiming pending messages before a provider call, and settling the ones left in doubt.

A pending outreach row with ``attempted_at`` set was handed to a channel by a run that did not
record the answer: the process died, or the request timed out after it went out. Such a row is
*in doubt* and is never sent again blindly. Evidence settles it, in this order:

1. a provider event (a webhook) tied to the outreach: the provider accepted it;
2. the channel's own lookup (:meth:`Channel.already_sent`): the outbox files, Twilio's message
   list matched through the link token's hash;
3. no evidence after the channel's ``reconcile_grace``: it was not accepted, so it is sent again.
   SendGrid offers no lookup by our id, so an email waits for its webhook events that long.

Claiming is a compare-and-set on ``attempted_at``, so two runners (two workers, a round and an
advance) never both send the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.tables import DeliveryEvent, Outreach, VerificationToken
from models.vocabulary import PENDING
from outreach.channels.base import Channel, InDoubt, SendResult
from outreach.tokens import LINK_KIND

OUTREACH = Outreach.__table__  # type: ignore[attr-defined]
DELIVERY = DeliveryEvent.__table__  # type: ignore[attr-defined]
TOKEN = VerificationToken.__table__  # type: ignore[attr-defined]


def claim(conn: Connection, rows: Sequence[Any], *, now: datetime) -> set[int]:
    """Mark these pending rows as attempted now; returns the ids this caller won.

    A row counts only if it is still pending with the ``attempted_at`` this caller read: a
    concurrent runner that claimed it first, or recorded it meanwhile, wins.
    """
    o = OUTREACH.c
    won: set[int] = set()
    fresh = [r.id for r in rows if r.attempted_at is None]
    if fresh:
        won.update(
            conn.execute(
                update(OUTREACH)
                .where(o.id.in_(fresh), o.status == PENDING, o.attempted_at.is_(None))
                .values(attempted_at=now, attempts=o.attempts + 1, updated_at=now)
                .returning(o.id)
            ).scalars()
        )
    for row in rows:  # in-doubt rows given up on after their grace: rare, one by one
        if row.attempted_at is None:
            continue
        hit = conn.execute(
            update(OUTREACH)
            .where(o.id == row.id, o.status == PENDING, o.attempted_at == row.attempted_at)
            .values(attempted_at=now, attempts=o.attempts + 1, updated_at=now)
            .returning(o.id)
        ).scalar_one_or_none()
        if hit is not None:
            won.add(int(hit))
    return won


def release(conn: Connection, outreach_ids: Sequence[int], *, now: datetime) -> None:
    """Give claimed rows back untouched: the provider certainly did not take them."""
    if outreach_ids:
        o = OUTREACH.c
        conn.execute(
            update(OUTREACH)
            .where(o.id.in_(list(outreach_ids)), o.status == PENDING)
            .values(attempted_at=None, updated_at=now)
        )


def settle_in_doubt(
    conn: Connection, channel: Channel, rows: Sequence[Any]
) -> dict[int, SendResult]:
    """The in-doubt rows the evidence shows as accepted (steps 1 and 2 of the module doc)."""
    if not rows:
        return {}
    ids = [r.id for r in rows]
    seen = set(
        conn.execute(
            select(DELIVERY.c.outreach_id).where(DELIVERY.c.outreach_id.in_(ids)).distinct()
        ).scalars()
    )
    settled = {
        i: SendResult(
            outreach_id=i,
            ok=True,
            provider=channel.provider,
            provider_status="accepted (provider event)",
        )
        for i in seen
    }
    rest = [r for r in rows if r.id not in seen]
    if not rest:
        return settled
    hashes: dict[int, set[str]] = {}
    for outreach_id, token_hash in conn.execute(
        select(TOKEN.c.outreach_id, TOKEN.c.token_hash).where(
            TOKEN.c.outreach_id.in_([r.id for r in rest]), TOKEN.c.kind == LINK_KIND
        )
    ):
        hashes.setdefault(int(outreach_id), set()).add(token_hash)
    items = [
        InDoubt(
            outreach_id=r.id,
            recipient=r.value or "",
            attempted_at=r.attempted_at,
            token_hashes=frozenset(hashes.get(r.id, ())),
        )
        for r in rest
    ]
    settled.update(channel.already_sent(items))
    return settled


def due_again(row: Any, channel: Channel, now: datetime) -> bool:
    """An unsettled in-doubt row may be sent again once its channel's grace has passed."""
    return bool(now - row.attempted_at >= channel.reconcile_grace)
