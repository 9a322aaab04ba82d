"""A round's incentive: how many of its enrollments entered the campaign's prize draw or
discount, how many earned it, and what the awards cost.

- per terms (``key``, ``terms_version``): ``entered`` = the round's ``incentive_entry`` rows,
  ``earned`` = those with ``earned_at`` (their enrollment completed); an erased person's
  entries are deleted with the rest of their data and no longer count;
- ``offered``: the incentive of the newest stored version of the round's campaign (key, kind,
  terms version), null when it offers none;
- ``cost``: ``earned * unit_cost`` with the ``cost`` per award of that incentive, in the
  campaign's currency; null when it sets no cost. It is its own line of the report's cost
  section, never part of the messages' spend.

Null (no section) when the campaign offers no incentive and the round has no entries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from models.campaigns.spec import Costs, Incentive
from models.round_report.cost import PLACES
from models.tables import INCENTIVE_ENTRY


def incentive_figures(
    conn: Connection, round_id: int, incentive: Incentive | None, costs: Costs | None
) -> dict[str, Any] | None:
    t = INCENTIVE_ENTRY.c
    rows = conn.execute(
        select(
            t.incentive_key,
            t.terms_version,
            func.count().label("entered"),
            func.count(t.earned_at).label("earned"),
        )
        .where(t.round_id == round_id)
        .group_by(t.incentive_key, t.terms_version)
        .order_by(t.incentive_key, t.terms_version)
    ).all()
    if incentive is None and not rows:
        return None
    by_terms = [
        {
            "key": r.incentive_key,
            "terms_version": r.terms_version,
            "entered": int(r.entered),
            "earned": int(r.earned),
        }
        for r in rows
    ]
    earned = sum(r["earned"] for r in by_terms)
    unit = incentive.cost if incentive is not None and costs is not None else None
    return {
        "offered": None
        if incentive is None
        else {
            "key": incentive.key,
            "kind": incentive.kind,
            "terms_version": incentive.terms_version,
        },
        "entered": sum(r["entered"] for r in by_terms),
        "earned": earned,
        "by_terms": by_terms,
        "currency": costs.currency if unit is not None and costs is not None else None,
        "unit_cost": unit,
        "cost": round(earned * unit, PLACES) if unit is not None else None,
    }
