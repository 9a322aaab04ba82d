"""Which rounds a report covers: one by id, every round of a campaign, or every round; since a day.

``round_id``: that round (whatever its status); ``campaign``: every round of that campaign key,
all versions; neither: every round. Without ``round_id`` the standing contact-moment rounds are
left out (they never finish and have no ladder). ``since`` keeps the rounds started on or after
that day (00:00 UTC). Rounds come in ascending id order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from models.rounds.status import RoundNotFound
from models.tables import CAMPAIGN, ROUND
from models.vocabulary import STANDING


class CampaignNotFound(LookupError):
    """No campaign has this key."""


@dataclass(frozen=True)
class ChosenRound:
    round_id: int
    campaign_key: str
    campaign_version: int
    status: str
    started_at: datetime
    started_by: str
    finished_at: datetime | None
    parameters: dict[str, Any]
    forecast: dict[str, Any] | None
    # The round's own campaign version (its gaps and purposes) and the newest version of its
    # key (the ladder it follows, its unit costs): see models.campaigns.versions.
    definition: dict[str, Any] | None
    newest_definition: dict[str, Any] | None


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def chosen_rounds(
    conn: Connection,
    *,
    round_id: int | None = None,
    campaign: str | None = None,
    since: date | None = None,
) -> list[ChosenRound]:
    """The rounds to report on (module docstring).

    Raises ``ValueError`` when both a round and a campaign are given, :class:`RoundNotFound`
    for an unknown round id and :class:`CampaignNotFound` for an unknown campaign key.
    """
    if round_id is not None and campaign is not None:
        raise ValueError("give a round or a campaign, not both")
    r, c = ROUND.c, CAMPAIGN.c
    newest, latest = CAMPAIGN.alias("newest"), CAMPAIGN.alias("latest")
    newest_version = (
        select(func.max(latest.c.version)).where(latest.c.key == c.key).scalar_subquery()
    )
    query = (
        select(
            r.id,
            c.key,
            c.version,
            r.status,
            r.started_at,
            r.started_by,
            r.finished_at,
            r.parameters,
            r.forecast,
            c.definition,
            newest.c.definition.label("newest_definition"),
        )
        .join(CAMPAIGN, c.id == r.campaign_id)
        .join(newest, and_(newest.c.key == c.key, newest.c.version == newest_version))
        .order_by(r.id)
    )
    if round_id is not None:
        if conn.execute(select(r.id).where(r.id == round_id)).first() is None:
            raise RoundNotFound(f"round {round_id} does not exist")
        query = query.where(r.id == round_id)
    else:
        query = query.where(r.status != STANDING)
    if campaign is not None:
        if conn.execute(select(c.id).where(c.key == campaign).limit(1)).first() is None:
            raise CampaignNotFound(f"no campaign has the key {campaign!r}")
        query = query.where(c.key == campaign)
    if since is not None:
        query = query.where(r.started_at >= day_start(since))
    return [
        ChosenRound(
            round_id=int(row.id),
            campaign_key=row.key,
            campaign_version=int(row.version),
            status=row.status,
            started_at=row.started_at,
            started_by=row.started_by,
            finished_at=row.finished_at,
            parameters=dict(row.parameters or {}),
            forecast=row.forecast or None,
            definition=row.definition,
            newest_definition=row.newest_definition,
        )
        for row in conn.execute(query)
    ]
