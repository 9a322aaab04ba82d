"""Rounds and enrollment: start a round, enrol the selected profiles set-based, sum it up.

Enrolling is ``INSERT INTO enrollment ... SELECT ... ON CONFLICT DO NOTHING`` per range of
profile ids: the unique (round, profile) key and the one-active-enrollment-per-profile index make
it idempotent and safe against a concurrent round.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, case, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from models.audit import audit
from models.campaigns.gaps import GAP_BITS
from models.campaigns.spec import CampaignSpec
from models.rounds.selection import DECLINED_DAYS, selection_query
from models.tables import ENROLLMENT, OUTREACH, PROFILE, ROUND, Campaign, Round
from models.types import UTCDateTime, utcnow
from models.vocabulary import ACTIVE, AuditAction

FINISHED = "finished"


def create_round(
    *, session: Session, campaign: Campaign, started_by: str, parameters: dict[str, Any]
) -> Round:
    """A new running round of ``campaign``, with a ``round.start`` audit event."""
    if campaign.id is None:
        raise ValueError("the campaign must be stored (flushed) before a round of it starts")
    round_ = Round(campaign_id=campaign.id, started_by=started_by, parameters=parameters)
    session.add(round_)
    session.flush()
    audit(
        session=session,
        actor=started_by,
        action=AuditAction.ROUND_START,
        entity_type="round",
        entity_id=round_.id,
        after={"campaign": campaign.key, "version": campaign.version, **parameters},
        reason=f"enrichment round of campaign {campaign.key} v{campaign.version}",
    )
    return round_


def finish_round(*, session: Session, round_id: int, summary: dict[str, Any], actor: str) -> None:
    """Mark the round finished with its summary, with a ``round.finish`` audit event."""
    now = utcnow()
    session.execute(
        update(ROUND)
        .where(ROUND.c.id == round_id)
        .values(status=FINISHED, summary=summary, finished_at=now)
    )
    audit(
        session=session,
        actor=actor,
        action=AuditAction.ROUND_FINISH,
        entity_type="round",
        entity_id=round_id,
        after=summary,
    )


def _insert(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(ENROLLMENT)


def _enroll_range(
    conn: Connection,
    *,
    round_id: int,
    spec: CampaignSpec,
    now: datetime,
    max_age_days: int,
    cooldown_days: int,
    exhausted_cooldown_days: int,
    id_range: tuple[int, int],
    limit: int | None,
    declined_days: int,
) -> int:
    sel = selection_query(
        gaps=spec.gaps,
        now=now,
        max_age_days=max_age_days,
        cooldown_days=cooldown_days,
        exhausted_cooldown_days=exhausted_cooldown_days,
        id_range=id_range,
        reask=spec.reask_versions(),
        fields=spec.purposes,
        declined_days=declined_days,
    ).subquery("selected")
    when = literal(now, UTCDateTime())
    # The outer WHERE also keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    source = select(
        literal(round_id, Integer()),
        sel.c.profile_id,
        literal(ACTIVE, String()),
        sel.c.gap_mask,
        sel.c.fields,
        literal(-1, Integer()),
        when,
        when,
        when,
    ).where(sel.c.profile_id.is_not(None))
    if limit is not None:
        source = source.order_by(sel.c.profile_id).limit(limit)
    columns = [
        "round_id",
        "profile_id",
        "state",
        "gap_mask",
        "fields_at_start",
        "step_index",
        "next_due_at",
        "created_at",
        "updated_at",
    ]
    stmt = _insert(conn).from_select(columns, source).on_conflict_do_nothing()
    # Without preserve_rowcount SQLAlchemy may report -1 for INSERT ... SELECT on psycopg.
    result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
    return max(int(result.rowcount or 0), 0)


def profile_id_ranges(*, conn: Connection, batch_size: int) -> list[tuple[int, int]]:
    """Half-open ranges ``[lo, hi)`` of profile ids, ``batch_size`` ids wide, covering all."""
    lo, hi = conn.execute(select(func.min(PROFILE.c.id), func.max(PROFILE.c.id))).one()
    if lo is None:
        return []
    return [(start, start + batch_size) for start in range(lo, hi + 1, batch_size)]


def enroll(
    *,
    conn: Engine | Connection,
    round_id: int,
    spec: CampaignSpec,
    now: datetime,
    max_age_days: int,
    cooldown_days: int,
    exhausted_cooldown_days: int,
    batch_size: int,
    limit: int | None = None,
    id_range: tuple[int, int] | None = None,
    declined_days: int = DECLINED_DAYS,
) -> int:
    """Enrol every selectable profile with a gap into the round; returns how many were enrolled.

    Given an Engine, each batch of ``batch_size`` profile ids commits on its own (a million
    profiles never hold one transaction); given a Connection, the caller owns the transaction.
    ``id_range`` restricts to ``lo <= profile.id < hi``; ``limit`` caps this call's enrolments.
    Rerunning for the same round enrols nobody twice.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if isinstance(conn, Engine):
        with conn.connect() as c:
            ranges = profile_id_ranges(conn=c, batch_size=batch_size)
    else:
        ranges = profile_id_ranges(conn=conn, batch_size=batch_size)
    if id_range is not None:
        ranges = [
            (max(lo, id_range[0]), min(hi, id_range[1]))
            for lo, hi in ranges
            if lo < id_range[1] and hi > id_range[0]
        ]
    enrolled = 0
    for batch in ranges:
        remaining = None if limit is None else limit - enrolled
        if remaining is not None and remaining <= 0:
            break
        kwargs: dict[str, Any] = {
            "round_id": round_id,
            "spec": spec,
            "now": now,
            "max_age_days": max_age_days,
            "cooldown_days": cooldown_days,
            "exhausted_cooldown_days": exhausted_cooldown_days,
            "id_range": batch,
            "limit": remaining,
            "declined_days": declined_days,
        }
        if isinstance(conn, Engine):
            with conn.begin() as c:
                enrolled += _enroll_range(c, **kwargs)
        else:
            enrolled += _enroll_range(conn, **kwargs)
    return enrolled


