"""The sending half of a round, as its own process, so a test can kill it at any instant.

``python -m tests.providers.sender ROUND_ID NOW_ISO`` sends every due first step of the round
with the channels the ``ENRICH_*`` environment configures, batch after batch, exactly as the
round flow's tasks do (``send_due_steps``), without Prefect around it. Exit 0 when done.
"""

from __future__ import annotations

import sys
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from enrich.runtime import get_engine, outreach_config
from enrich.settings import get_settings
from models.campaigns.spec import CampaignSpec
from models.tables import Campaign, Round
from outreach.channels import build_channels
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.due import due_enrollment_ids, due_for_advance


def round_spec(conn: Connection, round_id: int) -> CampaignSpec:
    definition = conn.execute(
        select(Campaign.definition)  # type: ignore[call-overload]
        .join(Round, Round.campaign_id == Campaign.id)
        .where(Round.id == round_id)
    ).scalar_one()
    return CampaignSpec.model_validate(definition)


def send_round(round_id: int, now: datetime) -> BatchOutcome:
    settings = get_settings()
    engine = get_engine(settings)
    config = outreach_config(settings)
    with engine.connect() as conn:
        spec = round_spec(conn, round_id)
    channels = build_channels(config)
    totals = BatchOutcome()
    after = 0
    while True:
        with engine.connect() as conn:
            ids = due_enrollment_ids(
                conn=conn, round_id=round_id, now=now, limit=settings.batch_size, after_id=after
            )
        if not ids:
            return totals
        after = ids[-1]
        outcome = send_due_steps(
            engine=engine,
            enrollment_ids=ids,
            spec=spec,
            channels=channels,
            config=config,
            now=now,
            actor="test-sender",
        )
        totals += outcome


def advance(round_id: int, now: datetime) -> BatchOutcome:
    """What the daily advance does for this round at ``now``: every due step, once."""
    settings = get_settings()
    engine = get_engine(settings)
    config = outreach_config(settings)
    with engine.connect() as conn:
        spec = round_spec(conn, round_id)
        due = [i for i, r in due_for_advance(conn=conn, now=now, limit=10_000) if r == round_id]
    return send_due_steps(
        engine=engine,
        enrollment_ids=due,
        spec=spec,
        channels=build_channels(config),
        config=config,
        now=now,
        actor="test-advance",
    )


if __name__ == "__main__":
    result = send_round(int(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
    print(result)
