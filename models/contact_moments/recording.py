"""Contact moments: another system (billing, CRM, service desk) contacts a customer for its own
reason and carries our re-ask along; this module decides whether to ask and records the ask.

Rules:
- Nothing is asked of an unknown customer, of one who opted out of everything or objected, of
  one whose processing is restricted (Art. 18), of one who opted out of the moment's channel (an
  opted-out contact point of its kind), of one archived by a stale-sweep decision, of one with
  no open gap under the campaign's gap rules, or of one at a frequency cap
  (:mod:`models.scheduling.caps`); a refused moment records nothing.
- An ask is an Outreach of the profile's active enrollment (``context`` set, status ``sent``,
  provider ``contact_moment``, no contact point: the other system's message may have gone to an
  address we do not hold, so the link proves control of none of ours), so it counts toward
  the caps and an answer through its link completes that enrollment like any ladder message.
- Without an active enrollment the profile is enrolled in a *standing* round of the current
  campaign version (status ``standing``). Its ladder never runs on its own: the enrollment stays
  at step -1 with no due date and a ``wait_reason``, and :func:`close_expired_moments` ends it once
  every link of it has expired. A round cannot hold a profile twice, so a profile asked
  again after such an enrollment ended goes into the next standing round of that version.
  While it is active, rounds leave the profile out (one active enrollment per profile).
- An ask sets the profile's last contact, so the rounds' cool-down counts from it too.

Concurrent moments for one profile are serialised by a row lock on the profile (taken first),
so the cap check and the enrollment see each other's writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.audit import AuditRow, audit_many
from models.campaigns.gaps import gaps_of
from models.campaigns.spec import CampaignSpec, sync_campaign
from models.rounds.selection import DECLINED_DAYS, gap_masks
from models.scheduling.caps import CapPolicy, cap_hold, recent_sends
from models.tables import CONTACT, ENROLLMENT, OUTREACH, PROFILE, ROUND
from models.vocabulary import ACTIVE, CHANNEL_KIND, CHANNELS, OPTED_OUT, SENT, STANDING, AuditAction

# The occasions another system may name. A fixed list, not free text: the context is stored and
# audited, and free text could carry personal data. A new occasion is one entry here.
CONTEXTS: Final = ("invoice", "reminder", "service")

ACTOR: Final = "system:contact-moments"

PROVIDER: Final = "contact_moment"

TEMPLATE: Final = "moment"

WAIT_REASON: Final = "contact moment: waiting for an answer; no ladder"

LINKS_EXPIRED: Final = "contact moment links expired"

COMPLETE: Final = "complete"

OPTED_OUT_REASON: Final = "opted_out"

CAPPED: Final = "capped"

UNKNOWN: Final = "unknown"

ARCHIVED: Final = "archived"  # hidden from contact by a stale-sweep decision (or erased)

RESTRICTED: Final = "restricted"  # processing restricted on request (Art. 18)


@dataclass(frozen=True)
class RecordedAsk:
    """An ask written as a sent Outreach; the caller issues its link in the same transaction."""

    profile_id: int
    enrollment_id: int
    outreach_id: int
    locale: str
    gaps: tuple[str, ...]
    new_enrollment: bool


@dataclass(frozen=True)
class NoAsk:
    """Why nothing is asked: ``complete``, ``opted_out``, ``restricted``, ``archived``, ``capped``,
    ``unknown``."""

    reason: str
    detail: str | None = None  # for ``capped``: the cap, e.g. "frequency cap: 2 sms in 30 days"
    until: datetime | None = None  # for ``capped``: when the next ask fits


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _lock_profile(conn: Connection, external_id: str) -> Any:
    """The profile's row, write-locked for the rest of the transaction (None when unknown).

    A no-op UPDATE rather than SELECT ... FOR UPDATE, because SQLite has no row locks: the
    UPDATE takes its database write lock, PostgreSQL a row lock.
    """
    p = PROFILE.c
    conn.execute(
        update(PROFILE).where(p.external_id == external_id).values(updated_at=p.updated_at)
    )
    return conn.execute(
        select(p.id, p.locale, p.opted_out_at, p.objected_at, p.restricted_at, p.archived_at).where(
            p.external_id == external_id
        )
    ).first()


def _channel_opted_out(conn: Connection, profile_id: int, channel: str) -> bool:
    cp = CONTACT.c
    return bool(
        conn.execute(
            select(
                exists().where(
                    cp.profile_id == profile_id,
                    cp.kind == CHANNEL_KIND[channel],
                    or_(cp.status == OPTED_OUT, cp.opted_out_at.is_not(None)),
                )
            )
        ).scalar()
    )


def _standing_round(conn: Connection, *, spec: CampaignSpec, profile_id: int, now: datetime) -> int:
    """A standing round of the current campaign version not yet holding this profile."""
    with Session(bind=conn) as session:
        campaign = sync_campaign(session=session, spec=spec)
        session.flush()
    r, e = ROUND.c, ENROLLMENT.c
    found = conn.execute(
        select(r.id)
        .where(
            r.campaign_id == campaign.id,
            r.status == STANDING,
            ~exists().where(e.round_id == r.id, e.profile_id == profile_id),
        )
        .order_by(r.id)
        .limit(1)
    ).scalar()
    if found is not None:
        return int(found)
    round_id = int(
        conn.execute(
            insert(ROUND)
            .values(
                campaign_id=campaign.id,
                started_by=ACTOR,
                status=STANDING,
                parameters={"contact_moments": True},
                started_at=now,
            )
            .returning(r.id)
        ).scalar_one()
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=ACTOR,
                action=AuditAction.ROUND_START,
                entity_type="round",
                entity_id=round_id,
                after={"campaign": campaign.key, "version": campaign.version, "standing": True},
                reason=f"standing round for contact moments of campaign {campaign.key} "
                f"v{campaign.version}",
            )
        ],
    )
    return round_id


def _active_enrollment(conn: Connection, profile_id: int) -> Any:
    e = ENROLLMENT.c
    return conn.execute(
        select(e.id, e.round_id, e.step_index).where(e.profile_id == profile_id, e.state == ACTIVE)
    ).first()


def _enroll(
    conn: Connection, *, spec: CampaignSpec, profile_id: int, gap_mask: int, now: datetime
) -> tuple[Any, bool]:
    """The active enrollment, created in a standing round when there is none: (row, created).

    A concurrent round may enrol the profile between our check and our insert: the insert then
    does nothing (the one-active-enrollment index) and we use that round's enrollment.
    """
    for _attempt in range(2):
        current = _active_enrollment(conn, profile_id)
        if current is not None:
            return current, False
        round_id = _standing_round(conn, spec=spec, profile_id=profile_id, now=now)
        created = conn.execute(
            _insert(conn, ENROLLMENT)
            .values(
                round_id=round_id,
                profile_id=profile_id,
                state=ACTIVE,
                gap_mask=gap_mask,
                step_index=-1,
                next_due_at=None,
                wait_reason=WAIT_REASON,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(ENROLLMENT.c.id, ENROLLMENT.c.round_id, ENROLLMENT.c.step_index)
        ).first()
        if created is not None:
            return created, True
    raise RuntimeError("could not enrol the profile for a contact moment (concurrent changes)")


def _why_not(
    conn: Connection,
    profile: Any,
    *,
    channel: str,
    spec: CampaignSpec,
    now: datetime,
    policy: CapPolicy,
    max_age_days: int,
    declined_days: int,
) -> NoAsk | int:
    """The refusal, or the profile's gap mask when an ask may be recorded."""
    if profile.opted_out_at is not None or profile.objected_at is not None:
        return NoAsk(OPTED_OUT_REASON)
    if _channel_opted_out(conn, profile.id, channel):
        return NoAsk(OPTED_OUT_REASON)
    if profile.restricted_at is not None:
        return NoAsk(RESTRICTED)
    if profile.archived_at is not None:
        return NoAsk(ARCHIVED)
    mask = gap_masks(
        conn,
        gaps=spec.gaps,
        now=now,
        max_age_days=max_age_days,
        profile_ids=[profile.id],
        reask=spec.reask_versions(),
        declined_days=declined_days,
    ).get(profile.id, 0)
    if mask == 0:
        return NoAsk(COMPLETE)
    sent = recent_sends(conn, [profile.id], since=now - policy.period)[profile.id]
    hold = cap_hold(sent, channel=channel, now=now, policy=policy)
    if hold is not None:
        return NoAsk(CAPPED, detail=hold[1], until=hold[0])
    return mask


