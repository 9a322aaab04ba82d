"""The audit trail: its rows, sealed into a hash chain, and their personal parts kept apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel

from models.tables.columns import sealed_json_column, timestamp
from models.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Append-only: who did what to which record, before and after, why, on what evidence.

    Sealing (:mod:`models.audit_trail.sealing`) gives a row its place in the hash chain
    (``seq``, ``prev_hash``, ``row_hash``); from then on database triggers refuse to change or
    delete it. Its personal values then live in :class:`AuditPersonal` (``personal_digest``).
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_entity", "entity_type", "entity_id"),
        Index("uq_audit_event_seq", "seq", unique=True),
        # Finding the rows still to seal stays cheap however long the trail grows.
        Index(
            "ix_audit_event_unsealed",
            "id",
            sqlite_where=text("row_hash IS NULL"),
            postgresql_where=text("row_hash IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: int | None = None
    profile_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = sealed_json_column()
    after: dict[str, Any] | None = sealed_json_column()
    reason: str | None = Field(default=None, max_length=500)
    evidence: dict[str, Any] | None = sealed_json_column()
    seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)
    personal_digest: str | None = Field(default=None, max_length=64)
    sealed_at: datetime | None = timestamp()


class AuditPersonal(SQLModel, table=True):
    """The personal values of one sealed audit row; deleting it erases them, the chain stays."""

    __tablename__ = "audit_personal"

    audit_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("audit_event.id"), primary_key=True, autoincrement=False
        )
    )
    profile_id: int | None = Field(default=None, index=True)
    salt: str = Field(max_length=32)
    # ``[[column, [key or index, ...], value], ...]``: where each value sat in the row.
    data: list[Any] | None = sealed_json_column()
