"""The daily ladder advance: every active enrollment whose response window has passed (or that a
hard bounce made due at once) gets its next usable step; past the last step it is exhausted.

The campaign file is read and stored first, so an edit becomes a new version; each round then
sends its unsent steps by the newest version's ladder (:mod:`models.campaigns.versions`). The
run also ends contact-moment enrollments whose links have all expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from enrich.settings import get_settings
from flows.artifacts import ADVANCE_KEY, Progress, advance_table, share
from flows.tasks import BATCHES_PER_SEND_TASK, RETRIES, send_all, send_window
from models.audit_trail.sealing import seal
from models.campaigns.spec import load_campaign, sync_campaign
from models.campaigns.versions import record_campaign_updates, round_campaigns
from models.contact_moments.expiry import close_expired_moments
from models.db import session_scope
from models.tables import ENROLLMENT
from models.types import utcnow
from models.vocabulary import ACTIVE
from outreach.sending.dispatch import BatchOutcome
from outreach.sending.due import due_for_advance


@task(name="store-campaign", **RETRIES)
def store_campaign(campaign_file: str | None) -> int:
    """Store the campaign file as a new version when it changed; returns the version."""
    settings = get_settings()
    spec = load_campaign(Path(campaign_file) if campaign_file else settings.campaign_file)
    with session_scope(get_engine(settings)) as session:
        return sync_campaign(session=session, spec=spec).version


@task(name="close-expired-moments", **RETRIES)
def close_moments(now: datetime) -> int:
    """End the contact-moment enrollments whose links have all expired; returns how many."""
    with get_engine(get_settings()).begin() as conn:
        return close_expired_moments(conn, now=now)


@task(name="next-due-batch", **RETRIES)
def next_due_batch(
    after_id: int, now: datetime, actor: str
) -> tuple[int, list[tuple[int, list[int], dict[str, Any]]], int]:
    """The next send task's worth of due enrollments after ``after_id``, grouped by round with
    each round's newest ladder: (last id, [(round id, enrollment ids, spec)], campaign updates
    audited).
    A last id of 0 means nothing more is due."""
    settings = get_settings()
    engine = get_engine(settings)
    with engine.connect() as conn:
        due = due_for_advance(
            conn=conn, now=now, limit=settings.batch_size * BATCHES_PER_SEND_TASK, after_id=after_id
        )
    if not due:
        return 0, [], 0
    by_round: dict[int, list[int]] = {}
    for enrollment_id, round_id in due:
        by_round.setdefault(round_id, []).append(enrollment_id)
    with engine.connect() as conn:
        rounds = round_campaigns(conn, by_round)
    with engine.begin() as conn:
        updates = record_campaign_updates(conn, rounds.values(), now=now, actor=actor)
    groups = [
        (round_id, ids, rounds[round_id].spec.model_dump(mode="json"))
        for round_id, ids in by_round.items()
    ]
    return due[-1][0], groups, updates


def count_due(engine: Engine, now: datetime) -> int:
    """How many enrollments the advance finds due at ``now`` (those
    :func:`~outreach.sending.due.due_for_advance` pages through): the progress bar's whole."""
    e = ENROLLMENT.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(e.state == ACTIVE, e.next_due_at <= now)
            ).scalar_one()
        )


@flow(name="ladder-advance")
def advance_ladders(
    started_by: str = "system:advance", campaign_file: str | None = None
) -> dict[str, int]:
    """Send the next step of every due enrollment, in batches; never a step twice.

    ``campaign_file`` (default: the settings' file) is stored as a new version when it changed;
    an invalid file stops the run before anything is sent. Send tasks run side by side within
    the round's window (:func:`flows.tasks.send_window`) while the next batch is selected.
    """
    store_campaign(campaign_file)
    now = utcnow()
    engine = get_engine(get_settings())
    progress = Progress(f"{ADVANCE_KEY}-progress", "Ladder advance: starting")
    moments_closed = close_moments(now)
    due = count_due(engine, now)
    campaign_updates = 0
    round_of: dict[int, int] = {}  # a batch's first enrollment id: its round
    per_round: dict[int, tuple[int, BatchOutcome]] = {}
    handled = 0

    def batches() -> Iterator[tuple[list[int], dict[str, Any]]]:
        nonlocal campaign_updates
        after = 0
        while True:
            after, groups, updates = next_due_batch(after, now, started_by)
            campaign_updates += updates
            if not after:
                return
            for round_id, ids, spec_data in groups:
                round_of[ids[0]] = round_id
                yield ids, spec_data

    def done(ids: list[int], outcome: BatchOutcome) -> None:
        nonlocal handled
        round_id = round_of.pop(ids[0])
        before, so_far = per_round.get(round_id, (0, BatchOutcome()))
        per_round[round_id] = (before + len(ids), so_far + outcome)
        handled += len(ids)
        progress.update(
            share(handled, due), f"Ladder advance: {handled} of {due} due enrollments handled."
        )

    totals = send_all(batches(), actor=started_by, window=send_window(engine), on_done=done)
    seal(engine)  # closed moments and campaign updates join the chain
    summary = dict(vars(totals))
    summary.update(campaign_updates=campaign_updates, moments_closed=moments_closed)
    get_run_logger().info("ladder advance: %s", summary)
    advance_table(per_round, summary).publish()
    progress.update(100.0, f"Ladder advance finished: {handled} due enrollments handled.")
    return summary
