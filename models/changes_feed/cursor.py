"""Where a feed's last export stopped (the ``export_cursor`` table), and the lock that lets one
export at a time read and move it."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from models.tables import EXPORT_CURSOR

CHANGES: Final = "changes"


def stored_cursor(conn: Connection, feed: str = CHANGES) -> int:
    """The seq the last export of ``feed`` ended at; 0 before the first."""
    found = conn.execute(select(EXPORT_CURSOR.c.seq).where(EXPORT_CURSOR.c.feed == feed)).first()
    return 0 if found is None else int(found.seq)


def store_cursor(conn: Connection, seq: int, rows: int, now: datetime, feed: str = CHANGES) -> None:
    """Remember that an export of ``feed`` ended at ``seq`` (``rows`` lines, at ``now``).

    The cursor never moves back: replaying an older range (``--since A --until B``) leaves the
    next export starting where the newest one stopped."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"seq": seq, "rows": rows, "exported_at": now}
    stmt = dialect.insert(EXPORT_CURSOR).values(feed=feed, **values)
    ahead = stmt.excluded.seq > EXPORT_CURSOR.c.seq
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["feed"],
            set_={
                key: case((ahead, stmt.excluded[key]), else_=EXPORT_CURSOR.c[key]) for key in values
            },
        )
    )


def take_cursor(conn: Connection, now: datetime, feed: str = CHANGES) -> int:
    """The stored cursor of ``feed``, locked until the transaction ends.

    A second export waits here until the first has stored its cursor and committed, then reads
    where the first stopped: two at once never export the same range. The row is made first if
    there is none (seq 0, replaced when the export stores its cursor). The lock is a no-op
    UPDATE: a row lock on PostgreSQL, the database's write lock on SQLite (it has no row locks).
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    first = {"feed": feed, "seq": 0, "rows": 0, "exported_at": now}
    conn.execute(
        dialect.insert(EXPORT_CURSOR).values(first).on_conflict_do_nothing(index_elements=["feed"])
    )
    c = EXPORT_CURSOR.c
    conn.execute(update(EXPORT_CURSOR).where(c.feed == feed).values(seq=c.seq))
    return stored_cursor(conn, feed)
