"""Where a round stands: its header, and counts per step, per enrollment state and per reason.

A handful of GROUP BY queries, whatever the round's size. Reasons are counted as stored: they
hold no personal data by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from models.campaigns.versions import ladder_versions
from models.tables import CAMPAIGN, ENROLLMENT, OUTREACH, ROUND
from models.vocabulary import ACTIVE, ENROLLMENT_STATES, FAILED, OUTREACH_STATUSES, SKIPPED

# The kinds of reason, in the order a steward reads them; ended enrollments count per state.
WAITING = "waiting"
REASON_KINDS = (WAITING, SKIPPED, FAILED, *(s for s in ENROLLMENT_STATES if s != ACTIVE))
UNRECORDED = "(no reason recorded)"


class RoundNotFound(LookupError):
    """No round has this id."""


@dataclass(frozen=True)
class StepCounts:
    """Outreach rows of one ladder step on one channel, per status (every status present)."""

    step_index: int
    channel: str
    counts: dict[str, int]

    @property
    def step(self) -> int:
        """The step as the steward numbers it (the first is 1)."""
        return self.step_index + 1


@dataclass(frozen=True)
class ReasonCount:
    """``kind``: waiting (active, not yet sent), skipped, failed, or the state an enrollment
    ended in (completed, exhausted, stopped)."""

    kind: str
    reason: str
    count: int


@dataclass(frozen=True)
class RoundStatus:
    round_id: int
    campaign_key: str
    campaign_version: int
    started_at: datetime
    started_by: str
    status: str
    finished_at: datetime | None
    per_state: dict[str, int]
    per_step: list[StepCounts]
    per_reason: list[ReasonCount]
    # The version whose ladder the round last followed (newer than campaign_version after an
    # edit of the campaign file; see models.campaigns.versions).
    ladder_version: int | None = None

    @property
    def enrolled(self) -> int:
        return sum(self.per_state.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (ISO timestamps)."""
        return {
            "round_id": self.round_id,
            "campaign": {"key": self.campaign_key, "version": self.campaign_version},
            "ladder_version": self.ladder_version or self.campaign_version,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "status": self.status,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "enrolled": self.enrolled,
            "per_state": self.per_state,
            "per_step": [
                {"step": s.step, "step_index": s.step_index, "channel": s.channel, **s.counts}
                for s in self.per_step
            ],
            "per_reason": [
                {"kind": r.kind, "reason": r.reason, "count": r.count} for r in self.per_reason
            ],
        }


def round_status(conn: Connection, round_id: int) -> RoundStatus:
    """The round's header and counts; raises :class:`RoundNotFound` for an unknown id."""
    r, c = ROUND.c, CAMPAIGN.c
    header = conn.execute(
        select(c.key, c.version, r.started_at, r.started_by, r.status, r.finished_at)
        .select_from(ROUND.join(CAMPAIGN, c.id == r.campaign_id))
        .where(r.id == round_id)
    ).first()
    if header is None:
        raise RoundNotFound(f"round {round_id} does not exist")
    return RoundStatus(
        round_id=round_id,
        campaign_key=header.key,
        campaign_version=int(header.version),
        started_at=header.started_at,
        started_by=header.started_by,
        status=header.status,
        finished_at=header.finished_at,
        per_state=_per_state(conn, round_id),
        per_step=_per_step(conn, round_id),
        per_reason=_per_reason(conn, round_id),
        ladder_version=ladder_versions(conn, [round_id]).get(round_id),
    )


def _per_state(conn: Connection, round_id: int) -> dict[str, int]:
    e = ENROLLMENT.c
    counts = dict.fromkeys(ENROLLMENT_STATES, 0)
    rows = conn.execute(
        select(e.state, func.count()).where(e.round_id == round_id).group_by(e.state)
    )
    for state, count in rows:
        counts[state] = int(count)
    return counts


def _round_outreach() -> Any:
    """Ladder-step outreach of the round's enrollments (contact-moment asks left out)."""
    o, e = OUTREACH.c, ENROLLMENT.c
    return OUTREACH.join(ENROLLMENT, e.id == o.enrollment_id), o.context.is_(None)


def _per_step(conn: Connection, round_id: int) -> list[StepCounts]:
    o, e = OUTREACH.c, ENROLLMENT.c
    joined, ladder_only = _round_outreach()
    rows = conn.execute(
        select(o.step_index, o.channel, o.status, func.count())
        .select_from(joined)
        .where(e.round_id == round_id, ladder_only)
        .group_by(o.step_index, o.channel, o.status)
    )
    steps: dict[tuple[int, str], dict[str, int]] = {}
    for step_index, channel, status, count in rows:
        counts = steps.setdefault((int(step_index), channel), dict.fromkeys(OUTREACH_STATUSES, 0))
        counts[status] = int(count)
    return [StepCounts(i, ch, counts) for (i, ch), counts in sorted(steps.items())]


def _per_reason(conn: Connection, round_id: int) -> list[ReasonCount]:
    o, e = OUTREACH.c, ENROLLMENT.c
    joined, ladder_only = _round_outreach()
    in_round = e.round_id == round_id
    waiting = select(e.wait_reason, func.count()).where(
        in_round, e.state == ACTIVE, e.wait_reason.is_not(None)
    )
    ended = select(e.state, e.end_reason, func.count()).where(in_round, e.state != ACTIVE)
    # A skipped step's reason says why; a failed one's is the step's purpose, so its error counts.
    why = case((o.status == SKIPPED, o.reason), else_=o.error)
    outreach = (
        select(o.status, why, func.count())
        .select_from(joined)
        .where(in_round, ladder_only, o.status.in_((SKIPPED, FAILED)))
        .group_by(o.status, why)
    )
    found: list[ReasonCount] = []
    for reason, count in conn.execute(waiting.group_by(e.wait_reason)):
        found.append(ReasonCount(WAITING, reason, int(count)))
    for status, reason, count in conn.execute(outreach):
        found.append(ReasonCount(status, reason or UNRECORDED, int(count)))
    for state, reason, count in conn.execute(ended.group_by(e.state, e.end_reason)):
        found.append(ReasonCount(state, reason or UNRECORDED, int(count)))
    return _merged(found)


def _merged(found: list[ReasonCount]) -> list[ReasonCount]:
    """One entry per (kind, reason), by kind in reading order, then the most frequent first."""
    totals: dict[tuple[str, str], int] = {}
    for item in found:
        totals[(item.kind, item.reason)] = totals.get((item.kind, item.reason), 0) + item.count
    order = {kind: i for i, kind in enumerate(REASON_KINDS)}
    return [
        ReasonCount(kind, reason, count)
        for (kind, reason), count in sorted(
            totals.items(), key=lambda kv: (order.get(kv[0][0], 99), -kv[1], kv[0][1])
        )
    ]
