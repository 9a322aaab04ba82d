"""Send each enrollment's next ladder step, in batches, so that no step ever goes out twice.

Per batch: (1) write an Outreach row per chosen step (``pending``) and per skipped step
(``skipped``) and commit, before any provider is called; (2) settle rows left in doubt by an
earlier run (:mod:`outreach.attempts`); (3) per chunk of the channel's batch size: claim the rows
and issue their link tokens (committed), call the channel, and record the answers, advance the
enrollments and write the audit trail in one transaction. A crash anywhere leaves rows pending:
never attempted (sent by the rerun) or in doubt (settled by evidence, sent again only without).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from models.audit import audit_many
from models.campaign import CampaignSpec, Step
from models.delivery import EventRecord, ingest_events
from models.gaps import gaps_of
from models.ladder import KIND_CHANNEL, next_step
from models.tables import ContactPoint, Enrollment, Outreach, Profile
from models.vocabulary import (
    ACTIVE,
    CHANNEL_KIND,
    EXHAUSTED,
    FAILED,
    INVALID,
    OPTED_OUT,
    PENDING,
    SENT,
    SKIPPED,
    STOPPED,
    USABLE_STATUSES,
    VERIFIED,
)
from outreach.attempts import claim, due_again, release, settle_in_doubt
from outreach.channels.base import Channel, Message, PostalAddress, SendResult
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, ProviderError
from outreach.tokens import issue_link_tokens, personal_link

ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]
OUTREACH = Outreach.__table__  # type: ignore[attr-defined]
PROFILE = Profile.__table__  # type: ignore[attr-defined]
CONTACT = ContactPoint.__table__  # type: ignore[attr-defined]
NO_USABLE = {"email": "no usable email", "sms": "no usable mobile", "letter": "no usable address"}
# Among usable contact points of a kind: the primary first, then the best-verified, the newest.
STATUS_RANK = {VERIFIED: 0, "valid": 1, "unverified": 2}


@dataclass(frozen=True)
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    already_sent: int = 0
    exhausted: int = 0
    in_doubt: int = 0  # handed to a provider without an answer; settled by a later run


def due_enrollment_ids(
    *, conn: Connection, round_id: int, now: datetime, limit: int, after_id: int = 0
) -> list[int]:
    """Active enrollments of the round whose first step is due, by id, after ``after_id``."""
    e = ENROLLMENT.c
    rows = conn.execute(
        select(e.id)
        .where(
            e.round_id == round_id,
            e.state == ACTIVE,
            e.step_index == -1,
            e.next_due_at <= now,
            e.id > after_id,
        )
        .order_by(e.id)
        .limit(limit)
    )
    return [int(r[0]) for r in rows]


def due_for_advance(
    *, conn: Connection, now: datetime, limit: int, after_id: int = 0
) -> list[tuple[int, int]]:
    """(enrollment id, round id) of active enrollments past their first step that are due."""
    e = ENROLLMENT.c
    rows = conn.execute(
        select(e.id, e.round_id)
        .where(e.state == ACTIVE, e.step_index >= 0, e.next_due_at <= now, e.id > after_id)
        .order_by(e.id)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


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


def _write_ahead(
    conn: Connection, *, enrollment_ids: Sequence[int], spec: CampaignSpec, now: datetime
) -> tuple[int, int]:
    """Phase 1: pending and skipped Outreach rows; (skipped rows, exhausted enrollments)."""
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
    unreachable: list[int] = []
    skipped_count = 0
    for enrollment_id, contacts in by_enrollment.items():
        head = contacts[0]
        if head.opted_out_at is not None or head.objected_at is not None:
            ended.append({"b_id": enrollment_id, "b_state": STOPPED, "b_reason": "opted out"})
            continue
        best = _best_contacts([c for c in contacts if c.cp_id is not None])
        index, skipped = next_step(
            ladder=spec.ladder, after_index=head.step_index, usable_channels=set(best)
        )
        base = {
            "enrollment_id": enrollment_id,
            "profile_id": head.profile_id,
            "locale": head.locale,
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
            reason = "ladder exhausted" if head.step_index >= 0 else "no usable contact point"
            ended.append({"b_id": enrollment_id, "b_state": EXHAUSTED, "b_reason": reason})
            unreachable.append(head.profile_id)
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
                "reason": _step_reason(head.round_id, index, step, head.gap_mask),
            }
        )
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
    if unreachable:
        # The ladder found no way to reach them: the steward sees when (issue: stale sweep).
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(unreachable), PROFILE.c.unreachable_at.is_(None))
            .values(unreachable_at=now, updated_at=now)
        )
    exhausted = sum(1 for row in ended if row["b_state"] == EXHAUSTED)
    return skipped_count, exhausted


def _pending(conn: Connection, enrollment_ids: Sequence[int]) -> list[Any]:
    """Phase 2 input: every pending outreach of these enrollments, with what a message needs."""
    o, p, cp, e = OUTREACH.c, PROFILE.c, CONTACT.c, ENROLLMENT.c
    return list(
        conn.execute(
            select(
                o.id,
                o.enrollment_id,
                o.profile_id,
                o.step_index,
                o.channel,
                o.template,
                o.locale,
                o.reason,
                o.attempted_at,
                o.attempts,
                e.round_id,
                p.given_name,
                p.family_name,
                p.locale.label("profile_locale"),
                p.country.label("profile_country"),
                cp.value,
                cp.street,
                cp.house_number,
                cp.postal_code,
                cp.city,
                cp.country,
            )
            .select_from(
                OUTREACH.join(PROFILE, p.id == o.profile_id)
                .join(ENROLLMENT, e.id == o.enrollment_id)
                .outerjoin(CONTACT, cp.id == o.contact_point_id)
            )
            .where(
                o.enrollment_id.in_(list(enrollment_ids)),
                o.status == PENDING,
                o.context.is_(None),
                e.state == ACTIVE,
            )
            .order_by(o.id)
        ).all()
    )


def _message(row: Any, link: str, config: OutreachConfig, campaign: str) -> Message:
    address = None
    recipient = row.value or ""
    if row.channel == "letter":
        name = " ".join(part for part in (row.given_name, row.family_name) if part)
        address = PostalAddress(
            name=name,
            street=row.street or "",
            house_number=row.house_number or "",
            postal_code=row.postal_code or "",
            city=row.city or "",
            country=row.country or row.profile_country or "NL",
        )
        recipient = ""
    return Message(
        outreach_id=row.id,
        channel=row.channel,
        template=row.template,
        locale=row.locale or row.profile_locale or config.default_locale,
        recipient=recipient,
        link=link,
        given_name=row.given_name,
        family_name=row.family_name,
        address=address,
        categories=("enrich", campaign),
    )


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    in_doubt: int = 0


@dataclass
class _Sender:
    """Phase 2 and 3 for one batch: settle in-doubt rows, then claim, send and record per chunk."""

    engine: Engine
    channels: Mapping[str, Channel]
    config: OutreachConfig
    spec: CampaignSpec
    now: datetime
    actor: str
    tally: _Tally

    def run(self, pending: Sequence[Any]) -> None:
        by_channel: dict[str, list[Any]] = {}
        for row in pending:
            by_channel.setdefault(row.channel, []).append(row)
        for name, rows in by_channel.items():
            channel = self.channels[name]
            doubtful = [r for r in rows if r.attempted_at is not None]
            to_send = [r for r in rows if r.attempted_at is None]
            if doubtful:
                with self.engine.connect() as conn:
                    settled = settle_in_doubt(conn, channel, doubtful)
                self._record([r for r in doubtful if r.id in settled], settled)
                self.tally.reconciled += len(settled)
                for row in doubtful:
                    if row.id in settled:
                        continue
                    if due_again(row, channel, self.now):
                        to_send.append(row)
                    else:
                        self.tally.in_doubt += 1
            for start in range(0, len(to_send), max(1, channel.batch_size)):
                self._send_chunk(channel, to_send[start : start + channel.batch_size])

    def _send_chunk(self, channel: Channel, rows: Sequence[Any]) -> None:
        """Claim and issue tokens (committed), call the channel, record what it answered."""
        with self.engine.begin() as conn:
            won = claim(conn, rows, now=self.now)
            rows = [r for r in rows if r.id in won]
            tokens = issue_link_tokens(
                conn,
                items=[(r.profile_id, r.id) for r in rows],
                ttl_days=self.config.token_ttl_days,
                now=self.now,
            )
        if not rows:
            return
        base = self.config.base_url
        messages = [
            _message(r, personal_link(base, tokens[r.id]), self.config, self.spec.key) for r in rows
        ]
        try:
            results = channel.send_batch(messages)
        except (ConfigurationError, ProviderError) as err:
            # Record what the channel settled before it stopped; the rest were not taken.
            partial = {r.outreach_id: r for r in getattr(err, "partial_results", [])}
            self._record(rows, partial)
            untouched = [r.id for r in rows if r.id not in partial]
            with self.engine.begin() as conn:
                release(conn, untouched, now=self.now)
            raise
        self._record(rows, {r.outreach_id: r for r in results})

    def _record(self, rows: Sequence[Any], results: Mapping[int, SendResult]) -> None:
        answered = [r for r in rows if r.id in results and not results[r.id].in_doubt]
        self.tally.in_doubt += sum(1 for r in rows if r.id in results and results[r.id].in_doubt)
        if not answered:
            return
        with self.engine.begin() as conn:
            sent, failed = _record(
                conn,
                pending=answered,
                results=results,
                spec=self.spec,
                now=self.now,
                actor=self.actor,
            )
            _refusal_events(conn, answered, results, self.now)
        self.tally.sent += sent
        self.tally.failed += failed


def _refusal_events(
    conn: Connection, rows: Sequence[Any], results: Mapping[int, SendResult], now: datetime
) -> None:
    """A refusal that says something about the address (invalid, opted out) is applied to the
    contact point exactly like the provider's webhook saying the same: one way, one audit trail."""
    events = []
    for row in rows:
        result = results[row.id]
        if result.ok or result.contact_status not in (INVALID, OPTED_OUT):
            continue
        events.append(
            EventRecord(
                provider=result.provider,
                provider_event_id=f"send-refused:{row.id}:{row.attempts + 1}",
                event_type="rejected",
                outreach_id=row.id,
                provider_message_id=result.provider_message_id,
                occurred_at=now,
                recipient=row.value,
                detail=(result.error or "refused")[:200],
                opt_out=result.contact_status == OPTED_OUT,
                invalid_recipient=result.contact_status == INVALID,
            )
        )
    if events:
        with Session(bind=conn) as session:
            ingest_events(session=session, events=events, now=now)
            session.flush()


