"""Which enrollments have a step due now: a round's first steps, and every round's later ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.tables import ENROLLMENT
from models.vocabulary import ACTIVE


def due_enrollment_ids(
    *, conn: Connection, round_id: int, now: datetime, limit: int, after_id: int = 0
) -> list[int]:
    """Active enrollments of the round whose first step is due, by id, after ``after_id``."""
    e = ENROLLMENT.c
    rows = conn.execute(
        select(e.id)
        .where(
            e.round_id == round_id,
            e.state == ACTIVE,
            e.step_index == -1,
            e.next_due_at <= now,
            e.id > after_id,
        )
        .order_by(e.id)
        .limit(limit)
    )
    return [int(r[0]) for r in rows]


def due_for_advance(
    *, conn: Connection, now: datetime, limit: int, after_id: int = 0
) -> list[tuple[int, int]]:
    """(enrollment id, round id) of every due active enrollment, of any round: later steps after
    their window, and first steps that waited for a send window or a cap."""
    e = ENROLLMENT.c
    rows = conn.execute(
        select(e.id, e.round_id)
        .where(e.state == ACTIVE, e.next_due_at <= now, e.id > after_id)
        .order_by(e.id)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]
