"""The customer: a profile, its contact points and its consents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from models.tables.columns import json_column, timestamp
from models.types import UTCDateTime, utcnow


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
    opted_out_at: datetime | None = timestamp()
    objected_at: datetime | None = timestamp()
    # Processing restricted (Art. 18): kept, but neither selected nor contacted until lifted.
    restricted_at: datetime | None = timestamp()
    unreachable_at: datetime | None = timestamp()
    # The customer said "I don't have one" on the landing page (models.answers.declined).
    email_declined_at: datetime | None = timestamp()
    mobile_declined_at: datetime | None = timestamp()
    # Hidden from selection and contact by a sweep decision; erased profiles are archived too.
    archived_at: datetime | None = timestamp()
    erased_at: datetime | None = timestamp()
    last_contacted_at: datetime | None = timestamp(index=True)
    last_interaction_at: datetime | None = timestamp()
    source: str | None = Field(default=None, max_length=500)
    source_at: datetime | None = timestamp()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContactPoint(SQLModel, table=True):
    """One way to reach a profile: ``email``, ``mobile``, ``phone`` (fixed line) or ``postal``."""

    __tablename__ = "contact_point"
    __table_args__ = (
        Index("ix_contact_point_profile_kind", "profile_id", "kind", "status"),
        # The points that can make a field complete, with how fresh they are.
        Index(
            "ix_contact_point_verified",
            "profile_id",
            "kind",
            "verified_at",
            sqlite_where=text("status = 'verified' AND opted_out_at IS NULL"),
            postgresql_where=text("status = 'verified' AND opted_out_at IS NULL"),
        ),
    )

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
    source_at: datetime | None = timestamp()
    verified_at: datetime | None = timestamp()
    verification_method: str | None = Field(default=None, max_length=64)
    bounced_at: datetime | None = timestamp()
    opted_out_at: datetime | None = timestamp()
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
    # The notice shown (models.consent.notices): its locale and the sha256 of its exact text.
    text_locale: str | None = Field(default=None, max_length=16)
    text_sha256: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    evidence: dict[str, Any] | None = json_column()
