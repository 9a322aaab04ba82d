"""The daily ladder advance: every active enrollment whose response window has passed (or that a
hard bounce made due at once) gets its next usable step; past the last step it is exhausted.

The campaign file is read and stored first, so an edit becomes a new version; each round then
sends its unsent steps by the newest version's ladder (:mod:`models.campaign_versions`). The
run also ends contact-moment enrollments whose links have all expired.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from enrich.runtime import get_engine
from enrich.settings import get_settings
from flows.round import BATCHES_PER_SEND_TASK, send_batch
from models.campaign import load_campaign, sync_campaign
from models.campaign_versions import record_campaign_updates, round_campaigns
from models.contact_moments import close_expired_moments
from models.db import session_scope
from models.types import utcnow
from outreach.dispatch import BatchOutcome, due_for_advance


@flow(name="ladder-advance")
def advance_ladders(
    started_by: str = "system:advance", campaign_file: str | None = None
) -> dict[str, int]:
    """Send the next step of every due enrollment, in batches; never a step twice.

    ``campaign_file`` (default: the settings' file) is stored as a new version when it changed;
    an invalid file stops the run before anything is sent.
    """
    settings = get_settings()
    engine = get_engine(settings)
    spec = load_campaign(Path(campaign_file) if campaign_file else settings.campaign_file)
    with session_scope(engine) as session:
        sync_campaign(session=session, spec=spec)
    now = utcnow()
    with engine.begin() as conn:
        moments_closed = close_expired_moments(conn, now=now)
    totals = BatchOutcome()
    campaign_updates = 0
    after = 0
    while True:
        with engine.connect() as conn:
            due = due_for_advance(
                conn=conn,
                now=now,
                limit=settings.batch_size * BATCHES_PER_SEND_TASK,
                after_id=after,
            )
        if not due:
            break
        after = due[-1][0]
        by_round: dict[int, list[int]] = {}
        for enrollment_id, round_id in due:
            by_round.setdefault(round_id, []).append(enrollment_id)
        with engine.connect() as conn:
            rounds = round_campaigns(conn, by_round)
        with engine.begin() as conn:
            campaign_updates += record_campaign_updates(
                conn, rounds.values(), now=now, actor=started_by
            )
        for round_id, ids in by_round.items():
            spec_data = rounds[round_id].spec.model_dump(mode="json")
            totals += send_batch(ids, spec_data, started_by)
    summary = dict(vars(totals))
    summary.update(campaign_updates=campaign_updates, moments_closed=moments_closed)
    get_run_logger().info("ladder advance: %s", summary)
    create_markdown_artifact(
        markdown="# Ladder advance\n\n"
        + "\n".join(f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()),
        key="ladder-advance",
        description="Next ladder steps sent",
    )
    return summary
