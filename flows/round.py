"""The enrichment round: sync the campaign, start a round, enrol in batches, send first steps.

The shared tasks and the send window are in :mod:`flows.tasks`; this flow adds the enrolment
task. A retried task or a resumed round never sends a step twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine

from enrich.runtime import doubt_channels, get_engine, plan_with_forecast
from enrich.settings import Settings, get_settings
from flows.artifacts import Progress, round_key, round_tables, share
from flows.report import publish_round_report
from flows.tasks import BATCHES_PER_SEND_TASK, RETRIES, send_all, send_window
from models.audit_trail.sealing import seal
from models.campaigns.spec import CampaignSpec, load_campaign, sync_campaign
from models.campaigns.versions import record_campaign_updates, round_campaigns
from models.db import session_scope, stored_id
from models.forecast.stored import store_forecast
from models.messages.in_doubt import unsettled
from models.rounds.enrollment import (
    create_round,
    enroll,
    finish_round,
    profile_id_ranges,
    round_summary,
)
from models.tables import ENROLLMENT, Campaign, Round
from models.types import utcnow
from models.vocabulary import ACTIVE
from outreach.sending.dispatch import BatchOutcome
from outreach.sending.due import due_enrollment_ids

# An enrolment task covers this many enrolment batches of profile ids (bounded, few tasks).
BATCHES_PER_ENROL_TASK = 50
# Unsettled messages named in a run's summary (all of them are counted).
NAMED_IN_SUMMARY = 100


@task(name="enrol-batch", **RETRIES)
def enrol_batch(
    round_id: int,
    spec_data: dict[str, Any],
    id_range: tuple[int, int],
    limit: int | None,
    now: datetime,
) -> int:
    settings = get_settings()
    return enroll(
        conn=get_engine(settings),
        round_id=round_id,
        spec=CampaignSpec.model_validate(spec_data),
        now=now,
        max_age_days=settings.verification_max_age_days,
        cooldown_days=settings.cooldown_days,
        exhausted_cooldown_days=settings.exhausted_cooldown_days,
        declined_days=settings.declined_field_days,
        batch_size=settings.batch_size,
        limit=limit,
        id_range=tuple(id_range),  # type: ignore[arg-type]
    )


def _enrol_all(
    round_id: int,
    spec: CampaignSpec,
    settings: Settings,
    limit: int | None,
    now: datetime,
    on_batch: Callable[[], None],
) -> int:
    engine = get_engine(settings)
    with engine.connect() as conn:
        ranges = profile_id_ranges(
            conn=conn, batch_size=settings.batch_size * BATCHES_PER_ENROL_TASK
        )
    enrolled = 0
    spec_data = spec.model_dump(mode="json")
    for id_range in ranges:
        remaining = None if limit is None else limit - enrolled
        if remaining is not None and remaining <= 0:
            break
        # Sequential on purpose: each task is one set-based statement per batch, and a limit
        # must be honoured in profile order.
        enrolled += enrol_batch(round_id, spec_data, id_range, remaining, now)
        on_batch()
    return enrolled


def _due_batches(
    round_id: int, spec: CampaignSpec, settings: Settings, now: datetime
) -> Iterator[tuple[list[int], dict[str, Any]]]:
    """The round's due first steps, a send task's worth at a time, in enrollment order."""
    engine = get_engine(settings)
    spec_data = spec.model_dump(mode="json")
    after = 0
    while True:
        with engine.connect() as conn:
            ids = due_enrollment_ids(
                conn=conn,
                round_id=round_id,
                now=now,
                limit=settings.batch_size * BATCHES_PER_SEND_TASK,
                after_id=after,
            )
        if not ids:
            return
        after = ids[-1]
        yield ids, spec_data


def _send_all(
    round_id: int,
    spec: CampaignSpec,
    settings: Settings,
    actor: str,
    now: datetime,
    on_batch: Callable[[], None],
) -> BatchOutcome:
    return send_all(
        _due_batches(round_id, spec, settings, now),
        actor=actor,
        window=send_window(get_engine(settings)),
        on_done=lambda _ids, _outcome: on_batch(),
    )


def first_steps_handled(engine: Engine, round_id: int) -> tuple[int, int]:
    """(enrolled, first step handled) of a round: an enrollment's first step is handled once
    its ladder has moved (a step sent, skipped or failed) or it ended (exhausted, completed)."""
    e = ENROLLMENT.c
    handled = case(((e.step_index >= 0) | (e.state != ACTIVE), 1), else_=0)
    with engine.connect() as conn:
        total, done = conn.execute(
            select(func.count(), func.coalesce(func.sum(handled), 0)).where(e.round_id == round_id)
        ).one()
    return int(total), int(done)


class RoundProgress:
    """The round's progress artifact: the share of its enrollments whose first step is handled,
    updated after each enrolment task and each send batch, 100 once the round is finished."""

    def __init__(self, engine: Engine, round_id: int) -> None:
        self.engine, self.round_id = engine, round_id
        self.progress = Progress(round_key(round_id, "progress"), f"Round {round_id}: starting")

    def _update(self, stage: str, *, finished: bool = False) -> None:
        enrolled, handled = first_steps_handled(self.engine, self.round_id)
        description = (
            f"Round {self.round_id} {stage}: {handled} of {enrolled} enrolled profiles have "
            "their first step handled."
        )
        self.progress.update(100.0 if finished else share(handled, enrolled), description)

    def enrolled_batch(self) -> None:
        self._update("enrolling")

    def sent_batch(self) -> None:
        self._update("sending")

    def finish(self) -> None:
        self._update("finished", finished=True)


def _run(
    round_id: int,
    spec: CampaignSpec,
    settings: Settings,
    started_by: str,
    limit: int | None,
    *,
    progress: RoundProgress,
    resumed: bool,
) -> dict[str, Any]:
    logger = get_run_logger()
    now = utcnow()
    engine = get_engine(settings)
    enrolled = _enrol_all(round_id, spec, settings, limit, now, progress.enrolled_batch)
    logger.info("round %d: %d profiles enrolled", round_id, enrolled)
    outcome = _send_all(round_id, spec, settings, started_by, now, progress.sent_batch)
    with session_scope(engine) as session:
        round_ = session.get(Round, round_id)
        campaign = session.get(Campaign, round_.campaign_id) if round_ else None
        summary = round_summary(conn=session.connection(), round_id=round_id)
        left = unsettled(
            session.connection(), now=now, channels=doubt_channels(settings), round_id=round_id
        )
        summary.update(
            unsettled=len(left),
            unsettled_named=[u.as_dict() for u in left[:NAMED_IN_SUMMARY]],
            campaign=spec.key,
            campaign_version=campaign.version if campaign else None,
            started_by=round_.started_by if round_ else started_by,
            already_sent=outcome.already_sent,
            in_doubt=sum(1 for u in left if u.kind == "in_doubt"),
            exhausted=summary["per_state"].get("exhausted", 0),
        )
        finish_round(session=session, round_id=round_id, summary=summary, actor=started_by)
    seal(engine)  # the round's own audit rows (start, enrolment, finish) join the chain
    for table in round_tables(summary, resumed=resumed):
        table.publish()
    publish_round_report(engine, round_id, settings)
    progress.finish()
    logger.info(
        "round %d finished: %s sent, %s failed", round_id, summary["sent"], summary["failed"]
    )
    return summary


def _store_forecast(
    round_id: int, spec: CampaignSpec, version: int, settings: Settings, limit: int | None
) -> None:
    """Keep with the round the forecast of its ladder made as it starts (what ``enrich round
    plan`` shows), from the campaign's earlier rounds. A forecast that cannot be made is
    logged and the round goes on without one."""
    try:
        with get_engine(settings).begin() as conn:
            _counted, forecast = plan_with_forecast(
                conn, spec, settings, campaign_version=version, before_round=round_id, limit=limit
            )
            store_forecast(conn, round_id, forecast.as_dict())
    except Exception as err:
        get_run_logger().warning(
            "round %d: no forecast stored (%s); the round goes on", round_id, type(err).__name__
        )


@flow(name="enrichment-round")
def enrichment_round(
    campaign_file: str | None = None, started_by: str = "system", limit: int | None = None
) -> dict[str, Any]:
    """Start a round of the campaign and send every enrolled profile its first ladder step."""
    settings = get_settings()
    spec = load_campaign(Path(campaign_file) if campaign_file else settings.campaign_file)
    with session_scope(get_engine(settings)) as session:
        campaign = sync_campaign(session=session, spec=spec)
        round_ = create_round(
            session=session,
            campaign=campaign,
            started_by=started_by,
            parameters={
                "limit": limit,
                "max_age_days": settings.verification_max_age_days,
                "cooldown_days": settings.cooldown_days,
                "exhausted_cooldown_days": settings.exhausted_cooldown_days,
                "batch_size": settings.batch_size,
            },
        )
        round_id = stored_id(round_)
        version = campaign.version
    progress = RoundProgress(get_engine(settings), round_id)
    _store_forecast(round_id, spec, version, settings, limit)
    return _run(round_id, spec, settings, started_by, limit, progress=progress, resumed=False)


@flow(name="enrichment-round-resume")
def resume_round(round_id: int, started_by: str = "system") -> dict[str, Any]:
    """Finish an interrupted round: enrol the rest, send what is due, never a step twice.

    The settings' campaign file is stored first (an edit becomes a new version); the round then
    sends by the newest version's ladder (:mod:`models.campaigns.versions`).
    """
    settings = get_settings()
    engine = get_engine(settings)
    with session_scope(engine) as session:
        round_ = session.get(Round, round_id)
        if round_ is None:
            raise ValueError(f"round {round_id} does not exist")
        limit = (round_.parameters or {}).get("limit")
        already = session.execute(
            select(func.count()).where(ENROLLMENT.c.round_id == round_id)
        ).scalar_one()
    progress = RoundProgress(engine, round_id)
    file_spec = load_campaign(settings.campaign_file)
    with session_scope(engine) as session:
        sync_campaign(session=session, spec=file_spec)
    with engine.connect() as conn:
        followed = round_campaigns(conn, [round_id])[round_id]
    with engine.begin() as conn:
        record_campaign_updates(conn, [followed], now=utcnow(), actor=started_by)
    remaining = None if limit is None else max(int(limit) - already, 0)
    return _run(
        round_id, followed.spec, settings, started_by, remaining, progress=progress, resumed=True
    )
