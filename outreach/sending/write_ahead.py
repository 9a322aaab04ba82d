"""Phase 1 of sending: write an Outreach row per chosen or skipped step before any provider is
called, or hold the enrollment with a reason when the step may not go out now (send windows,
frequency caps); end enrollments that have no step left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from models.campaigns.gaps import gaps_of
from models.campaigns.ladder import KIND_CHANNEL, next_step
from models.campaigns.spec import CampaignSpec, Step
from models.rounds.exhaustion import end_exhausted
from models.scheduling.caps import recent_sends
from models.scheduling.due_step_release import Respect, hold_for
from models.tables import CONTACT, ENROLLMENT, OUTREACH, PROFILE
from models.vocabulary import (
    ACTIVE,
    CHANNEL_KIND,
    EXHAUSTED,
    PENDING,
    SKIPPED,
    STOPPED,
    USABLE_STATUSES,
    VERIFIED,
)
from outreach.i18n import choose_locale

NO_USABLE = {"email": "no usable email", "sms": "no usable mobile", "letter": "no usable address"}
# Among usable contact points of a kind: the primary first, then the best-verified, the newest.
STATUS_RANK = {VERIFIED: 0, "valid": 1, "unverified": 2}


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(OUTREACH)


def _best_contacts(rows: Sequence[Any]) -> dict[str, Any]:
    """The contact point to use per channel, from one profile's usable contact points."""
    best: dict[str, Any] = {}
    for row in sorted(
        rows, key=lambda r: (not r.is_primary, STATUS_RANK.get(r.status, 9), -r.cp_id)
    ):
        best.setdefault(KIND_CHANNEL[row.kind], row)
    return best


def _step_reason(round_id: int, index: int, step: Step, gap_mask: int) -> str:
    gaps = ", ".join(gaps_of(gap_mask)) or "none"
    return f"round {round_id}, step {index + 1} ({step.channel}): gaps {gaps}"


def write_ahead(
    conn: Connection,
    *,
    enrollment_ids: Sequence[int],
    spec: CampaignSpec,
    now: datetime,
    respect: Respect | None,
    languages: Sequence[str] = (),
    default_locale: str = "nl",
) -> tuple[int, int, int]:
    """Phase 1: pending and skipped Outreach rows, or a wait with its reason when the step may
    not go out now; (skipped rows, exhausted enrollments, waiting enrollments).

    With ``languages`` (those with a catalogue), a profile whose locale has none gets its
    message in ``default_locale``: the row records that locale and, in its reason, why."""
    e, p, cp = ENROLLMENT.c, PROFILE.c, CONTACT.c
    usable = and_(
        cp.profile_id == e.profile_id,
        cp.kind.in_(tuple(CHANNEL_KIND.values())),
        cp.status.in_(USABLE_STATUSES),
        cp.opted_out_at.is_(None),
    )
    # An enrollment with a row beyond its current step was handled by an earlier run.
    rows = conn.execute(
        select(
            e.id,
            e.round_id,
            e.profile_id,
            e.gap_mask,
            e.step_index,
            p.locale,
            p.opted_out_at,
            p.objected_at,
            p.restricted_at,
            p.time_zone,
            p.country.label("profile_country"),
            cp.id.label("cp_id"),
            cp.kind,
            cp.status,
            cp.is_primary,
        )
        .select_from(ENROLLMENT.join(PROFILE, p.id == e.profile_id).outerjoin(CONTACT, usable))
        .where(
            e.id.in_(list(enrollment_ids)),
            e.state == ACTIVE,
            e.next_due_at <= now,  # an id passed in early is never sent early
            ~exists().where(
                OUTREACH.c.enrollment_id == e.id,
                OUTREACH.c.step_index > e.step_index,
                OUTREACH.c.context.is_(None),
            ),
        )
    ).all()
    by_enrollment: dict[int, list[Any]] = {}
    for row in rows:
        by_enrollment.setdefault(row.id, []).append(row)
    outreach_rows: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    waits: list[dict[str, Any]] = []
    exhausting: list[int] = []
    skipped_count = 0
    recent = (
        recent_sends(conn, {r.profile_id for r in rows}, since=now - respect.caps.period)
        if respect is not None and rows
        else {}
    )
    for enrollment_id, contacts in by_enrollment.items():
        head = contacts[0]
        if head.opted_out_at is not None or head.objected_at is not None:
            ended.append({"b_id": enrollment_id, "b_state": STOPPED, "b_reason": "opted out"})
            continue
        if head.restricted_at is not None:  # kept, not processed (Art. 18)
            ended.append({"b_id": enrollment_id, "b_state": STOPPED, "b_reason": "restricted"})
            continue
        best = _best_contacts([c for c in contacts if c.cp_id is not None])
        index, skipped = next_step(
            ladder=spec.ladder, after_index=head.step_index, usable_channels=set(best)
        )
        if index is not None and respect is not None:
            hold = hold_for(
                channel=spec.ladder[index].channel,
                now=now,
                time_zone=head.time_zone,
                country=head.profile_country,
                sent=recent.get(head.profile_id, []),
                respect=respect,
            )
            if hold is not None:  # nothing is written for the step until it may go out
                waits.append({"b_id": enrollment_id, "b_due": hold.until, "b_reason": hold.reason})
                continue
        choice = choose_locale(head.locale, languages, default_locale) if languages else None
        language_note = f"; {choice.reason}" if choice and choice.reason else ""
        base = {
            "enrollment_id": enrollment_id,
            "round_id": head.round_id,
            "profile_id": head.profile_id,
            "locale": choice.locale if choice and choice.reason else head.locale,
            "created_at": now,
            "updated_at": now,
        }
        for s in skipped:
            step = spec.ladder[s]
            outreach_rows.append(
                {
                    **base,
                    "step_index": s,
                    "channel": step.channel,
                    "template": step.template,
                    "contact_point_id": None,
                    "status": SKIPPED,
                    "reason": NO_USABLE[step.channel],
                }
            )
        skipped_count += len(skipped)
        if index is None:
            exhausting.append(enrollment_id)
            continue
        step = spec.ladder[index]
        outreach_rows.append(
            {
                **base,
                "step_index": index,
                "channel": step.channel,
                "template": step.template,
                "contact_point_id": best[step.channel].cp_id,
                "status": PENDING,
                "reason": _step_reason(head.round_id, index, step, head.gap_mask) + language_note,
            }
        )
    # Whether an exhausted profile counts as unreachable depends on its answers (see there).
    for enrollment_id, reason in end_exhausted(conn, enrollment_ids=exhausting, now=now).items():
        ended.append({"b_id": enrollment_id, "b_state": EXHAUSTED, "b_reason": reason})
    if outreach_rows:
        conn.execute(_insert(conn).on_conflict_do_nothing(), outreach_rows)
    if ended:
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                end_reason=bindparam("b_reason"),
                ended_at=now,
                updated_at=now,
            ),
            ended,
        )
    if waits:
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == bindparam("b_id"))
            .values(
                next_due_at=bindparam("b_due"), wait_reason=bindparam("b_reason"), updated_at=now
            ),
            waits,
        )
    exhausted = sum(1 for row in ended if row["b_state"] == EXHAUSTED)
    return skipped_count, exhausted, len(waits)
