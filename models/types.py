"""Column types shared by every table: aware UTC timestamps and portable JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")


class SealedJSON(TypeDecorator[Any]):
    """JSON kept as the text written, in its canonical form (RFC 8785): the audit trail's.

    Both databases keep the text as it is (PostgreSQL ``json``, not ``jsonb``), so the verifier
    reads back the bytes that were hashed and only hashes them; what no canonical form exists
    for (an integer beyond 2**53, say) is written compact and sorted, and refused at sealing.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        from models.audit_trail.canonical import stored_text

        def process(value: Any) -> str | None:
            return None if value is None else stored_text(value)

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back timezone-aware datetimes (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        """The decorated processor, remembering its last few answers: a bulk statement binds
        the same instant (its ``now``) in every row, and converting it once is enough."""
        process = super().bind_processor(dialect)
        if process is None:
            return None
        remembered = lru_cache(maxsize=64)(process)

        def bind(value: datetime | None) -> Any:
            return None if value is None else remembered(value)

        return bind

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
