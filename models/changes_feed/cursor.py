"""Where a feed's last export stopped (the ``export_cursor`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from models.tables import EXPORT_CURSOR

CHANGES: Final = "changes"


def stored_cursor(conn: Connection, feed: str = CHANGES) -> int:
    """The seq the last export of ``feed`` ended at; 0 before the first."""
    found = conn.execute(select(EXPORT_CURSOR.c.seq).where(EXPORT_CURSOR.c.feed == feed)).first()
    return 0 if found is None else int(found.seq)


def store_cursor(conn: Connection, seq: int, rows: int, now: datetime, feed: str = CHANGES) -> None:
    """Remember that an export of ``feed`` ended at ``seq`` (``rows`` lines, at ``now``)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"seq": seq, "rows": rows, "exported_at": now}
    conn.execute(
        dialect.insert(EXPORT_CURSOR)
        .values(feed=feed, **values)
        .on_conflict_do_update(index_elements=["feed"], set_=values)
    )
