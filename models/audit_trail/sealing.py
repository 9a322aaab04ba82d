"""Sealing: pending audit rows, in id order, join the hash chain; their personal part goes apart.

Writers never wait for the chain: they insert rows unsealed (``row_hash`` NULL), in bulk. A
sealer then, per batch: resolves the profile of rows that name only a record, moves each row's
personal values to ``audit_personal`` under a random salt (the row keeps a placeholder and
``personal_digest = sha256(salt + canonical(personal))``), and gives the row ``seq``,
``prev_hash`` and ``row_hash = sha256(prev_hash + canonical(content))``. Sealers serialise among
themselves (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock) and the unique
``seq`` makes a fork impossible.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from models.audit_trail.canonical import (
    SAFE_INT,
    canonical,
    canonical_text,
    canonical_time,
    encode_string,
)
from models.audit_trail.personal import JSON_COLUMNS, plain, profile_needles, split
from models.audit_trail.reading import OWNED
from models.tables import AUDIT
from models.types import utcnow

GENESIS: Final = "0" * 64
BATCH: Final = 2000
# pg_advisory_xact_lock key of the sealers (any constant; "ENRICH" in ASCII).
LOCK_KEY: Final = 0x454E52494348
_IN_CHUNK: Final = 1000
_NONE: Final[frozenset[str]] = frozenset()
_encode_string = encode_string
_COLUMNS = (
    "id", "at", "actor", "action", "entity_type", "entity_id", "profile_id",
    "before", "after", "reason", "evidence",
)  # fmt: skip


log = logging.getLogger(__name__)


class SealingError(ValueError):
    """A pending row whose content has no canonical form (RFC 8785 refuses it)."""


def content(row: Mapping[str, Any], personal_digest: str | None) -> dict[str, Any]:
    """What a row's hash covers (everything but its chain columns and personal values)."""
    return {
        "id": row["id"],
        "at": canonical_time(row["at"]),
        "actor": row["actor"],
        "action": row["action"],
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "profile_id": row["profile_id"],
        "before": row["before"],
        "after": row["after"],
        "reason": row["reason"],
        "evidence": row["evidence"],
        "personal_digest": personal_digest,
    }


def link(prev_hash: str, canonical_content: bytes) -> str:
    """The row hash: sha256 over the predecessor's hash (hex, ASCII) and the row's content."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_content).hexdigest()


def personal_digest(salt: str, items: Any) -> str:
    return hashlib.sha256(salt.encode("ascii") + canonical(items)).hexdigest()


def _locked(conn: Connection, wait: bool) -> bool:
    """Take the sealers' lock for this transaction; False when ``wait`` is off and it is busy."""
    if conn.dialect.name == "postgresql":
        if wait:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            return True
        return bool(
            conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar()
        )
    # SQLite: a write first, so the transaction holds the write lock before it reads the head.
    conn.execute(text("UPDATE audit_event SET seq = seq WHERE 0"))
    return True


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        select(AUDIT.c.seq, AUDIT.c.row_hash)
        .where(AUDIT.c.seq.is_not(None))
        .order_by(AUDIT.c.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.row_hash))


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + _IN_CHUNK] for i in range(0, len(ordered), _IN_CHUNK)]


