"""Completeness per field: the share of a round's enrolled profiles complete at its start and now.

A field is complete by the rule of :mod:`models.rounds.completeness`: a contact point of its
kind that is verified, not opted out and verified within ``max_age_days``; ``consents``: every
purpose of the campaign answered on its current notice (only for a campaign with purposes).

- ``of``: the round's enrollments;
- ``at_start``: enrollments whose profile had the field complete when enrolled
  (``Enrollment.fields_at_start``); ``unrecorded``: enrollments made before that was recorded;
  ``at_start_share`` = ``at_start / (of - unrecorded)``;
- ``now``: enrollments whose profile has the field complete now, by the same expression with the
  report's ``now``, the ``max_age_days`` the round was started with (its parameters) and its
  campaign's purposes; ``now_share`` = ``now / of``.

An erased profile holds no contact points or consents any more: it counts as complete in no
field now. The start is counted by the walk over the enrollments
(:mod:`models.round_report.breakdown`); now by one GROUP BY here, each enrollment with its
verified contact points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.engine import Connection

from models.round_report.message_facts import E
from models.rounds.completeness import CONSENTS, FIELD_BITS, fields_mask
from models.tables import CONTACT
from models.vocabulary import VERIFIED

CP_NOW = CONTACT.alias("cp_now")


def fields_of(purposes: Sequence[tuple[str, str]]) -> list[str]:
    """The fields a round is measured on: consents only for a campaign with purposes."""
    return [f for f in FIELD_BITS if f != CONSENTS or purposes]


def verified_points() -> ColumnElement[bool]:
    """The join to ``CP_NOW``: only verified contact points can make a field complete, so only
    those are read."""
    return and_(CP_NOW.c.profile_id == E.c.profile_id, CP_NOW.c.status == VERIFIED)


def now_mask(
    *, now: datetime, max_age_days: int, purposes: Sequence[tuple[str, str]]
) -> ColumnElement[int]:
    """The mask of fields complete now, an aggregate over ``CP_NOW`` per enrollment."""
    return fields_mask(
        CP_NOW, E.c.profile_id, now=now, max_age_days=max_age_days, purposes=purposes
    )


def share(part: int, whole: int) -> float | None:
    """``part / whole``, rounded to four places; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def complete_now(
    conn: Connection,
    round_id: int,
    *,
    now: datetime,
    max_age_days: int,
    purposes: Sequence[tuple[str, str]],
) -> dict[int, int]:
    """How many of the round's enrollments have each mask of fields complete now."""
    mask = now_mask(now=now, max_age_days=max_age_days, purposes=purposes).label("mask")
    per_enrollment = (
        select(mask)
        .select_from(E.outerjoin(CP_NOW, verified_points()))
        .where(E.c.round_id == round_id)
        .group_by(E.c.id)
        .subquery("complete_now")
    )
    m = per_enrollment.c.mask
    rows = conn.execute(select(m, func.count()).group_by(m))
    return {int(value or 0): int(n) for value, n in rows}


def completeness(
    total: Callable[[str], int], now: Mapping[int, int], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per field from the walk's totals (``enrolled``, ``unrecorded`` and
    ``start_<field>``) and the enrollments per mask complete ``now``."""
    of, unrecorded = total("enrolled"), total("unrecorded")
    rows = []
    for f in fields:
        complete = sum(n for mask, n in now.items() if mask & FIELD_BITS[f])
        rows.append(
            {
                "field": f,
                "of": of,
                "at_start": total(f"start_{f}"),
                "now": complete,
                "at_start_share": share(total(f"start_{f}"), of - unrecorded),
                "now_share": share(complete, of),
                "unrecorded": unrecorded,
            }
        )
    return rows
