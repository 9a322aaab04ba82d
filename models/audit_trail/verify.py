"""Verifying the chain: stream sealed rows by ``seq`` and name the first break.

A break is one of: ``edited`` (a row's content, or its personal part, no longer matches its
hash), ``deleted`` (a gap in ``seq``, a row's predecessor missing, or a personal part gone
without a sealed ``profile.erased`` event for its profile), ``inserted`` (a row that is not
part of the chain: the next row links past it) and ``reordered`` (a row links to a later row).

On SQLite the database itself spells each row's canonical content (the sealer stores JSON
columns canonically, and ``json_quote`` escapes strings as RFC 8785 does), so Python only hashes.
A row whose spelling does not match is checked again the slow way, from its parsed columns.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.audit_trail.canonical import canonical
from models.audit_trail.sealing import GENESIS, content
from models.tables import AUDIT
from models.vocabulary import AuditAction

FETCH: Final = 10_000
# A long trail on SQLite is walked in parts, one process each: the driver takes the GIL for
# every row, so threads do not help.
MAX_PARTS: Final = 4
PART_ROWS: Final = 100_000  # rows per part at least: a process costs more than a short walk
Row = tuple[int, int, str | None, str | None, str | None, str | None, int | None, str | None]


def _json_sql(column: str) -> str:
    v = f"e.{column}"
    return f"CASE WHEN {v} IS NULL THEN 'null' WHEN json_valid({v}) THEN {v} ELSE '!' END"


# Keys in RFC 8785 order; each value a complete JSON text, so the whole parses one way only.
_SQLITE_CONTENT: Final = " || ".join(
    [
        "'{\"action\":' || json_quote(e.action)",
        "',\"actor\":' || json_quote(e.actor)",
        "',\"after\":' || " + _json_sql("after"),
        "',\"at\":' || json_quote(substr(e.at, 1, 10) || 'T' || substr(e.at, 12) || 'Z')",
        "',\"before\":' || " + _json_sql("before"),
        "',\"entity_id\":' || json_quote(e.entity_id)",
        "',\"entity_type\":' || json_quote(e.entity_type)",
        "',\"evidence\":' || " + _json_sql("evidence"),
        "',\"id\":' || json_quote(e.id)",
        "',\"personal_digest\":' || json_quote(e.personal_digest)",
        "',\"profile_id\":' || json_quote(e.profile_id)",
        "',\"reason\":' || json_quote(e.reason) || '}'",
    ]
)
_SQLITE_ROWS: Final = (
    f"SELECT e.seq, e.id, {_SQLITE_CONTENT}, e.prev_hash, e.row_hash, e.personal_digest,"
    " e.profile_id, CASE WHEN e.personal_digest IS NOT NULL THEN (SELECT p.salt || "
    "coalesce(p.data, 'null') FROM audit_personal p WHERE p.audit_id = e.id) END"
    " FROM audit_event e WHERE e.seq IS NOT NULL AND e.seq <= ? AND e.id BETWEEN ? AND ?"
    " ORDER BY e.ORDER"
)
_PG_ROWS: Final = (
    "SELECT e.seq, e.id, e.at, e.actor, e.action, e.entity_type, e.entity_id, e.profile_id,"
    " e.before::text, e.after::text, e.reason, e.evidence::text, e.personal_digest,"
    " e.prev_hash, e.row_hash, p.salt, p.data::text"
    " FROM audit_event e LEFT JOIN audit_personal p ON p.audit_id = e.id"
    " WHERE e.seq IS NOT NULL ORDER BY e.seq"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """The first break of the chain: what happened, and to which row."""

    kind: str  # edited, deleted, inserted, reordered
    seq: int | None
    audit_id: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Verified:
    rows: int
    head_seq: int
    head_hash: str
    pending: int
    seconds: float
    problem: Problem | None
    hashes: dict[int, str] = field(default_factory=dict)  # the row hash at each seq asked for

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


def _sha(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def _parsed_content(engine: Engine, audit_id: int) -> str | None:
    """A row's canonical content from its parsed columns (the slow way); None if unreadable."""
    try:
        with engine.connect() as conn:
            found = conn.execute(AUDIT.select().where(AUDIT.c.id == audit_id)).mappings().first()
        if found is None:
            return None
        row = dict(found)
        return canonical(content(row, row["personal_digest"])).decode("utf-8")
    except (ValueError, TypeError):
        return None


def _parsed_personal(stored: str) -> str | None:
    import json

    try:
        return stored[:32] + canonical(json.loads(stored[32:])).decode("utf-8")
    except (ValueError, TypeError):
        return None


