"""Campaign versions, the rounds run of them and the profiles enrolled in each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.tables.columns import json_column, timestamp
from models.types import JSONType, UTCDateTime, utcnow


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
    parameters: dict[str, Any] | None = json_column()
    summary: dict[str, Any] | None = json_column()
    # What `enrich round plan` forecast for the ladder when the round started (models.forecast);
    # the report puts it next to what happened.
    forecast: dict[str, Any] | None = json_column()
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = timestamp()


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
        # A round's enrollments by state, and what its report counts of them, from the index.
        Index(
            "ix_enrollment_round_walk",
            "round_id",
            "state",
            "step_index",
            "wait_reason",
            "fields_at_start",
        ),
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
    # Which fields the profile had verified and fresh when enrolled (bits of
    # models.rounds.completeness.FIELD_BITS): the report's completeness "at the round's start".
    # None for enrollments made before it was recorded.
    fields_at_start: int | None = None
    step_index: int = -1
    next_due_at: datetime | None = timestamp()
    # Why the next step is not going out yet (quiet hours, a frequency cap, ...); None when due.
    wait_reason: str | None = Field(default=None, max_length=200)
    end_reason: str | None = Field(default=None, max_length=200)
    # The run working on this enrollment's next step right now, and until when its lease holds
    # (renewed while the run lives); see outreach.sending.leases.
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = timestamp()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = timestamp()
