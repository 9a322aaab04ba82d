"""A customer's entry to a campaign's incentive (a prize draw or a discount), per enrollment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables.columns import timestamp
from models.types import UTCDateTime, utcnow


class IncentiveEntry(SQLModel, table=True):
    """The customer agreed to the incentive's terms (``terms_sha256`` of the text shown) through
    one enrollment; ``earned_at`` is set once that enrollment completed (models.incentives)."""

    __tablename__ = "incentive_entry"
    __table_args__ = (UniqueConstraint("enrollment_id", name="uq_incentive_entry_enrollment"),)

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE", index=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    round_id: int = Field(foreign_key="round.id", index=True)
    incentive_key: str = Field(max_length=64)
    terms_version: str = Field(max_length=64)
    terms_sha256: str = Field(max_length=64)
    entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    earned_at: datetime | None = timestamp()