def _sqlite_rows(engine: Engine, order: str, bounds: tuple[int, int, int]) -> Iterator[Row]:
    """Sealed rows up to seq ``bounds[0]`` with ids in ``bounds[1]..bounds[2]``."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_SQLITE_ROWS.replace("e.ORDER", f"e.{order}"), bounds)
        while batch := cursor.fetchmany(FETCH):
            yield from batch
        cursor.close()
    finally:
        raw.rollback()
        raw.close()


def _pg_rows(engine: Engine) -> Iterator[Row]:
    """Rows by seq through a server-side cursor, their content made canonical here."""
    import json

    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor(name="audit_verify")  # type: ignore[union-attr]
        cursor.execute(_PG_ROWS)
        while batch := cursor.fetchmany(FETCH):
            for r in batch:
                row = dict(zip(_PG_COLUMNS, r, strict=True))
                for c in ("before", "after", "evidence"):
                    row[c] = None if row[c] is None else json.loads(row[c])
                try:
                    body: str | None = canonical(content(row, row["personal_digest"])).decode()
                except (ValueError, TypeError):
                    body = None
                personal = None if r[15] is None else _parsed_personal(r[15] + (r[16] or "null"))
                yield (r[0], r[1], body, r[13], r[14], r[12], r[7], personal or r[15])
        cursor.close()
    finally:
        raw.rollback()
        raw.close()


_PG_COLUMNS: Final = (
    "seq", "id", "at", "actor", "action", "entity_type", "entity_id", "profile_id",
    "before", "after", "reason", "evidence", "personal_digest", "prev_hash", "row_hash",
    "salt", "data",
)  # fmt: skip


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).first()


def _erased_profiles(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT profile_id FROM audit_event"
                " WHERE action = :a AND row_hash IS NOT NULL"
            ),
            {"a": str(AuditAction.PROFILE_ERASED)},
        )
        return {pid for (pid,) in rows if pid is not None}


def _link_break(engine: Engine, seq: int, audit_id: int, link: str | None,
                prev: tuple[int, str, int | None]) -> Problem:  # fmt: skip
    """What happened where row ``seq`` links to ``link``, not to its predecessor ``prev``."""
    owner = _one(engine, "SELECT seq, id FROM audit_event WHERE row_hash = :h", h=link)
    if owner is not None and owner.seq is not None and owner.seq > seq:
        return Problem(
            "reordered", seq, audit_id,
            f"row seq {seq} (audit id {audit_id}) links to the later row seq {owner.seq} "
            f"(audit id {owner.id}): rows were swapped or moved",
        )  # fmt: skip
    if owner is not None and owner.seq is not None and owner.seq < prev[0]:
        first = owner.seq + 1
        span = f"seq {first}" if first == prev[0] else f"seq {first}..{prev[0]}"
        return Problem(
            "inserted", first, prev[2],
            f"row {span} (audit id {prev[2]}) is not part of the chain: row seq {seq} "
            f"links past it to seq {owner.seq}",
        )  # fmt: skip
    following = _one(engine, "SELECT prev_hash FROM audit_event WHERE seq = :s", s=seq + 1)
    if following is not None and following.prev_hash == prev[1]:
        return Problem(
            "inserted", seq, audit_id,
            f"row seq {seq} (audit id {audit_id}) is not part of the chain: row seq {seq + 1} "
            f"links past it to seq {prev[0]}",
        )  # fmt: skip
    return Problem(
        "deleted", seq, audit_id,
        f"the row before seq {seq} (audit id {audit_id}) is missing: it was deleted "
        f"(or seq {prev[0]} was rewritten with a new hash)",
    )  # fmt: skip


@dataclass(slots=True)
class _Walk:
    rows: int = 0
    seq: int = 0
    hash: str = GENESIS
    audit_id: int | None = None
    problem: Problem | None = None
    hashes: dict[int, str] = field(default_factory=dict)
    first: tuple[int, str | None] | None = None  # the first row walked: (seq, link)


def _walk(engine: Engine, rows: Iterator[Row], erased: set[int], wanted: set[int],
          slow: Callable[[int], str | None] | None, part: bool = False) -> _Walk:  # fmt: skip
    """Check ``rows`` in order from the chain's start, or (a ``part``) from its first row."""
    w = _Walk()
    sha = hashlib.sha256
    for seq, audit_id, body, link, row_hash, digest, profile_id, personal in rows:
        if w.first is None:
            w.first = (seq, link)
            if part:
                w.seq, w.hash = seq - 1, str(link)
        if seq != w.seq + 1:
            span = f"seq {w.seq + 1}" + (f"..{seq - 1}" if seq - 1 > w.seq + 1 else "")
            w.problem = Problem(
                "deleted", w.seq + 1, None,
                f"{span} is missing: the chain jumps from seq {w.seq} to seq {seq}",
            )  # fmt: skip
            return w
        if link != w.hash:
            w.problem = _link_break(engine, seq, audit_id, link, (w.seq, w.hash, w.audit_id))
            return w
        if body is None or sha((link + body).encode()).hexdigest() != row_hash:
            again = slow(audit_id) if slow is not None else None
            if again is None or _sha(link + again) != row_hash:
                w.problem = Problem(
                    "edited", seq, audit_id,
                    f"row seq {seq} (audit id {audit_id}) was changed: its content no longer "
                    "matches its hash",
                )  # fmt: skip
                return w
        if digest is not None:
            if personal is None:
                if profile_id not in erased:
                    w.problem = Problem(
                        "deleted", seq, audit_id,
                        f"the personal part of row seq {seq} (audit id {audit_id}) is missing, "
                        "and its profile was never erased",
                    )  # fmt: skip
                    return w
            elif _sha(personal) != digest:
                again = _parsed_personal(personal)
                if again is None or _sha(again) != digest:
                    w.problem = Problem(
                        "edited", seq, audit_id,
                        f"the personal part of row seq {seq} (audit id {audit_id}) was changed",
                    )  # fmt: skip
                    return w
        if seq in wanted:
            w.hashes[seq] = row_hash
        w.seq, w.hash, w.audit_id = seq, row_hash, audit_id
        w.rows += 1
    return w


