"""Verifying the chain: stream sealed rows by ``seq`` and name the first break.

A break is one of: ``edited`` (a row's content, or its personal part, no longer matches its
hash), ``deleted`` (a gap in ``seq``, a row's predecessor missing, or a personal part gone
without a sealed ``profile.erased`` event for its profile), ``inserted`` (a row that is not
part of the chain: the next row links past it) and ``reordered`` (a row links to a later row).

Each row comes with its canonical content spelled from the text stored
(:mod:`models.audit_trail.chain_rows`), so the walk only hashes; a row whose spelling does not
match its hash is checked again the slow way, from its parsed columns.
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
from models.audit_trail.chain_rows import Row, batches
from models.audit_trail.sealing import GENESIS, content
from models.tables import AUDIT
from models.vocabulary import AuditAction

# A long trail is walked in parts, one process each.
MAX_PARTS: Final = 4
PART_ROWS: Final = 100_000  # rows per part at least: a process costs more than a short walk


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


def _walk(engine: Engine, batches: Iterator[Sequence[Row]], erased: set[int], wanted: set[int],
          slow: Callable[[int], str | None] | None, part: bool = False) -> _Walk:  # fmt: skip
    """Check ``rows`` in order from the chain's start, or (a ``part``) from its first row."""
    w = _Walk()
    sha = hashlib.sha256
    rows = (row for batch in batches for row in batch)
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


def _part(url: str, key: str, bounds: tuple[int, int, int], erased: set[int],
          wanted: set[int], first: bool) -> _Walk:  # fmt: skip
    """One part of the range, walked in a process of its own (a worker of :func:`verify`)."""
    from models.db import make_engine

    engine = make_engine(url)
    try:
        slow = lambda audit_id: _parsed_content(engine, audit_id)  # noqa: E731
        return _walk(engine, batches(engine, key, key, bounds), erased, wanted, slow,
                     part=not first)  # fmt: skip
    finally:
        engine.dispose()


def _in_parts(engine: Engine, key: str, erased: set[int], wanted: set[int],
              bounds: tuple[int, int, int], count: int) -> _Walk | None:  # fmt: skip
    """The range in ``count`` parts walked side by side, then stitched: each part must start
    where the one before it ended. None when anything is amiss (the caller walks again)."""
    head, lo, hi = bounds
    step = (hi - lo + 1) // count + 1
    parts = [(head, lo + i * step, min(hi, lo + (i + 1) * step - 1)) for i in range(count)]
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
        walks = list(pool.map(_part, [url] * count, [key] * count, parts, [erased] * count,
                              [wanted] * count, [i == 0 for i in range(count)]))  # fmt: skip
    end = _Walk()
    for w in walks:
        if w.problem is not None or (w.first is not None and w.first != (end.seq + 1, end.hash)):
            return None
        if w.first is not None:
            end.seq, end.hash, end.audit_id = w.seq, w.hash, w.audit_id
            end.rows += w.rows
            end.hashes.update(w.hashes)
    return end


def _walk_all(engine: Engine, erased: set[int], wanted: set[int], part_rows: int) -> _Walk:
    """Walk the chain, a long one in parts in processes side by side (the driver takes the GIL
    for every row, so threads would not help); if that finds anything, once whole in seq order,
    which names the break.

    SQLite walks in id order first: a plain scan, and the sealing order there (one writer at a
    time). PostgreSQL walks by seq: rows committed out of id order are sealed out of it too.
    """
    slow = lambda audit_id: _parsed_content(engine, audit_id)  # noqa: E731
    key = "id" if engine.dialect.name == "sqlite" else "seq"
    span = _one(engine, f"SELECT max(seq) AS head, min({key}) AS lo, max({key}) AS hi"
                        " FROM audit_event WHERE seq IS NOT NULL")  # fmt: skip
    bounds = (int(span.head or 0), int(span.lo or 0), int(span.hi or 0))
    count = min(os.cpu_count() or 1, MAX_PARTS, (bounds[2] - bounds[1] + 1) // part_rows)
    if count > 1 and (w := _in_parts(engine, key, erased, wanted, bounds, count)) is not None:
        return w
    w = _walk(engine, batches(engine, key, key, bounds), erased, wanted, slow)
    if w.problem is None or key == "seq":
        return w
    return _walk(engine, batches(engine, "id", "seq", (2**62, bounds[1], bounds[2])), erased,
                 wanted, slow)  # fmt: skip


def verify(engine: Engine, *, remember: Sequence[int] = (), part_rows: int = PART_ROWS) -> Verified:
    """Walk the whole chain; the result names the first break, if any.

    Each row's canonical content is spelled from its stored text; Python hashes it and follows
    the links (see :func:`_walk_all`).
    """
    started = time.perf_counter()
    erased = _erased_profiles(engine)
    wanted = set(remember)
    w = _walk_all(engine, erased, wanted, part_rows)
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
