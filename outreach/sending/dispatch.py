"""Send each enrollment's next ladder step, in batches, so that no step ever goes out twice.

Per batch: (0) lease the enrollments (:mod:`outreach.sending.leases`): a batch another live run
holds is left to it; (1) write an Outreach row per chosen step (``pending``) and per skipped step
(``skipped``) and commit, before any provider is called; (2) settle rows left in doubt by an
earlier run (:mod:`outreach.sending.attempts`); (3) per chunk of the channel's batch size: issue the
link tokens and claim the rows (each committed), call the channel, and record the answers, advance
the enrollments and write the audit trail in one transaction. A crash anywhere leaves rows pending:
never attempted (sent by the rerun) or in doubt (settled by evidence; sent again only when the
evidence shows the first attempt was not taken, else left for the steward).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from models.answers.link_tokens import MessageTokens, issue_tokens, personal_link
from models.campaigns.asks import Ask
from models.campaigns.spec import CampaignSpec
from models.messages.in_doubt import UNEXAMINED
from models.scheduling.due_step_release import Respect
from models.tables import CONTACT, ENROLLMENT, OUTREACH, PROFILE
from models.vocabulary import ACTIVE, PENDING
from outreach.channels.base import Channel, Message, PostalAddress, SendResult
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, ProviderError
from outreach.i18n import renderable_languages
from outreach.incentive_line import IncentiveLines
from outreach.sending.asks import pending_asks
from outreach.sending.attempts import claim, note_doubts, release, settle_in_doubt
from outreach.sending.leases import leased
from outreach.sending.recording import record_results, refusal_events
from outreach.sending.write_ahead import write_ahead


@dataclass(frozen=True)
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    already_sent: int = 0
    exhausted: int = 0
    in_doubt: int = 0  # handed to a provider without an answer; settled by a later run
    waiting: int = 0  # held for a send window or a frequency cap (Enrollment.wait_reason)
    elsewhere: int = 0  # enrollments another live run was working on (its lease), left to it

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        return BatchOutcome(
            *(a + b for a, b in zip(vars(self).values(), vars(other).values(), strict=True))
        )


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
                o.doubt_reason,
                o.attempts,
                e.round_id,
                e.gap_mask,
                e.created_at.label("enrolled_at"),
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


def _held_elsewhere(engine: Engine, asked: Sequence[int], won: Sequence[int]) -> int:
    """How many of the asked enrollments not won are active and leased by another run."""
    lost = sorted(set(asked) - set(won))
    if not lost:
        return 0
    e = ENROLLMENT.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    e.id.in_(lost), e.state == ACTIVE, e.lease_owner.is_not(None)
                )
            ).scalar_one()
        )


def _message(
    row: Any,
    tokens: MessageTokens,
    config: OutreachConfig,
    campaign: str,
    asks: tuple[Ask, ...],
    incentive: str | None = None,
) -> Message:
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
        link=personal_link(config.base_url, tokens.link),
        given_name=row.given_name,
        family_name=row.family_name,
        address=address,
        categories=("enrich", campaign),
        unsubscribe_token=tokens.unsubscribe,
        asks=asks,
        incentive=incentive,
    )


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    in_doubt: int = 0


@dataclass(frozen=True)
class _Chunk:
    """Rows of one channel request with their messages (link tokens already committed)."""

    rows: list[Any]
    messages: list[Message]

    def only(self, ids: set[int]) -> _Chunk:
        return _Chunk(
            [r for r in self.rows if r.id in ids],
            [m for m in self.messages if m.outreach_id in ids],
        )


@dataclass(frozen=True)
class _Flight:
    """A chunk handed to the channel in the sending thread, and its answer to come."""

    chunk: _Chunk
    answer: Future[list[SendResult]]


@dataclass
class _Sender:
    """Phase 2 and 3 for one batch: settle in-doubt rows, then claim, send and record per chunk.

    One request is in flight at a time, in a thread of its own: while the channel sends chunk
    k, this thread issues chunk k+1's link tokens and records chunk k-1's answers, so waiting
    for the provider overlaps the database work. A chunk is claimed only once the one before
    has been answered, so a crash leaves in doubt at most the chunk in flight and the one
    answered just before it, whose answer was not yet recorded.
    """

    engine: Engine
    channels: Mapping[str, Channel]
    config: OutreachConfig
    spec: CampaignSpec
    now: datetime
    actor: str
    tally: _Tally
    owner: str  # the lease this run holds on the batch's enrollments

    def run(self, pending: Sequence[Any]) -> None:
        by_channel: dict[str, list[Any]] = {}
        for row in pending:
            by_channel.setdefault(row.channel, []).append(row)
        for name, rows in by_channel.items():
            channel = self.channels[name]
            doubtful = [r for r in rows if r.attempted_at is not None]
            to_send = [r for r in rows if r.attempted_at is None]
            to_send += self._settle(channel, doubtful)
            self._send_all(channel, to_send)

    def _settle(self, channel: Channel, doubtful: Sequence[Any]) -> list[Any]:
        """Record the in-doubt rows the evidence settles, in chunks (a crash keeps what was
        settled); returns those proven not taken, to be sent again. The rest stay in doubt."""
        again: list[Any] = []
        size = max(1, channel.batch_size)
        for start in range(0, len(doubtful), size):
            chunk = doubtful[start : start + size]
            with self.engine.connect() as conn:
                settled = settle_in_doubt(conn, channel, chunk)
            self._record([r for r in chunk if r.id in settled], settled)
            self.tally.reconciled += len(settled)
            unsettled = [r for r in chunk if r.id not in settled]
            if channel.lookup_is_authoritative:
                again += unsettled
                continue
            self.tally.in_doubt += len(unsettled)
            reasons = {r.id: UNEXAMINED for r in unsettled if r.doubt_reason is None}
            if reasons:
                with self.engine.begin() as conn:
                    note_doubts(conn, reasons, now=self.now)
        return again

    def _send_all(self, channel: Channel, rows: Sequence[Any]) -> None:
        size = max(1, channel.batch_size)
        flight: _Flight | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="send") as pool:
            try:
                for start in range(0, len(rows), size):
                    chunk = self._prepare(rows[start : start + size])  # overlaps the flight
                    current, flight = flight, None  # landed once, even if landing raises
                    landed = self._land(current) if current is not None else None
                    chunk = self._claim(chunk)
                    if chunk.rows:
                        flight = _Flight(chunk, pool.submit(channel.send_batch, chunk.messages))
                    if landed is not None:
                        self._record(*landed)  # overlaps the next flight
                if flight is not None:
                    current, flight = flight, None
                    self._record(*self._land(current))
            except BaseException:
                if flight is not None:  # record what is in flight before giving up
                    with suppress(Exception):
                        self._record(*self._land(flight))
                raise

    def _prepare(self, rows: Sequence[Any]) -> _Chunk:
        """Issue the rows' link tokens, and each email's unsubscribe token, in one statement
        (committed before any message carries one); each message asks its own open gaps."""
        with self.engine.begin() as conn:
            tokens = issue_tokens(
                conn,
                items=[(r.profile_id, r.id) for r in rows],
                ttl_days=self.config.token_ttl_days,
                now=self.now,
                unsubscribe_for=[r.id for r in rows if r.channel == "email"],
            )
            asks = pending_asks(conn, rows)
        key = self.spec.key
        lines = IncentiveLines(self.config, self.spec)
        messages = []
        for r in rows:
            locale = r.locale or r.profile_locale or self.config.default_locale
            line = lines.headline(locale, r.channel)
            messages.append(_message(r, tokens[r.id], self.config, key, asks[r.id], line))
        return _Chunk(list(rows), messages)

    def _claim(self, chunk: _Chunk) -> _Chunk:
        """The part of the chunk this run won (another runner may have claimed or sent rows,
        or this run's lease lapsed); from here on a crash leaves the rows in doubt."""
        with self.engine.begin() as conn:
            won = claim(conn, chunk.rows, now=self.now, owner=self.owner)
        return chunk if len(won) == len(chunk.rows) else chunk.only(won)

    def _land(self, flight: _Flight) -> tuple[list[Any], dict[int, SendResult]]:
        """Wait for the channel's answer. A provider or configuration error records what the
        channel settled before it stopped, gives back the rows it did not take, and is raised."""
        rows = flight.chunk.rows
        try:
            results = flight.answer.result()
        except (ConfigurationError, ProviderError) as err:
            partial = {r.outreach_id: r for r in getattr(err, "partial_results", [])}
            self._record(rows, partial)
            untouched = [r.id for r in rows if r.id not in partial]
            with self.engine.begin() as conn:
                release(conn, untouched, now=self.now)
            raise
        return rows, {r.outreach_id: r for r in results}

    def _record(self, rows: Sequence[Any], results: Mapping[int, SendResult]) -> None:
        answered = [r for r in rows if r.id in results and not results[r.id].in_doubt]
        doubts = {
            r.id: results[r.id].error or UNEXAMINED
            for r in rows
            if r.id in results and results[r.id].in_doubt
        }
        self.tally.in_doubt += len(doubts)
        if not (answered or doubts):
            return
        with self.engine.begin() as conn:
            note_doubts(conn, doubts, now=self.now)
            sent, failed, recorded = record_results(
                conn,
                pending=answered,
                results=results,
                spec=self.spec,
                now=self.now,
                actor=self.actor,
            )
            refusal_events(conn, [r for r in answered if r.id in recorded], results, self.now)
        self.tally.sent += sent
        self.tally.failed += failed


def send_due_steps(
    *,
    engine: Engine,
    enrollment_ids: Sequence[int],
    spec: CampaignSpec,
    channels: Mapping[str, Channel],
    config: OutreachConfig,
    now: datetime,
    actor: str,
    respect: Respect | None = None,
) -> BatchOutcome:
    """Send each enrollment's next usable ladder step (the module docstring has the phases).

    The first step of a new enrollment and every later step after a response window (or at once
    after a hard bounce) go through here; an enrollment past its last step is exhausted. With
    ``respect``, a step outside its send window or over a frequency cap waits instead. A
    :class:`ConfigurationError` (a refused API key, a region not enabled) stops the batch after
    recording what was settled; the rest stays pending for a rerun.
    """
    missing = {step.channel for step in spec.ladder} - set(channels)
    if missing:
        raise ValueError(f"no channel configured for {', '.join(sorted(missing))}")
    if not enrollment_ids:
        return BatchOutcome()
    tally = _Tally()
    with leased(engine, enrollment_ids, seconds=config.lease_seconds) as lease:
        elsewhere = _held_elsewhere(engine, enrollment_ids, lease.ids)
        if not lease.ids:
            return BatchOutcome(elsewhere=elsewhere)
        with engine.begin() as conn:
            skipped, exhausted, waiting = write_ahead(
                conn,
                enrollment_ids=lease.ids,
                spec=spec,
                now=now,
                respect=respect,
                languages=renderable_languages(
                    config.templates_dir, config.supported_locales, config.default_locale
                ),
                default_locale=config.default_locale,
            )
        with engine.connect() as conn:
            pending = _pending(conn, lease.ids)
        _Sender(engine, channels, config, spec, now, actor, tally, lease.owner).run(pending)
    return BatchOutcome(
        sent=tally.sent - tally.reconciled,
        failed=tally.failed,
        skipped=skipped,
        already_sent=tally.reconciled,
        exhausted=exhausted,
        in_doubt=tally.in_doubt,
        waiting=waiting,
        elsewhere=elsewhere,
    )
