"""Messages sent, what providers said about them, the links they carry and the answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.tables.columns import json_column, timestamp
from models.types import UTCDateTime, utcnow


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
        # A round's ladder messages in the order its report counts them.
        Index(
            "ix_outreach_round_ladder",
            "round_id",
            "step_index",
            "channel",
            "status",
            "sent_at",
            sqlite_where=text("context IS NULL"),
            postgresql_where=text("context IS NULL"),
        ),
        Index("ix_outreach_status", "status", "channel"),
        Index("ix_outreach_profile_sent", "profile_id", "sent_at"),
        Index("ix_outreach_profile", "profile_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollment.id")
    # The enrollment's round, kept on the message so a round's messages are one index range;
    # None without an enrollment (a confirmation link, a one-time code).
    round_id: int | None = Field(default=None, foreign_key="round.id")
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
    attempted_at: datetime | None = timestamp()
    # Why a message handed to a provider is still unsettled (no answer recorded, a timeout, no
    # provider event within the grace); cleared when evidence or a steward's decision settles it.
    doubt_reason: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    provider_status: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = timestamp()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryEvent(SQLModel, table=True):
    """What a provider reported about an outreach, in one vocabulary for all channels."""

    __tablename__ = "delivery_event"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", name="uq_delivery_event_provider_id"),
        # A message's events, and its best one read from the index alone.
        Index("ix_delivery_event_outreach_type", "outreach_id", "event_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id")
    provider: str = Field(max_length=32)
    provider_event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=16)
    detail: str | None = Field(default=None, max_length=1000)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    raw: dict[str, Any] | None = json_column()


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
    __table_args__ = (
        Index(
            "ix_verification_token_link_opened",
            "outreach_id",
            sqlite_where=text("kind = 'link' AND opened_at IS NOT NULL"),
            postgresql_where=text("kind = 'link' AND opened_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(default="link", max_length=16)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE", index=True)
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id", index=True)
    contact_point_id: int | None = Field(default=None, foreign_key="contact_point.id")
    attempts: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = timestamp()
    # When the landing page (a link or a scanned QR code) first opened with it.
    opened_at: datetime | None = timestamp()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Submission(SQLModel, table=True):
    """What a customer confirmed or changed on the landing page."""

    __tablename__ = "submission"
    __table_args__ = (
        Index(
            "ix_submission_outreach",
            "outreach_id",
            "received_at",
            sqlite_where=text("outreach_id IS NOT NULL"),
            postgresql_where=text("outreach_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE", index=True)
    token_id: int | None = Field(default=None, foreign_key="verification_token.id")
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id")
    client_time: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] | None = json_column()
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
