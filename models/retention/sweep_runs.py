"""The stale sweep: runs that record a proposal (keep, archive or erase) per stale profile, the
steward's listing, and the decisions.

Which profiles are stale and the rule that picks each proposal are in :mod:`models.retention.stale`;
the decisions in :mod:`models.retention.sweep_decisions`, the erasure in
:mod:`models.retention.erasure`. Everything a caller needs is importable from here. Nothing changes
before the steward decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from models.audit import AuditRow, audit_many
from models.retention.stale import (
    ARCHIVE,
    DECIDED,
    DECISIONS,
    ERASE,
    KEEP,
    OPEN,
    REASONS,
    StaleProfile,
    SweepError,
    find_stale,
    last_interaction,
    propose,
)
from models.retention.sweep_decisions import Decided, decide
from models.tables import PROFILE, PROPOSAL, SWEEP_RUN
from models.vocabulary import AuditAction

__all__ = [
    "ARCHIVE",
    "DECIDED",
    "DECISIONS",
    "ERASE",
    "KEEP",
    "OPEN",
    "REASONS",
    "Decided",
    "ProposalView",
    "StaleProfile",
    "SweepError",
    "decide",
    "find_stale",
    "finish_sweep",
    "last_interaction",
    "list_proposals",
    "propose",
    "record_proposals",
    "run_sweep",
    "start_sweep",
    "sweep_batch",
    "sweep_summary",
]

RUN = SWEEP_RUN
_CHUNK = 500


def start_sweep(conn: Connection, *, started_by: str, idle_days: int, now: datetime) -> int:
    """A new running sweep, with a ``sweep.start`` audit event; returns its id."""
    run_id = int(
        conn.execute(
            insert(RUN).values(
                started_by=started_by, idle_days=idle_days, status="running", started_at=now
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=started_by,
                action=AuditAction.SWEEP_START,
                entity_type="sweep_run",
                entity_id=run_id,
                after={"idle_days": idle_days},
            )
        ],
    )
    return run_id


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(PROPOSAL).on_conflict_do_nothing()


def record_proposals(
    conn: Connection, sweep_run_id: int, rows: Sequence[StaleProfile], *, now: datetime
) -> int:
    """Store a proposal per stale profile; returns how many were new.

    Idempotent per (sweep, profile), and a profile with a proposal still open from any sweep
    gets no second one (a partial unique index holds this even against a concurrent sweep).
    """
    inserted = 0
    for start in range(0, len(rows), _CHUNK):
        values = []
        for row in rows[start : start + _CHUNK]:
            proposal, reason = propose(row)
            values.append(
                {
                    "sweep_run_id": sweep_run_id,
                    "profile_id": row.profile_id,
                    "proposal": proposal,
                    "reason": reason,
                    "last_interaction_at": row.last_interaction_at,
                    "status": OPEN,
                    "created_at": now,
                }
            )
        if values:
            result = conn.execute(_insert_ignoring_duplicates(conn).values(values))
            inserted += max(result.rowcount, 0)
    return inserted


def sweep_batch(
    conn: Connection,
    *,
    sweep_run_id: int,
    now: datetime,
    idle_days: int,
    limit: int,
    after_id: int,
) -> tuple[int | None, int]:
    """Find and record one batch: (the last profile id seen or None when done, proposals new)."""
    rows = find_stale(conn, now=now, idle_days=idle_days, limit=limit, after_id=after_id)
    if not rows:
        return None, 0
    return rows[-1].profile_id, record_proposals(conn, sweep_run_id, rows, now=now)


def sweep_summary(conn: Connection, *, sweep_run_id: int) -> dict[str, Any]:
    """Counts of this sweep's proposals per proposal and per reason code."""
    rows = conn.execute(
        select(PROPOSAL.c.proposal, PROPOSAL.c.reason, func.count())
        .where(PROPOSAL.c.sweep_run_id == sweep_run_id)
        .group_by(PROPOSAL.c.proposal, PROPOSAL.c.reason)
    ).all()
    per_proposal = dict.fromkeys(DECISIONS, 0)
    per_reason: dict[str, int] = {}
    for proposal, reason, n in rows:
        per_proposal[proposal] += n
        per_reason[reason] = per_reason.get(reason, 0) + n
    return {
        "sweep_run_id": sweep_run_id,
        "proposed": sum(per_proposal.values()),
        "per_proposal": per_proposal,
        "per_reason": dict(sorted(per_reason.items())),
    }


def finish_sweep(conn: Connection, *, sweep_run_id: int, now: datetime, actor: str) -> dict:
    """Mark the sweep finished with its summary, with a ``sweep.finish`` audit event."""
    summary = sweep_summary(conn, sweep_run_id=sweep_run_id)
    idle_days = conn.execute(select(RUN.c.idle_days).where(RUN.c.id == sweep_run_id)).scalar_one()
    summary["idle_days"] = idle_days
    conn.execute(
        update(RUN)
        .where(RUN.c.id == sweep_run_id)
        .values(status="finished", summary=summary, finished_at=now)
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=actor,
                action=AuditAction.SWEEP_FINISH,
                entity_type="sweep_run",
                entity_id=sweep_run_id,
                after=summary,
            )
        ],
    )
    return summary


def run_sweep(
    engine: Engine, *, started_by: str, idle_days: int, now: datetime, batch_size: int
) -> dict[str, Any]:
    """The whole sweep without Prefect: one transaction per batch; returns the summary."""
    with engine.begin() as conn:
        run_id = start_sweep(conn, started_by=started_by, idle_days=idle_days, now=now)
    after: int | None = 0
    while after is not None:
        with engine.begin() as conn:
            after, _new = sweep_batch(
                conn,
                sweep_run_id=run_id,
                now=now,
                idle_days=idle_days,
                limit=batch_size,
                after_id=after,
            )
    with engine.begin() as conn:
        return finish_sweep(conn, sweep_run_id=run_id, now=now, actor=started_by)


# ------------------------------------------------------------------------------- the listing


@dataclass(frozen=True)
class ProposalView:
    """One proposal as the steward sees it: no contact data, only the external id."""

    id: int
    sweep_run_id: int
    external_id: str
    proposal: str
    reason: str
    last_interaction_at: datetime | None
    status: str
    decision: str | None
    decided_by: str | None


def list_proposals(
    conn: Connection, *, status: str | None = OPEN, proposal: str | None = None
) -> list[ProposalView]:
    """Proposals in id order, optionally of one status and one kind."""
    query = select(
        PROPOSAL.c.id,
        PROPOSAL.c.sweep_run_id,
        PROFILE.c.external_id,
        PROPOSAL.c.proposal,
        PROPOSAL.c.reason,
        PROPOSAL.c.last_interaction_at,
        PROPOSAL.c.status,
        PROPOSAL.c.decision,
        PROPOSAL.c.decided_by,
    ).join(PROFILE, PROFILE.c.id == PROPOSAL.c.profile_id)
    if status is not None:
        query = query.where(PROPOSAL.c.status == status)
    if proposal is not None:
        query = query.where(PROPOSAL.c.proposal == proposal)
    return [ProposalView(**row) for row in conn.execute(query.order_by(PROPOSAL.c.id)).mappings()]
