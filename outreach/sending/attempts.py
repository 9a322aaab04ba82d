"""Claiming pending messages before a provider call, and settling the ones left in doubt.

A pending outreach row with ``attempted_at`` set was handed to a channel by a run that did not
record the answer: the process died, or the request timed out after it went out. Such a row is
*in doubt* and is never sent again without evidence that the first attempt was not taken:

1. a provider event (a webhook) tied to the outreach proves the provider accepted it;
2. the channel's own lookup (:meth:`Channel.already_sent`: the outbox files, Twilio's message
   list matched through the link token's hash) finds it, or, where that lookup sees everything
   the channel took (``lookup_is_authoritative``), proves by not finding it that it was not
   taken: it is sent again;
3. otherwise (SendGrid, which has no lookup by our id) it stays in doubt with its cause in
   ``doubt_reason``: waiting for the provider's events during the channel's
   ``reconcile_grace``, then for the steward's decision (``enrich outreach resolve``); see
   :func:`models.messages.in_doubt.next_action`.

Only the run holding an enrollment's lease (:mod:`outreach.sending.leases`) looks at its rows, so a
row another live run has in flight is never mistaken for one left behind. Claiming is a
compare-and-set on ``attempted_at`` fenced by that lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from models.answers.link_tokens import LINK_KIND
from models.tables import DELIVERY, ENROLLMENT, OUTREACH, TOKEN
from models.vocabulary import ACTIVE, PENDING
from outreach.channels.base import Channel, InDoubt, SendResult
from outreach.sending.leases import held_by


def claim(conn: Connection, rows: Sequence[Any], *, now: datetime, owner: str) -> set[int]:
    """Mark these pending rows as attempted now; returns the ids this caller won.

    A row counts only if it is still pending with the ``attempted_at`` this caller read and
    its enrollment is leased by ``owner`` and still active: a concurrent runner that claimed or
    recorded it first wins, a run whose lease lapsed claims nothing, and an enrollment ended
    since the row was written ahead (an objection, a sweep decision) sends nothing more.
    """
    o = OUTREACH.c
    leased = (
        select(ENROLLMENT.c.id)
        .where(held_by(owner), ENROLLMENT.c.state == ACTIVE)
        .scalar_subquery()
    )
    by_attempt: dict[datetime | None, list[int]] = {}
    for row in rows:
        by_attempt.setdefault(row.attempted_at, []).append(row.id)
    won: set[int] = set()
    for attempted_at, ids in by_attempt.items():  # one statement per earlier attempt time
        same = o.attempted_at.is_(None) if attempted_at is None else o.attempted_at == attempted_at
        won.update(
            conn.execute(
                update(OUTREACH)
                .where(o.id.in_(ids), o.status == PENDING, same, o.enrollment_id.in_(leased))
                .values(
                    attempted_at=now, attempts=o.attempts + 1, doubt_reason=None, updated_at=now
                )
                .returning(o.id)
            ).scalars()
        )
    return won


def release(conn: Connection, outreach_ids: Sequence[int], *, now: datetime) -> None:
    """Give claimed rows back untouched: the provider certainly did not take them."""
    if outreach_ids:
        o = OUTREACH.c
        conn.execute(
            update(OUTREACH)
            .where(o.id.in_(list(outreach_ids)), o.status == PENDING)
            .values(attempted_at=None, doubt_reason=None, updated_at=now)
        )


def note_doubts(conn: Connection, reasons: Mapping[int, str], *, now: datetime) -> None:
    """Write why each of these still-pending rows is in doubt (one statement)."""
    if reasons:
        o = OUTREACH.c
        conn.execute(
            update(OUTREACH)
            .where(o.id == bindparam("b_id"), o.status == PENDING)
            .values(doubt_reason=bindparam("b_reason"), updated_at=now),
            [{"b_id": i, "b_reason": r[:300]} for i, r in reasons.items()],
        )


def with_events(conn: Connection, outreach_ids: Iterable[int]) -> set[int]:
    """The outreach ids that have at least one provider event."""
    ids = list(outreach_ids)
    if not ids:
        return set()
    return {
        int(i)
        for i in conn.execute(
            select(DELIVERY.c.outreach_id).where(DELIVERY.c.outreach_id.in_(ids)).distinct()
        ).scalars()
    }


def settle_in_doubt(
    conn: Connection, channel: Channel, rows: Sequence[Any]
) -> dict[int, SendResult]:
    """The in-doubt rows the evidence shows as accepted (steps 1 and 2 of the module doc)."""
    if not rows:
        return {}
    seen = with_events(conn, (r.id for r in rows))
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
