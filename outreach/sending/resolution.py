"""The steward's decision on messages left in doubt: send again, or drop; both audited.

Only a message that is still in doubt may be resolved: pending, handed to a provider, without a
provider event (an event proves it was taken: the next run records it as sent) and not in
flight in another live run. The enrollments are leased while the decision is written, so no
run sends them meanwhile. *Drop* records the message as failed with the steward's reason (the
enrollment's next step is due at once, as after any failure); *send* gives the claim back, so
the message is handed to its channel again (:func:`outreach.sending.dispatch.send_due_steps`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.audit import AuditRow, audit_many
from models.campaigns.versions import round_campaigns
from models.tables import ENROLLMENT, OUTREACH
from models.types import utcnow
from models.vocabulary import ACTIVE, PENDING, AuditAction
from outreach.channels.base import Channel, SendResult
from outreach.config import OutreachConfig
from outreach.sending.attempts import with_events
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.leases import leased
from outreach.sending.recording import record_results

Decision = Literal["send", "drop"]
DECISIONS: tuple[Decision, ...] = ("send", "drop")


@dataclass
class Resolution:
    """What became of each asked id: resolved, or refused with the reason why not."""

    decision: Decision
    resolved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    # For "send": enrollment ids by round, to hand to the dispatcher.
    to_send: dict[int, list[int]] = field(default_factory=dict)


def _rows(engine: Engine, outreach_ids: Sequence[int]) -> dict[int, Any]:
    o, e = OUTREACH.c, ENROLLMENT.c
    with engine.connect() as conn:
        return {
            int(r.id): r
            for r in conn.execute(
                select(
                    o.id,
                    o.enrollment_id,
                    o.profile_id,
                    o.step_index,
                    o.channel,
                    o.status,
                    o.attempted_at,
                    o.attempts,
                    o.doubt_reason,
                    o.context,
                    e.round_id,
                    e.state,
                    e.lease_owner,
                    e.lease_expires_at,
                )
                .select_from(OUTREACH.outerjoin(ENROLLMENT, e.id == o.enrollment_id))
                .where(o.id.in_(list(outreach_ids)))
            )
        }


def _refusal(row: Any | None, has_events: bool, now: datetime) -> str | None:
    if row is None:
        return "no such outreach"
    if row.context is not None or row.enrollment_id is None:
        return "a contact-moment ask, not a ladder message"
    if row.status != PENDING:
        return f"already settled ({row.status})"
    if row.attempted_at is None:
        return "not in doubt: not yet handed to a channel (the next run sends it)"
    if row.state != ACTIVE:
        return f"its enrollment has ended ({row.state})"
    if has_events:
        return "a provider event shows it was taken: the next run records it as sent"
    if row.lease_owner is not None and row.lease_expires_at and row.lease_expires_at > now:
        return "another run is working on it right now"
    return None


def resolve_in_doubt(
    engine: Engine,
    *,
    outreach_ids: Sequence[int],
    decision: Decision,
    decided_by: str,
    reason: str,
    now: datetime,
    lease_seconds: float = 120.0,
) -> Resolution:
    """Apply the steward's ``decision`` to the in-doubt messages among ``outreach_ids``."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    result = Resolution(decision=decision)
    rows = _rows(engine, outreach_ids)
    with engine.connect() as conn:
        evidenced = with_events(conn, rows)
    wall = utcnow()
    eligible: list[Any] = []
    for outreach_id in dict.fromkeys(outreach_ids):
        row = rows.get(outreach_id)
        why = _refusal(row, outreach_id in evidenced, wall)
        if why is None:
            eligible.append(row)
        else:
            result.refused[outreach_id] = why
    if not eligible:
        return result
    with leased(engine, [r.enrollment_id for r in eligible], seconds=lease_seconds) as lease:
        won = set(lease.ids)
        for row in eligible:
            if row.enrollment_id not in won:
                result.refused[row.id] = "another run is working on it right now"
        mine = [r for r in eligible if r.enrollment_id in won]
        if mine:
            _apply(engine, mine, decision, decided_by, reason, now, result)
    return result


def _apply(
    engine: Engine,
    rows: Sequence[Any],
    decision: Decision,
    decided_by: str,
    reason: str,
    now: datetime,
    result: Resolution,
) -> None:
    o = OUTREACH.c
    ids = [r.id for r in rows]
    with engine.begin() as conn:
        if decision == "drop":
            specs = round_campaigns(conn, {r.round_id for r in rows})
            for round_id in {r.round_id for r in rows}:
                group = [r for r in rows if r.round_id == round_id]
                record_results(
                    conn,
                    pending=group,
                    results={
                        r.id: SendResult(
                            outreach_id=r.id,
                            ok=False,
                            provider="steward",
                            error=f"dropped while in doubt by {decided_by}: {reason}",
                        )
                        for r in group
                    },
                    spec=specs[round_id].spec,
                    now=now,
                    actor=decided_by,
                )
        else:
            conn.execute(
                update(OUTREACH)
                .where(o.id.in_(ids), o.status == PENDING)
                .values(attempted_at=None, doubt_reason=None, updated_at=now)
            )
            for r in rows:
                result.to_send.setdefault(int(r.round_id), []).append(int(r.enrollment_id))
        audit_many(
            conn,
            [
                AuditRow(
                    at=now,
                    actor=decided_by,
                    action=AuditAction.OUTREACH_RESOLVED,
                    entity_type="outreach",
                    entity_id=r.id,
                    profile_id=r.profile_id,
                    before={
                        "status": PENDING,
                        "attempted_at": r.attempted_at.isoformat(),
                        "attempts": r.attempts,
                        "doubt_reason": r.doubt_reason,
                    },
                    after={"decision": decision},
                    reason=reason[:500],
                    evidence={"round_id": r.round_id, "enrollment_id": r.enrollment_id},
                )
                for r in rows
            ],
        )
    result.resolved.extend(ids)


def send_again(
    engine: Engine,
    to_send: Mapping[int, Sequence[int]],
    *,
    channels: Mapping[str, Channel],
    config: OutreachConfig,
    now: datetime,
    actor: str,
) -> BatchOutcome:
    """Hand the messages given back by a *send* decision to their channels now: the pending
    step of each enrollment (by round), by the round's newest ladder."""
    with engine.connect() as conn:
        rounds = round_campaigns(conn, to_send)
    total = BatchOutcome()
    for round_id, enrollment_ids in sorted(to_send.items()):
        total += send_due_steps(
            engine=engine,
            enrollment_ids=list(enrollment_ids),
            spec=rounds[round_id].spec,
            channels=channels,
            config=config,
            now=now,
            actor=actor,
        )
    return total