def round_summary(*, conn: Connection, round_id: int) -> dict[str, Any]:
    """Counts for a round from the database: enrolled per gap and state, outreach per status."""
    e = ENROLLMENT.c
    gap_sums = [
        func.coalesce(func.sum(case((e.gap_mask.op("&")(bit) != 0, 1), else_=0)), 0).label(gap)
        for gap, bit in GAP_BITS.items()
    ]
    totals = (
        conn.execute(
            select(func.count().label("enrolled"), *gap_sums).where(e.round_id == round_id)
        )
        .mappings()
        .one()
    )
    states = conn.execute(
        select(e.state, func.count()).where(e.round_id == round_id).group_by(e.state)
    ).all()
    o = OUTREACH.c
    outreach = conn.execute(
        select(o.channel, o.status, func.count())
        .select_from(OUTREACH.join(ENROLLMENT, ENROLLMENT.c.id == o.enrollment_id))
        .where(e.round_id == round_id)
        .group_by(o.channel, o.status)
    ).all()
    per_status: dict[str, int] = {}
    per_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in outreach:
        per_status[status] = per_status.get(status, 0) + count
        per_channel.setdefault(channel, {})[status] = count
    return {
        "round_id": round_id,
        "enrolled": int(totals["enrolled"]),
        "per_gap": {gap: int(totals[gap]) for gap in GAP_BITS if totals[gap]},
        "per_state": {state: int(count) for state, count in states},
        "per_channel": per_channel,
        "sent": per_status.get("sent", 0),
        "failed": per_status.get("failed", 0),
        "skipped": per_status.get("skipped", 0),
        "pending": per_status.get("pending", 0),
    }
