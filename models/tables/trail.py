"""The audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.tables.columns import json_column
from models.types import UTCDateTime, utcnow


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
    before: dict[str, Any] | None = json_column()
    after: dict[str, Any] | None = json_column()
    reason: str | None = Field(default=None, max_length=500)
    evidence: dict[str, Any] | None = json_column()
