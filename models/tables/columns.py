"""Column helpers shared by the table modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

from models.types import JSONType, SealedJSON, UTCDateTime


def timestamp(*, nullable: bool = True, index: bool = False) -> Any:
    """An aware UTC timestamp column, empty by default."""
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_column() -> Any:
    """A nullable JSON column."""
    return Field(default=None, sa_column=Column(JSONType, nullable=True))


def sealed_json_column() -> Any:
    """A nullable JSON column of the audit trail, stored as its canonical text."""
    return Field(default=None, sa_column=Column(SealedJSON, nullable=True))
