"""Where each export feed stopped, so the next export picks up exactly there."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class ExportCursor(SQLModel, table=True):
    """The last audit ``seq`` a feed (``changes``: results back to the CRM) has exported."""

    __tablename__ = "export_cursor"

    feed: str = Field(primary_key=True, max_length=32)
    seq: int
    exported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    rows: int = 0