def _part(url: str, bounds: tuple[int, int, int], erased: set[int], wanted: set[int],
          first: bool) -> _Walk:  # fmt: skip
    """One part of the id range, walked in a process of its own (a worker of :func:`verify`)."""
    from models.db import make_engine

    engine = make_engine(url)
    try:
        slow = lambda audit_id: _parsed_content(engine, audit_id)  # noqa: E731
        return _walk(engine, _sqlite_rows(engine, "id", bounds), erased, wanted, slow,
                     part=not first)  # fmt: skip
    finally:
        engine.dispose()


def _in_parts(engine: Engine, erased: set[int], wanted: set[int],
              bounds: tuple[int, int, int], count: int) -> _Walk | None:  # fmt: skip
    """The id range in ``count`` parts walked side by side, then stitched: each part must start
    where the one before it ended. None when anything is amiss (the caller walks again)."""
    head, lo, hi = bounds
    step = (hi - lo + 1) // count + 1
    parts = [(head, lo + i * step, min(hi, lo + (i + 1) * step - 1)) for i in range(count)]
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
        walks = list(pool.map(_part, [url] * count, parts, [erased] * count, [wanted] * count,
                              [i == 0 for i in range(count)]))  # fmt: skip
    end = _Walk()
    for w in walks:
        if w.problem is not None or (w.first is not None and w.first != (end.seq + 1, end.hash)):
            return None
        if w.first is not None:
            end.seq, end.hash, end.audit_id = w.seq, w.hash, w.audit_id
            end.rows += w.rows
            end.hashes.update(w.hashes)
    return end


def _sqlite_walk(engine: Engine, erased: set[int], wanted: set[int], part_rows: int) -> _Walk:
    """Walk in id order (a plain scan: the sealing order on SQLite), a long trail in parts in
    processes side by side; if that finds anything, once in seq order, which names the break."""
    slow = lambda audit_id: _parsed_content(engine, audit_id)  # noqa: E731
    span = _one(engine, "SELECT max(seq) AS head, min(id) AS lo, max(id) AS hi FROM audit_event"
                        " WHERE seq IS NOT NULL")  # fmt: skip
    bounds = (int(span.head or 0), int(span.lo or 0), int(span.hi or 0))
    count = min(os.cpu_count() or 1, MAX_PARTS, (bounds[2] - bounds[1] + 1) // part_rows)
    if count > 1 and (w := _in_parts(engine, erased, wanted, bounds, count)) is not None:
        return w
    w = _walk(engine, _sqlite_rows(engine, "id", bounds), erased, wanted, slow)
    if w.problem is None:
        return w
    return _walk(engine, _sqlite_rows(engine, "seq", (2**62, bounds[1], bounds[2])), erased,
                 wanted, slow)  # fmt: skip


def verify(engine: Engine, *, remember: Sequence[int] = (), part_rows: int = PART_ROWS) -> Verified:
    """Walk the whole chain; the result names the first break, if any.

    On SQLite the rows are read in id order first (a plain scan, the sealing order there; a long
    trail in parts side by side); only if that fails is the walk repeated in seq order, which
    then names the break.
    """
    started = time.perf_counter()
    erased = _erased_profiles(engine)
    wanted = set(remember)
    if engine.dialect.name == "sqlite":
        w = _sqlite_walk(engine, erased, wanted, part_rows)
    else:
        w = _walk(engine, _pg_rows(engine), erased, wanted, None)
    problem = w.problem
    if problem is None:
        stray = _one(
            engine, "SELECT id FROM audit_event WHERE seq IS NULL AND row_hash IS NOT NULL"
        )
        if stray is not None:
            problem = Problem(
                "inserted", None, stray.id,
                f"audit id {stray.id} carries a hash but has no place in the chain",
            )  # fmt: skip
    pending = _one(engine, "SELECT count(*) AS n FROM audit_event WHERE row_hash IS NULL").n
    return Verified(w.rows, w.seq, w.hash, int(pending), time.perf_counter() - started, problem,
                    w.hashes)  # fmt: skip
