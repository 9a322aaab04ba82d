"""Fixed-window hit counters every web worker shares: one atomic upsert per hit.

A counter is kept per (client key, window start); the client key is a keyed hash made by the
caller, never an address. ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` counts a hit and
reads the new total in one statement, so two workers counting the same client at the same
moment both see the true total, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from models.tables import RATE_LIMIT


def count_hit(*, conn: Connection, client_key: str, window_start: datetime) -> int:
    """Count one hit of ``client_key`` in the window starting at ``window_start``; the total."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(RATE_LIMIT)
        .values(client_key=client_key, window_start=window_start, hits=1)
        .on_conflict_do_update(
            index_elements=["client_key", "window_start"],
            set_={"hits": RATE_LIMIT.c.hits + 1},
        )
        .returning(RATE_LIMIT.c.hits)
    )
    return int(conn.execute(stmt).scalar_one())


def prune_windows(*, conn: Connection, before: datetime) -> int:
    """Forget every counter of a window that started before ``before``; how many."""
    result = conn.execute(delete(RATE_LIMIT).where(RATE_LIMIT.c.window_start < before))
    return int(result.rowcount or 0)