def record_contact_moment(
    conn: Connection,
    *,
    external_id: str,
    channel: str,
    context: str,
    now: datetime,
    spec: CampaignSpec,
    policy: CapPolicy,
    max_age_days: int,
    declined_days: int = DECLINED_DAYS,
) -> RecordedAsk | NoAsk:
    """Decide on one contact moment and, when asking, record it inside the caller's transaction:
    the enrollment if needed, a sent Outreach, the profile's last contact and the audit trail."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if context not in CONTEXTS:
        raise ValueError(f"unknown context; expected one of {', '.join(CONTEXTS)}")
    profile = _lock_profile(conn, external_id)
    if profile is None:
        return NoAsk(UNKNOWN)
    decision = _why_not(
        conn,
        profile,
        channel=channel,
        spec=spec,
        now=now,
        policy=policy,
        max_age_days=max_age_days,
        declined_days=declined_days,
    )
    if isinstance(decision, NoAsk):
        return decision
    gaps = tuple(gaps_of(decision))
    enrollment, created = _enroll(
        conn, spec=spec, profile_id=profile.id, gap_mask=decision, now=now
    )
    reason = f"contact moment ({context}, {channel}): gaps {', '.join(gaps)}"
    outreach_id = int(
        conn.execute(
            insert(OUTREACH)
            .values(
                enrollment_id=enrollment.id,
                round_id=enrollment.round_id,
                profile_id=profile.id,
                contact_point_id=None,
                # The enrollment's own step: a later ladder step is still to come.
                step_index=enrollment.step_index,
                channel=channel,
                template=TEMPLATE,
                locale=profile.locale,
                context=context,
                status=SENT,
                reason=reason,
                provider=PROVIDER,
                created_at=now,
                sent_at=now,
                updated_at=now,
            )
            .returning(OUTREACH.c.id)
        ).scalar_one()
    )
    conn.execute(
        update(PROFILE)
        .where(PROFILE.c.id == profile.id)
        .values(last_contacted_at=now, updated_at=now)
    )
    evidence = {
        "round_id": enrollment.round_id,
        "enrollment_id": enrollment.id,
        "outreach_id": outreach_id,
        "context": context,
    }
    audits = [
        AuditRow(
            at=now,
            actor=ACTOR,
            action=AuditAction.OUTREACH_SENT,
            entity_type="outreach",
            entity_id=outreach_id,
            profile_id=profile.id,
            after={"channel": channel, "template": TEMPLATE, "context": context},
            reason=reason,
            evidence=evidence,
        )
    ]
    if created:
        audits.insert(
            0,
            AuditRow(
                at=now,
                actor=ACTOR,
                action=AuditAction.ENROLLMENT_START,
                entity_type="enrollment",
                entity_id=enrollment.id,
                profile_id=profile.id,
                after={"state": ACTIVE, "gaps": list(gaps)},
                reason=f"contact moment ({context}, {channel})",
                evidence={"round_id": enrollment.round_id},
            ),
        )
    audit_many(conn, audits)
    return RecordedAsk(
        profile_id=int(profile.id),
        enrollment_id=int(enrollment.id),
        outreach_id=outreach_id,
        locale=profile.locale,
        gaps=gaps,
        new_enrollment=created,
    )