def _owners(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Fill in the profile of rows that name only a profile's record (set-based, per type)."""
    wanted: dict[str, list[int]] = {}
    for row in rows:
        if row["profile_id"] is None and row["entity_id"] is not None:
            if row["entity_type"] == "profile":
                row["profile_id"] = row["entity_id"]
            elif row["entity_type"] in OWNED:
                wanted.setdefault(row["entity_type"], []).append(row["entity_id"])
    owner: dict[tuple[str, int], int] = {}
    for entity, ids in wanted.items():
        table = OWNED[entity]
        for chunk in _chunks(ids):
            query = select(table.c.id, table.c.profile_id).where(table.c.id.in_(chunk))
            owner.update({(entity, rid): pid for rid, pid in conn.execute(query)})
    for row in rows:
        if row["profile_id"] is None and row["entity_type"] in wanted:
            row["profile_id"] = owner.get((row["entity_type"], row["entity_id"]))


def _needles(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[int, frozenset[str]]:
    pids = [r["profile_id"] for r in rows if r["profile_id"] is not None]
    needles: dict[int, frozenset[str]] = {}
    for chunk in _chunks(pids):
        needles.update(profile_needles(conn, chunk))
    return needles


def content_text(row: Mapping[str, Any], texts: Mapping[str, str], digest: str | None) -> str:
    """The canonical content of ``row`` (see :func:`content`), its JSON columns already
    canonical in ``texts``; keys in RFC 8785 order, strings escaped as RFC 8785 does."""
    for key in ("id", "entity_id", "profile_id"):
        value = row[key]
        if value is not None and (type(value) is not int or abs(value) > SAFE_INT):
            return canonical(content(row, digest)).decode("utf-8")
    q = _encode_string
    entity_id, profile_id, reason = row["entity_id"], row["profile_id"], row["reason"]
    return _CONTENT % (
        q(row["action"]),
        q(row["actor"]),
        texts["after"],
        canonical_time(row["at"]),  # digits, '-', ':', '.', 'T', 'Z': nothing to escape
        texts["before"],
        "null" if entity_id is None else entity_id,
        q(row["entity_type"]),
        texts["evidence"],
        row["id"],
        "null" if digest is None else q(digest),
        "null" if profile_id is None else profile_id,
        "null" if reason is None else q(reason),
    )


_CONTENT: Final = (
    '{"action":%s,"actor":%s,"after":%s,"at":"%s","before":%s,"entity_id":%s,"entity_type":%s,'
    '"evidence":%s,"id":%d,"personal_digest":%s,"profile_id":%s,"reason":%s}'
)


# JSON as the text stored (both databases keep it as written), so a canonical one is kept as it is.
_PENDING: Final = (
    "SELECT id, at, actor, action, entity_type, entity_id, profile_id, CAST(before AS text),"
    " CAST(after AS text), reason, CAST(evidence AS text) FROM audit_event"
    " WHERE row_hash IS NULL ORDER BY id LIMIT {limit}"
)
_SEAL: Final = (
    "UPDATE audit_event SET seq = ?, prev_hash = ?, row_hash = ?, personal_digest = ?,"
    " profile_id = ?, sealed_at = ?{more} WHERE id = ? AND row_hash IS NULL"
)
# Fewer columns set, fewer indexes touched: most rows keep their profile and have no personal part.
_CHAIN: Final = (
    "UPDATE audit_event SET seq = ?, prev_hash = ?, row_hash = ?, sealed_at = ?"
    " WHERE id = ? AND row_hash IS NULL"
)
_REWRITE: Final = ", before = ?J, after = ?J, evidence = ?J, reason = ?"
_PERSONAL: Final = (
    "INSERT INTO audit_personal (audit_id, profile_id, salt, data) VALUES (?, ?, ?, ?J)"
)


def _sql(conn: Connection, sql: str) -> str:
    """Our statements in the driver's parameter style; JSON given as text."""
    if conn.dialect.name == "postgresql":
        return sql.replace("?J", "CAST(%s AS json)").replace("?", "%s")
    return sql.replace("?J", "?")


def _pending(conn: Connection, batch_size: int) -> list[dict[str, Any]]:
    """The next pending rows, their JSON columns as the text stored (parsed by ``split``)."""
    rows = conn.exec_driver_sql(_PENDING.format(limit=int(batch_size))).all()
    out = []
    for r in rows:
        row = dict(zip(_COLUMNS, r, strict=True))
        row["stored"] = tuple(row[c] for c in JSON_COLUMNS)
        row["stored_profile_id"] = row["profile_id"]
        out.append(row)
    return out


def _taken_apart(
    row: dict[str, Any], needles: frozenset[str]
) -> tuple[dict[str, str], str | None, bool, tuple[Any, ...] | None]:
    """``row`` split into what is hashed and its personal part (``row`` takes the kept values):
    the canonical texts of its JSON columns, the personal digest, whether its JSON or reason is
    rewritten, and the ``audit_personal`` row to write (or None)."""
    try:
        kept, items, texts = split(row, needles)
    except rfc8785.CanonicalizationError as err:  # an integer beyond 2**53, say
        raise SealingError(f"audit row {row['id']} cannot be sealed: {err}") from err
    row.update(kept)
    if not items:
        # JSON is kept as text: stored canonically, the verifier hashes it as it is.
        changed = any(
            stored is not None and stored != texts[c]
            for c, stored in zip(JSON_COLUMNS, row["stored"], strict=True)
        )
        return texts, None, changed, None
    salt = secrets.token_hex(16)
    data = canonical_text(items)
    digest = hashlib.sha256((salt + data).encode("utf-8")).hexdigest()
    return texts, digest, True, (row["id"], row["profile_id"], salt, data)


def _seal_batch(conn: Connection, now: datetime, batch_size: int) -> int:
    rows = _pending(conn, batch_size)
    if not rows:
        return 0
    _owners(conn, rows)
    needles = _needles(conn, rows)
    seq, prev = _head(conn)
    sqlite = conn.dialect.name == "sqlite"
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    chained: list[tuple[Any, ...]] = []  # the row as it is: only its place in the chain is set
    owned: list[tuple[Any, ...]] = []  # also its profile or personal digest
    rewritten: list[tuple[Any, ...]] = []  # also its JSON and reason
    personal: list[tuple[Any, ...]] = []
    for row, kept_whole in zip(rows, plain(rows, needles), strict=True):
        pid = row["profile_id"]
        if kept_whole:  # the common case: sealed as stored, nothing parsed row by row
            stored = zip(JSON_COLUMNS, row["stored"], strict=True)
            texts = {c: "null" if t is None else t for c, t in stored}
            digest, rewrite = None, False
        else:
            texts, digest, rewrite, part = _taken_apart(row, needles.get(pid, _NONE))
            if part is not None:
                personal.append(part)
        seq += 1
        row_hash = link(prev, content_text(row, texts, digest).encode("utf-8"))
        if rewrite:
            json_texts = tuple(None if row[c] is None else texts[c] for c in JSON_COLUMNS)
            rewritten.append((seq, prev, row_hash, digest, pid, stamp, *json_texts,
                              row["reason"], row["id"]))  # fmt: skip
        elif digest is None and pid == row["stored_profile_id"]:
            chained.append((seq, prev, row_hash, stamp, row["id"]))
        else:
            owned.append((seq, prev, row_hash, digest, pid, stamp, row["id"]))
        prev = row_hash
    if personal:
        conn.exec_driver_sql(_sql(conn, _PERSONAL), personal)
    if chained:
        conn.exec_driver_sql(_sql(conn, _CHAIN), chained)
    if owned:
        conn.exec_driver_sql(_sql(conn, _SEAL.format(more="")), owned)
    if rewritten:
        conn.exec_driver_sql(_sql(conn, _SEAL.format(more=_REWRITE)), rewritten)
    return len(rows)


def seal_pending(
    conn: Connection, *, now: datetime | None = None, batch_size: int = BATCH, wait: bool = True
) -> int:
    """Seal every pending row visible to ``conn``'s transaction; returns how many.

    With ``wait`` off, returns 0 at once when another sealer holds the lock (PostgreSQL).
    """
    if not _locked(conn, wait):
        return 0
    sealed = 0
    while n := _seal_batch(conn, now or utcnow(), batch_size):
        sealed += n
    return sealed


def seal(engine: Engine, *, wait: bool = False, batch_size: int = BATCH) -> int:
    """Seal what is pending, one transaction per batch (call it after a commit).

    At a batch's or a flow's end ``wait`` stays off: when another sealer is busy it seals these
    rows too, and a row that cannot be sealed (:class:`SealingError`) is logged and left
    pending rather than failing the work already committed; ``enrich audit seal`` waits, and
    raises it.
    """
    sealed = 0
    while True:
        try:
            with engine.begin() as conn:
                if not _locked(conn, wait):
                    return sealed
                n = _seal_batch(conn, utcnow(), batch_size)
        except SealingError as err:
            if wait:
                raise
            log.error("%s; the trail stays unsealed from there until it is fixed", err)
            return sealed
        sealed += n
        if n < batch_size:
            return sealed


def pending_count(conn: Connection) -> int:
    return int(
        conn.execute(text("SELECT count(*) FROM audit_event WHERE row_hash IS NULL")).scalar_one()
    )
