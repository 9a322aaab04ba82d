"""What each message about to go out asks of its customer: the gaps of its enrollment still open
now, so a value the customer confirmed since the round began is not asked for again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.campaigns.asks import Ask, asks_of
from models.rounds.completion import VerifiedPoint, open_gaps
from models.tables import CONTACT
from models.vocabulary import VERIFIED


def pending_asks(conn: Connection, rows: Sequence[Any]) -> dict[int, tuple[Ask, ...]]:
    """``{outreach id: asks}`` for pending rows carrying ``id``, ``profile_id``, ``channel``,
    ``gap_mask`` and ``enrolled_at``; one query for the profiles' verified contact points."""
    profile_ids = sorted({r.profile_id for r in rows})
    verified: dict[int, list[VerifiedPoint]] = {}
    if profile_ids:
        cp = CONTACT.c
        points = conn.execute(
            select(cp.profile_id, cp.kind, cp.is_primary, cp.verified_at).where(
                cp.profile_id.in_(profile_ids), cp.status == VERIFIED
            )
        )
        for point in points:
            verified.setdefault(point.profile_id, []).append(
                VerifiedPoint(point.kind, point.is_primary, point.verified_at)
            )
    return {
        r.id: asks_of(
            open_gaps(
                gap_mask=r.gap_mask,
                verified=verified.get(r.profile_id, []),
                since=r.enrolled_at,
            ),
            channel=r.channel,
        )
        for r in rows
    }
