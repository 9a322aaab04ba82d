"""What earlier rounds of a campaign showed per ladder step: reached, sent, answered, verified,
completed; two grouped queries whatever the rounds' size.

Counted per step position and channel as the current ladder has them, over the rounds of the
same campaign key (every version; the standing contact-moment rounds left out). A message
counts only once its step's response window has closed (written at least ``wait_days`` ago):
answers to a younger message may still come, so its round would look worse than it is.

- reached: the step's outreach rows (sent, failed, pending or skipped);
- attempted: those sent or failed (a usable contact point when the step came);
- sent: those the provider took (``sent_at`` set: a message that bounced later was sent all the
  same, and cost the same), as the report's funnel counts them;
- answered: sent messages with a landing-page submission through them;
- verified: of those, the ones whose answer verified a contact point (the audit trail's
  ``contact_point.verified`` with that outreach as evidence: at once on the page, or by the
  confirmation link or code it started);
- completed: of those answered, the ones whose enrollment ended completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.engine import Connection

from models.campaigns.spec import Step
from models.tables import AUDIT, CAMPAIGN, ENROLLMENT, OUTREACH, ROUND, SUBMISSION
from models.vocabulary import COMPLETED, FAILED, SENT, STANDING, AuditAction

OUT, E, R, C, S, A = OUTREACH, ENROLLMENT, ROUND, CAMPAIGN, SUBMISSION, AUDIT


@dataclass(frozen=True)
class StepObservation:
    """The counts of one ladder step over the earlier rounds; ``rounds``: those that sent it."""

    step_index: int
    channel: str
    reached: int = 0
    attempted: int = 0
    sent: int = 0
    answered: int = 0
    verified: int = 0
    completed: int = 0
    rounds: tuple[int, ...] = ()


def _rounds_of(key: str, before_round: int | None) -> ColumnElement[bool]:
    condition = and_(C.c.key == key, R.c.status != STANDING)
    return condition if before_round is None else and_(condition, R.c.id < before_round)


def earlier_rounds(conn: Connection, *, key: str, before_round: int | None = None) -> list[int]:
    """The ids of the campaign's rounds (not the standing ones), before ``before_round``."""
    rows = conn.execute(
        select(R.c.id)
        .join(C, C.c.id == R.c.campaign_id)
        .where(_rounds_of(key, before_round))
        .order_by(R.c.id)
    )
    return [int(round_id) for round_id in rows.scalars()]


def _mature_steps(ladder: Sequence[Step], now: datetime) -> ColumnElement[bool]:
    """Ladder outreach of a step the current ladder has at that position with that channel,
    written at least that step's response window ago."""
    return and_(
        OUT.c.context.is_(None),
        or_(
            *(
                and_(
                    OUT.c.step_index == index,
                    OUT.c.channel == step.channel,
                    OUT.c.created_at <= now - timedelta(days=step.wait_days),
                )
                for index, step in enumerate(ladder)
            )
        ),
    )


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def observe(
    conn: Connection,
    *,
    key: str,
    ladder: Sequence[Step],
    now: datetime,
    before_round: int | None = None,
) -> dict[int, StepObservation]:
    """The counts per step index of ``ladder`` (steps nothing was seen of are left out)."""
    base = (
        OUT.join(E, E.c.id == OUT.c.enrollment_id)
        .join(R, R.c.id == E.c.round_id)
        .join(C, C.c.id == R.c.campaign_id)
    )
    where = and_(_rounds_of(key, before_round), _mature_steps(ladder, now))
    reached = conn.execute(
        select(
            OUT.c.step_index,
            E.c.round_id,
            func.count().label("reached"),
            _count(OUT.c.status.in_((SENT, FAILED))).label("attempted"),
            _count(OUT.c.sent_at.is_not(None)).label("sent"),
        )
        .select_from(base)
        .where(where)
        .group_by(OUT.c.step_index, E.c.round_id)
    ).mappings()
    verified = exists().where(
        A.c.profile_id == OUT.c.profile_id,
        A.c.action == AuditAction.CONTACT_POINT_VERIFIED,
        A.c.evidence["outreach_id"].as_integer() == OUT.c.id,
    )
    answered = conn.execute(
        select(
            OUT.c.step_index,
            func.count(func.distinct(OUT.c.id)).label("answered"),
            func.count(func.distinct(case((verified, OUT.c.id)))).label("verified"),
            func.count(func.distinct(case((E.c.state == COMPLETED, OUT.c.id)))).label("completed"),
        )
        .select_from(base.join(S, S.c.outreach_id == OUT.c.id))
        .where(where, OUT.c.sent_at.is_not(None))
        .group_by(OUT.c.step_index)
    ).mappings()
    counts: dict[int, dict[str, Any]] = {}
    for row in reached:
        step = counts.setdefault(row["step_index"], {"rounds": set()})
        for name in ("reached", "attempted", "sent"):
            step[name] = step.get(name, 0) + int(row[name])
        if row["sent"]:
            step["rounds"].add(int(row["round_id"]))
    for row in answered:
        step = counts.setdefault(row["step_index"], {"rounds": set()})
        step.update({name: int(row[name]) for name in ("answered", "verified", "completed")})
    return {
        index: StepObservation(
            step_index=index,
            channel=ladder[index].channel,
            **{name: value for name, value in found.items() if name != "rounds"},
            rounds=tuple(sorted(found["rounds"])),
        )
        for index, found in sorted(counts.items())
    }
