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
(:mod:`models.round_report.breakdown`); now by the same rule here
(:func:`models.rounds.completeness.fresh_contact`), one field at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select
from sqlalchemy.engine import Connection

from models.round_report.message_facts import E
from models.rounds.completeness import CONSENTS, CONTACT_FIELDS, FIELD_BITS, fresh_contact
from models.tables import CONSENT, CONTACT


def fields_of(purposes: Sequence[tuple[str, str]]) -> list[str]:
    """The fields a round is measured on: consents only for a campaign with purposes."""
    return [f for f in FIELD_BITS if f != CONSENTS or purposes]


def share(part: int, whole: int) -> float | None:
    """``part / whole``, rounded to four places; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def _in_round(round_id: int, profile_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The join to the round's enrollment of ``profile_id`` (one per profile and round)."""
    return and_(E.c.round_id == round_id, E.c.profile_id == profile_id)


def complete_now(
    conn: Connection,
    round_id: int,
    *,
    now: datetime,
    max_age_days: int,
    purposes: Sequence[tuple[str, str]],
) -> dict[str, int]:
    """How many of the round's enrollments have each field complete now. The fields are
    counted apart, each driven by what makes it complete: the fresh verified contact points
    (a few per profile at most, once per profile and kind) and the profiles that answered
    every purpose, each looked up in the round's enrollments (sums: nothing to sort)."""
    cp = CONTACT.c
    fresh = (
        select(cp.profile_id, cp.kind)
        .where(
            cp.kind.in_(CONTACT_FIELDS),
            fresh_contact(CONTACT, now=now, max_age_days=max_age_days),
        )
        .distinct()
        .subquery("fresh_points")
    )
    per_kind = conn.execute(
        select(
            *(func.sum(case((fresh.c.kind == kind, 1), else_=0)) for kind in CONTACT_FIELDS)
        ).select_from(fresh.join(E, _in_round(round_id, fresh.c.profile_id)))
    ).one()
    found = {kind: int(n or 0) for kind, n in zip(CONTACT_FIELDS, per_kind, strict=True)}
    if purposes:
        a = CONSENT.c
        answered = (
            select(a.profile_id)
            .where(or_(*(and_(a.purpose == key, a.text_version == v) for key, v in purposes)))
            .group_by(a.profile_id)
            .having(func.count(distinct(a.purpose)) == len({key for key, _ in purposes}))
            .subquery("answered_all")
        )
        found[CONSENTS] = int(
            conn.execute(
                select(func.count()).select_from(
                    answered.join(E, _in_round(round_id, answered.c.profile_id))
                )
            ).scalar_one()
        )
    return found


def completeness(
    total: Callable[[str], int], now: Mapping[str, int], fields: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per field from the walk's totals (``enrolled``, ``unrecorded`` and
    ``start_<field>``) and the enrollments complete ``now`` per field."""
    of, unrecorded = total("enrolled"), total("unrecorded")
    rows = []
    for f in fields:
        complete = now.get(f, 0)
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
