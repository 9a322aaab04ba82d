"""SQLModel tables for the vocabulary of the design notes.

Status and event-type columns are plain strings (the allowed values are listed in
:mod:`models.vocabulary`); timestamps are aware UTC; JSON columns hold evidence and raw payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, utcnow


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=True))


class Profile(SQLModel, table=True):
    """One customer, identified by the CRM's external id."""

    __tablename__ = "profile"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128, unique=True, index=True)
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    locale: str = Field(default="nl", max_length=16)
    country: str | None = Field(default=None, max_length=2)
    time_zone: str | None = Field(default=None, max_length=64)
    opted_out_at: datetime | None = _ts()
    objected_at: datetime | None = _ts()
    unreachable_at: datetime | None = _ts()
    # Hidden from selection and contact by a sweep decision; erased profiles are archived too.
    archived_at: datetime | None = _ts()
    erased_at: datetime | None = _ts()
    last_contacted_at: datetime | None = _ts(index=True)
    last_interaction_at: datetime | None = _ts()
    source: str | None = Field(default=None, max_length=500)
    source_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactPoint(SQLModel, table=True):
    """One way to reach a profile: ``email``, ``mobile``, ``phone`` (fixed line) or ``postal``."""

    __tablename__ = "contact_point"
    __table_args__ = (Index("ix_contact_point_profile_kind", "profile_id", "kind", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    value: str = Field(max_length=500)
    raw_value: str | None = Field(default=None, max_length=500)
    status: str = Field(default="unverified", max_length=16)
    is_primary: bool = True
    invalid_reason: str | None = Field(default=None, max_length=200)
    street: str | None = Field(default=None, max_length=200)
    house_number: str | None = Field(default=None, max_length=32)
    postal_code: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=2)
    source: str | None = Field(default=None, max_length=500)
    source_at: datetime | None = _ts()
    verified_at: datetime | None = _ts()
    verification_method: str | None = Field(default=None, max_length=64)
    bounced_at: datetime | None = _ts()
    opted_out_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    """One answer about one purpose (and optionally one channel); the newest row wins."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_profile_purpose", "profile_id", "purpose", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    purpose: str = Field(max_length=64)
    channel: str | None = Field(default=None, max_length=16)
    granted: bool
    text_version: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    evidence: dict[str, Any] | None = _json()


class Campaign(SQLModel, table=True):
    """One version of a campaign file: what to ask and how (the ladder)."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_campaign_key_version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100)
    version: int
    content_hash: str = Field(max_length=64)
    definition: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Round(SQLModel, table=True):
    """One run of one campaign version over a selection of profiles."""

    __tablename__ = "round"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    started_by: str = Field(max_length=200)
    status: str = Field(default="running", max_length=16)
    parameters: dict[str, Any] | None = _json()
    summary: dict[str, Any] | None = _json()
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = _ts()


class Enrollment(SQLModel, table=True):
    """One profile in one round; at most one active enrollment per profile."""

    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("round_id", "profile_id", name="uq_enrollment_round_profile"),
        Index(
            "uq_enrollment_active_profile",
            "profile_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_enrollment_round_state", "round_id", "state"),
        Index("ix_enrollment_due", "state", "next_due_at"),
        # The heartbeat renews a run's leases by owner; only leased rows are indexed.
        Index(
            "ix_enrollment_lease_owner",
            "lease_owner",
            sqlite_where=text("lease_owner IS NOT NULL"),
            postgresql_where=text("lease_owner IS NOT NULL"),
        ),
        # Selection probes each profile's latest exhausted enrollment (models.rounds.selection);
        # partial, so enrolling (active rows) does not pay for it.
        Index(
            "ix_enrollment_exhausted_profile",
            "profile_id",
            "ended_at",
            sqlite_where=text("state = 'exhausted'"),
            postgresql_where=text("state = 'exhausted'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    state: str = Field(default="active", max_length=16)
    gap_mask: int = 0
    step_index: int = -1
    next_due_at: datetime | None = _ts()
    # Why the next step is not going out yet (quiet hours, a frequency cap, ...); None when due.
    wait_reason: str | None = Field(default=None, max_length=200)
    end_reason: str | None = Field(default=None, max_length=200)
    # The run working on this enrollment's next step right now, and until when its lease holds
    # (renewed while the run lives); see outreach.sending.leases.
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = _ts()


class Outreach(SQLModel, table=True):
    """One message (or one skipped step) for one enrollment step; written before sending."""

    __tablename__ = "outreach"
    __table_args__ = (
        # One row per ladder step; contact-moment asks (``context`` set) may repeat.
        Index(
            "uq_outreach_enrollment_step",
            "enrollment_id",
            "step_index",
            unique=True,
            sqlite_where=text("context IS NULL"),
            postgresql_where=text("context IS NULL"),
        ),
        Index("ix_outreach_status", "status", "channel"),
        Index("ix_outreach_profile_sent", "profile_id", "sent_at"),
        Index("ix_outreach_profile", "profile_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollment.id")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    contact_point_id: int | None = Field(default=None, foreign_key="contact_point.id")
    step_index: int = 0
    channel: str = Field(max_length=16)
    template: str = Field(max_length=100)
    locale: str | None = Field(default=None, max_length=16)
    # None for a ladder step; the other system's occasion ("invoice", ...) for a contact moment.
    context: str | None = Field(default=None, max_length=32)
    status: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    provider: str | None = Field(default=None, max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=200, index=True)
    batch_ref: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=1000)
    # Set just before a provider is called; a pending row with it set is in doubt after a crash.
    attempted_at: datetime | None = _ts()
    # Why a message handed to a provider is still unsettled (no answer recorded, a timeout, no
    # provider event within the grace); cleared when evidence or a steward's decision settles it.
    doubt_reason: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    provider_status: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = _ts()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryEvent(SQLModel, table=True):
    """What a provider reported about an outreach, in one vocabulary for all channels."""

    __tablename__ = "delivery_event"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", name="uq_delivery_event_provider_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id", index=True)
    provider: str = Field(max_length=32)
    provider_event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=16)
    detail: str | None = Field(default=None, max_length=1000)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    raw: dict[str, Any] | None = _json()


class RejectedWebhookEvent(SQLModel, table=True):
    """An authentic provider event we could not take (malformed), kept with why, once each.

    Only a bounded, redacted excerpt of the event is kept: addresses, numbers, message texts
    and links (which carry personal tokens) are left out.
    """

    __tablename__ = "rejected_webhook_event"
    __table_args__ = (
        UniqueConstraint("provider", "fingerprint", name="uq_rejected_webhook_event_fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    reason: str = Field(max_length=200)
    # SHA-256 of the whole event: a provider retrying the batch stores nothing twice.
    fingerprint: str = Field(max_length=64)
    excerpt: str = Field(max_length=2000)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class RateLimitHit(SQLModel, table=True):
    """Hits of one client in one fixed window, shared by every web worker (keyed hash only)."""

    __tablename__ = "rate_limit_hit"

    # HMAC of the scope and the client address: the address itself is personal data.
    client_key: str = Field(max_length=64, primary_key=True)
    window_start: datetime = Field(sa_type=UTCDateTime, primary_key=True, index=True)
    hits: int = 0


class VerificationToken(SQLModel, table=True):
    """The secret in a personal link, QR code, confirmation link or one-time code (hash only)."""

    __tablename__ = "verification_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(default="link", max_length=16)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE", index=True)
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id", index=True)
    contact_point_id: int | None = Field(default=None, foreign_key="contact_point.id")
    attempts: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Submission(SQLModel, table=True):
    """What a customer confirmed or changed on the landing page."""

    __tablename__ = "submission"

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE", index=True)
    token_id: int | None = Field(default=None, foreign_key="verification_token.id")
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id")
    client_time: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] | None = _json()
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Append-only: who did what to which record, before and after, why, on what evidence."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: int | None = None
    profile_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = _json()
    after: dict[str, Any] | None = _json()
    reason: str | None = Field(default=None, max_length=500)
    evidence: dict[str, Any] | None = _json()


class SweepRun(SQLModel, table=True):
    """One run of the stale sweep: when, by whom, with which idle period, and its counts."""

    __tablename__ = "sweep_run"

    id: int | None = Field(default=None, primary_key=True)
    started_by: str = Field(max_length=200)
    idle_days: int
    status: str = Field(default="running", max_length=16)
    summary: dict[str, Any] | None = _json()
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = _ts()


class SweepProposal(SQLModel, table=True):
    """What the sweep proposes for one stale profile (keep, archive, erase) and the decision."""

    __tablename__ = "sweep_proposal"
    __table_args__ = (
        UniqueConstraint("sweep_run_id", "profile_id", name="uq_sweep_proposal_run_profile"),
        # At most one open proposal per profile, across sweeps.
        Index(
            "uq_sweep_proposal_open_profile",
            "profile_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_sweep_proposal_profile", "profile_id", "decided_at"),
        Index("ix_sweep_proposal_status", "status", "proposal"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sweep_run_id: int = Field(foreign_key="sweep_run.id")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    proposal: str = Field(max_length=16)
    # A short code for why (no personal data), see models.retention.sweep_runs.
    reason: str = Field(max_length=64)
    last_interaction_at: datetime | None = _ts()
    status: str = Field(default="open", max_length=16)
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = _ts()
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# Core tables for set-based SQL (SQLModel leaves ``__table__`` untyped; only this reads it).


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


PROFILE = _table(Profile)
CONTACT = _table(ContactPoint)
CONSENT = _table(Consent)
CAMPAIGN = _table(Campaign)
ROUND = _table(Round)
ENROLLMENT = _table(Enrollment)
OUTREACH = _table(Outreach)
DELIVERY = _table(DeliveryEvent)
REJECTED = _table(RejectedWebhookEvent)
RATE_LIMIT = _table(RateLimitHit)
TOKEN = _table(VerificationToken)
SUBMISSION = _table(Submission)
AUDIT = _table(AuditEvent)
SWEEP_RUN = _table(SweepRun)
PROPOSAL = _table(SweepProposal)
