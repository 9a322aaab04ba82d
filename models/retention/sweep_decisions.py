"""The steward's decisions on sweep proposals: keep, archive or erase, each audited once.

A decision names open proposals (or all open ones of a kind) and applies to all of them in the
caller's transaction, or to none: an unknown or already decided proposal, or a customer who
interacted after the sweep, refuses the whole decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.retention.erasure import erase_profiles
from models.retention.stale import (
    ARCHIVE,
    DECIDED,
    DECISIONS,
    ERASE,
    KEEP,
    OPEN,
    SweepError,
    last_interaction,
)
from models.tables import ENROLLMENT, PROFILE, PROPOSAL
from models.vocabulary import ACTIVE, STOPPED, AuditAction

_CHUNK = 500


@dataclass(frozen=True)
class Decided:
    """What a decision did: the proposals closed and the profiles archived or erased."""

    decision: str
    proposal_ids: list[int]
    profiles_changed: int
    enrollments_stopped: int


def _targets(
    conn: Connection, proposal_ids: Sequence[int] | None, all_proposed: str | None
) -> list[Any]:
    cols = select(
        PROPOSAL.c.id,
        PROPOSAL.c.sweep_run_id,
        PROPOSAL.c.profile_id,
        PROPOSAL.c.proposal,
        PROPOSAL.c.reason,
        PROPOSAL.c.status,
        PROPOSAL.c.decision,
        PROPOSAL.c.last_interaction_at,
    )
    if all_proposed is not None:
        if all_proposed not in DECISIONS:
            raise SweepError(f"unknown proposal kind {all_proposed!r}; use keep, archive or erase")
        query = cols.where(PROPOSAL.c.status == OPEN, PROPOSAL.c.proposal == all_proposed)
        return list(conn.execute(query.order_by(PROPOSAL.c.id)))
    ids = sorted(set(proposal_ids or ()))
    if not ids:
        raise SweepError("name at least one proposal, or all proposals of a kind")
    rows: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows.extend(conn.execute(cols.where(PROPOSAL.c.id.in_(chunk)).order_by(PROPOSAL.c.id)))
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise SweepError(f"no such proposal: {', '.join(map(str, missing))}; nothing was changed")
    decided = [r for r in rows if r.status != OPEN]
    if decided:
        listed = ", ".join(f"{r.id} ({r.decision})" for r in decided)
        raise SweepError(f"already decided: proposal {listed}; nothing was changed")
    return rows


def _active_since(conn: Connection, rows: Sequence[Any]) -> list[int]:
    """Proposals whose profile interacted after the sweep saw it (the proposal is out of date)."""
    seen = {r.profile_id: r for r in rows}
    stale: list[int] = []
    newest = last_interaction(conn.dialect.name, PROFILE).label("last_at")
    ids = sorted(seen)
    for start in range(0, len(ids), _CHUNK):
        query = select(PROFILE.c.id, newest).where(PROFILE.c.id.in_(ids[start : start + _CHUNK]))
        for pid, last in conn.execute(query):
            recorded = seen[pid].last_interaction_at
            if recorded is not None and last is not None and last > recorded:
                stale.append(seen[pid].id)
    return sorted(stale)


def _stop_enrollments(
    conn: Connection, profile_ids: Sequence[int], decision: str, actor: str, now: datetime
) -> int:
    """End active enrollments of archived or erased profiles, so no further step goes out."""
    stopped = 0
    for start in range(0, len(profile_ids), _CHUNK):
        chunk = profile_ids[start : start + _CHUNK]
        ids = conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.profile_id.in_(chunk), ENROLLMENT.c.state == ACTIVE)
            .values(state=STOPPED, end_reason=f"profile {decision}d", ended_at=now, updated_at=now)
            .returning(ENROLLMENT.c.id, ENROLLMENT.c.profile_id)
        ).all()
        audit_many(
            conn,
            [
                AuditRow(
                    at=now,
                    actor=actor,
                    action=AuditAction.ENROLLMENT_STOP,
                    entity_type="enrollment",
                    entity_id=eid,
                    profile_id=pid,
                    before={"state": ACTIVE},
                    after={"state": STOPPED},
                    reason=f"sweep decision: {decision}",
                )
                for eid, pid in ids
            ],
        )
        stopped += len(ids)
    return stopped


def decide(
    conn: Connection,
    *,
    decision: str,
    decided_by: str,
    now: datetime,
    proposal_ids: Sequence[int] | None = None,
    all_proposed: str | None = None,
    note: str | None = None,
) -> Decided:
    """Apply ``decision`` to the named open proposals, or to every open one of a kind.

    keep closes the proposal and changes nothing else; archive sets the profile's
    ``archived_at`` (hidden from selection and contact moments); erase removes the profile's
    personal data (:mod:`models.retention.erasure`). Both stop active enrollments. Every decision is
    an audit event. Raises :class:`SweepError` (changing nothing) for an unknown or already decided
    proposal, and for a profile that interacted after the sweep proposed it.
    """
    if decision not in DECISIONS:
        raise SweepError(f"unknown decision {decision!r}; use keep, archive or erase")
    if (proposal_ids is None) == (all_proposed is None):
        raise SweepError("name proposals or all proposals of a kind, not both")
    decided_by = (decided_by or "").strip()
    if not decided_by:
        raise SweepError("a decision needs the name of who decides")
    if note is not None and len(note) > 500:
        raise SweepError("the note is longer than 500 characters")
    rows = _targets(conn, proposal_ids, all_proposed)
    if decision != KEEP and (moved := _active_since(conn, rows)):
        raise SweepError(
            "the customer interacted after the sweep: proposal "
            f"{', '.join(map(str, moved))}; run the sweep again. Nothing was changed"
        )
    ids = [r.id for r in rows]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        closed = conn.execute(
            update(PROPOSAL)
            .where(PROPOSAL.c.id.in_(chunk), PROPOSAL.c.status == OPEN)
            .values(
                status=DECIDED,
                decision=decision,
                decided_by=decided_by,
                decided_at=now,
                note=note,
            )
        )
        if closed.rowcount != len(chunk):  # someone decided in between: roll it all back
            raise SweepError("a proposal was decided by someone else meanwhile; nothing changed")
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=decided_by,
                action=AuditAction.SWEEP_DECIDED,
                entity_type="sweep_proposal",
                entity_id=r.id,
                profile_id=r.profile_id,
                before={"status": OPEN, "proposal": r.proposal},
                after={"status": DECIDED, "decision": decision},
                reason=r.reason,
                evidence={"sweep_run_id": r.sweep_run_id, "proposal_id": r.id, "note": note},
            )
            for r in rows
        ],
    )
    profile_ids = sorted({r.profile_id for r in rows})
    changed = stopped = 0
    if decision != KEEP:
        stopped = _stop_enrollments(conn, profile_ids, decision, decided_by, now)
    if decision == ARCHIVE:
        changed = _archive(conn, rows, decided_by, now)
    elif decision == ERASE:
        reasons = {r.profile_id: (r.id, r.reason) for r in rows}
        changed = erase_profiles(
            conn, profile_ids=profile_ids, now=now, actor=decided_by, proposals=reasons
        )
    return Decided(decision, ids, changed, stopped)


def _archive(conn: Connection, rows: Sequence[Any], actor: str, now: datetime) -> int:
    by_profile = {r.profile_id: r for r in rows}
    ids = sorted(by_profile)
    archived: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        result = conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(ids[start : start + _CHUNK]), PROFILE.c.archived_at.is_(None))
            .values(archived_at=now, updated_at=now)
            .returning(PROFILE.c.id)
        )
        archived.extend(result.scalars())
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=actor,
                action=AuditAction.PROFILE_ARCHIVED,
                entity_type="profile",
                entity_id=pid,
                profile_id=pid,
                before={"archived_at": None},
                after={"archived_at": now.isoformat()},
                reason=by_profile[pid].reason,
                evidence={"proposal_id": by_profile[pid].id},
            )
            for pid in sorted(archived)
        ],
    )
    return len(archived)
