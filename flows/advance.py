"""The daily ladder advance: every active enrollment whose response window has passed (or that a
hard bounce made due at once) gets its next usable step; past the last step it is exhausted.

Batches per round, because each round keeps the campaign version it started with.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import select

from enrich.runtime import get_engine
from enrich.settings import get_settings
from flows.round import send_batch
from models.tables import Campaign, Round
from models.types import utcnow
from outreach.dispatch import BatchOutcome, due_for_advance

ROUND = Round.__table__  # type: ignore[attr-defined]
CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]


def _specs(round_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The campaign definition each round started with, by round id."""
    with get_engine(get_settings()).connect() as conn:
        rows = conn.execute(
            select(ROUND.c.id, CAMPAIGN.c.definition)
            .join(CAMPAIGN, CAMPAIGN.c.id == ROUND.c.campaign_id)
            .where(ROUND.c.id.in_(round_ids))
        )
        return {int(r.id): dict(r.definition) for r in rows}


@flow(name="ladder-advance")
def advance_ladders(started_by: str = "system:advance") -> dict[str, int]:
    """Send the next step of every due enrollment, in batches; never a step twice."""
    settings = get_settings()
    engine = get_engine(settings)
    now = utcnow()
    totals = BatchOutcome()
    after = 0
    while True:
        with engine.connect() as conn:
            due = due_for_advance(conn=conn, now=now, limit=settings.batch_size, after_id=after)
        if not due:
            break
        after = due[-1][0]
        by_round: dict[int, list[int]] = {}
        for enrollment_id, round_id in due:
            by_round.setdefault(round_id, []).append(enrollment_id)
        specs = _specs(set(by_round))
        for round_id, ids in by_round.items():
            outcome = send_batch(ids, specs[round_id], started_by)
            totals = BatchOutcome(
                *(a + b for a, b in zip(vars(totals).values(), vars(outcome).values(), strict=True))
            )
    summary = dict(vars(totals))
    get_run_logger().info("ladder advance: %s", summary)
    create_markdown_artifact(
        markdown="# Ladder advance\n\n"
        + "\n".join(f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()),
        key="ladder-advance",
        description="Next ladder steps sent",
    )
    return summary
