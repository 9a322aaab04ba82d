"""The forecast kept with its round, and the campaign version a plan speaks of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.campaigns.spec import CampaignSpec
from models.tables import CAMPAIGN, ROUND


def campaign_version(conn: Connection, *, spec: CampaignSpec) -> int:
    """The stored version ``spec`` is, or the one a round would store it as (the next
    number) when the file changed since; writes nothing."""
    c = CAMPAIGN.c
    rows = conn.execute(select(c.version, c.content_hash).where(c.key == spec.key)).all()
    digest = spec.content_hash()
    same = [int(version) for version, content_hash in rows if content_hash == digest]
    if same:
        return max(same)
    return max((int(version) for version, _ in rows), default=0) + 1


def store_forecast(conn: Connection, round_id: int, forecast: Mapping[str, Any]) -> bool:
    """Keep ``forecast`` (:meth:`Forecast.as_dict`) as the round's forecast, once: a round
    keeps the forecast made when it started, so a resumed or rerun flow changes nothing.
    Returns whether it was written; an unknown round raises LookupError."""
    found = conn.execute(select(ROUND.c.forecast).where(ROUND.c.id == round_id)).first()
    if found is None:
        raise LookupError(f"round {round_id} does not exist")
    if found.forecast is not None:  # SQL NULL and a JSON null both read as None
        return False
    conn.execute(update(ROUND).where(ROUND.c.id == round_id).values(forecast=dict(forecast)))
    return True