def _record(
    conn: Connection,
    *,
    pending: Sequence[Any],
    results: Mapping[int, SendResult],
    spec: CampaignSpec,
    now: datetime,
    actor: str,
) -> tuple[int, int]:
    """Phase 3: outreach status, enrollment step and due date, last contact, audit events."""
    outreach_updates: list[dict[str, Any]] = []
    enrollment_updates: list[dict[str, Any]] = []
    contacted: list[int] = []
    audits: list[dict[str, Any]] = []
    sent = failed = 0
    for row in pending:
        result = results.get(row.id)
        if result is None or result.in_doubt:  # no answer yet: stays pending, settled later
            continue
        step = spec.ladder[row.step_index] if row.step_index < len(spec.ladder) else None
        ok = result.ok
        sent += ok
        failed += not ok
        outreach_updates.append(
            {
                "b_id": row.id,
                "b_status": SENT if ok else FAILED,
                "b_provider": result.provider,
                "b_pmid": result.provider_message_id,
                "b_pstatus": result.provider_status,
                "b_batch": result.batch_ref,
                "b_error": None if ok else (result.error or "failed")[:1000],
                "b_sent_at": now if ok else None,
            }
        )
        # A failed step is not the customer's silence: the next step is due at once.
        wait = timedelta(days=step.wait_days) if ok and step is not None else timedelta(0)
        enrollment_updates.append(
            {"b_id": row.enrollment_id, "b_step": row.step_index, "b_due": now + wait}
        )
        if ok:
            contacted.append(row.profile_id)
        audits.append(
            {
                "at": now,
                "actor": actor,
                "action": "outreach.sent" if ok else "outreach.failed",
                "entity_type": "outreach",
                "entity_id": row.id,
                "profile_id": row.profile_id,
                "after": {
                    "channel": row.channel,
                    "template": row.template,
                    "step": row.step_index,
                    "provider": result.provider,
                    **({} if ok else {"error": result.error}),
                },
                "reason": row.reason,
                "evidence": {
                    "round_id": row.round_id,
                    "enrollment_id": row.enrollment_id,
                    "outreach_id": row.id,
                    "provider_message_id": result.provider_message_id,
                },
            }
        )
    if outreach_updates:
        conn.execute(
            update(OUTREACH)
            .where(OUTREACH.c.id == bindparam("b_id"), OUTREACH.c.status == PENDING)
            .values(
                status=bindparam("b_status"),
                provider=bindparam("b_provider"),
                provider_message_id=bindparam("b_pmid"),
                provider_status=bindparam("b_pstatus"),
                batch_ref=bindparam("b_batch"),
                error=bindparam("b_error"),
                sent_at=bindparam("b_sent_at"),
                updated_at=now,
            ),
            outreach_updates,
        )
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == bindparam("b_id"))
            .values(
                step_index=bindparam("b_step"),
                next_due_at=bindparam("b_due"),
                wait_reason=None,
                updated_at=now,
            ),
            enrollment_updates,
        )
    if contacted:
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(contacted))
            .values(last_contacted_at=now, updated_at=now)
        )
    audit_many(conn, audits)
    return sent, failed


