"""The stale sweep: its runs and what it proposed for each profile; the erasure notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.tables.columns import json_column, timestamp
from models.types import UTCDateTime, utcnow


class SweepRun(SQLModel, table=True):
    """One run of the stale sweep: when, by whom, with which idle period, and its counts."""

    __tablename__ = "sweep_run"

    id: int | None = Field(default=None, primary_key=True)
    started_by: str = Field(max_length=200)
    idle_days: int
    status: str = Field(default="running", max_length=16)
    summary: dict[str, Any] | None = json_column()
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = timestamp()


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
    last_interaction_at: datetime | None = timestamp()
    status: str = Field(default="open", max_length=16)
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = timestamp()
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ErasureNotice(SQLModel, table=True):
    """The CRM's key of an erased person, and nothing else of them: kept so that the changes
    feed tells the CRM of the erasure and the import never creates the person again."""

    __tablename__ = "erasure_notice"

    profile_id: int = Field(
        primary_key=True,
        foreign_key="profile.id",
        ondelete="CASCADE",
        sa_column_kwargs={"autoincrement": False},
    )
    external_id: str = Field(max_length=128, index=True)
    erased_at: datetime = Field(sa_type=UTCDateTime)