def send_due_steps(
    *,
    engine: Engine,
    enrollment_ids: Sequence[int],
    spec: CampaignSpec,
    channels: Mapping[str, Channel],
    config: OutreachConfig,
    now: datetime,
    actor: str,
) -> BatchOutcome:
    """Send each enrollment's next usable ladder step (the module docstring has the phases).

    The first step of a new enrollment and every later step after a response window (or at once
    after a hard bounce) go through here; an enrollment past its last step is exhausted. A
    :class:`ConfigurationError` (a refused API key, a region not enabled) stops the batch after
    recording what was settled; the rest stays pending for a rerun.
    """
    missing = {step.channel for step in spec.ladder} - set(channels)
    if missing:
        raise ValueError(f"no channel configured for {', '.join(sorted(missing))}")
    if not enrollment_ids:
        return BatchOutcome()
    with engine.begin() as conn:
        skipped, exhausted = _write_ahead(conn, enrollment_ids=enrollment_ids, spec=spec, now=now)
    with engine.connect() as conn:
        pending = _pending(conn, enrollment_ids)
    tally = _Tally()
    _Sender(engine, channels, config, spec, now, actor, tally).run(pending)
    return BatchOutcome(
        sent=tally.sent - tally.reconciled,
        failed=tally.failed,
        skipped=skipped,
        already_sent=tally.reconciled,
        exhausted=exhausted,
        in_doubt=tally.in_doubt,
    )
