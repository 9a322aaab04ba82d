"""The chain's rows as the verifier reads them: each with its canonical content, in batches.

SQLite spells the content itself, from the JSON text the sealer stored canonically
(``json_quote`` escapes strings as RFC 8785 does). PostgreSQL hands over the columns as text (its
JSON as ``json``: the text the sealer wrote) and Python spells them as the sealer did. A row whose
spelling does not match its hash is checked again the slow way by the verifier.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from sqlalchemy.engine import Engine

from models.audit_trail.canonical import encode_string

FETCH: Final = 10_000

# seq, audit id, canonical content, prev_hash, row_hash, personal_digest, profile id, and the
# personal part as stored (salt and JSON).
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
    " FROM audit_event e WHERE e.seq IS NOT NULL AND e.seq <= ? AND e.KEY BETWEEN ? AND ?"
    " ORDER BY e.ORDER"
)


# PostgreSQL puts together what needs no escaping (JSON columns, which are ``json``: the text
# the sealer wrote; numbers); Python quotes the strings (the server's ``to_json`` costs more) and
# the time, and joins.
_PG_ROWS: Final = (
    "SELECT e.seq, e.id, e.prev_hash, e.row_hash, e.personal_digest, e.profile_id, e.action,"
    " e.actor, ',\"after\":' || coalesce(CAST(e.after AS text), 'null') || ',\"at\":',"
    " CAST(e.at AS text), ',\"before\":' || coalesce(CAST(e.before AS text), 'null')"
    " || ',\"entity_id\":' || coalesce(CAST(e.entity_id AS text), 'null')"
    " || ',\"entity_type\":', e.entity_type,"
    " ',\"evidence\":' || coalesce(CAST(e.evidence AS text), 'null') || ',\"id\":'"
    " || CAST(e.id AS text) || ',\"personal_digest\":',"
    " ',\"profile_id\":' || coalesce(CAST(e.profile_id AS text), 'null') || ',\"reason\":',"
    " e.reason, p.salt || coalesce(CAST(p.data AS text), 'null')"
    " FROM audit_event e LEFT JOIN audit_personal p ON p.audit_id = e.id"
    " WHERE e.seq IS NOT NULL AND e.seq <= %s AND e.seq BETWEEN %s AND %s ORDER BY e.seq"
)


def _pg_time(at: str) -> str:
    """``2026-12-02 06:00:00.5+00`` (a UTC session's text) as hashed: ``"…T06:00:00.500000Z"``."""
    if not at.endswith("+00"):
        return "!"  # not UTC: matches no hash, the row is checked the slow way
    whole, _, fraction = at[:-3].partition(".")
    return f'"{whole[:10]}T{whole[11:]}.{fraction:0<6}Z"'


def _pg_batch(batch: Sequence[tuple[Any, ...]], times: dict[str, str]) -> list[Row]:
    """Each row with its canonical content, spelled as the sealer spells it."""
    q = encode_string
    out: list[Row] = []
    for (seq, audit_id, link, row_hash, digest, profile_id, action, actor, after, at, before,
         entity_type, evidence, profile, reason, personal) in batch:  # fmt: skip
        spelled = times.get(at)
        if spelled is None:
            spelled = times[at] = _pg_time(at)
        body = "".join(
            (
                '{"action":', "null" if action is None else q(action),
                ',"actor":', "null" if actor is None else q(actor), after, spelled, before,
                "null" if entity_type is None else q(entity_type), evidence,
                "null" if digest is None else q(digest), profile,
                "null" if reason is None else q(reason), "}",
            )
        )  # fmt: skip
        out.append((seq, audit_id, body, link, row_hash, digest, profile_id, personal))
    return out


def batches(engine: Engine, key: str, order: str,
             bounds: tuple[int, int, int]) -> Iterator[Sequence[Row]]:  # fmt: skip
    """Sealed rows up to seq ``bounds[0]`` with ``key`` (id or seq) in ``bounds[1]..bounds[2]``,
    in ``order`` (PostgreSQL: always seq), each with its canonical content, in batches."""
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    times: dict[str, str] = {}
    try:
        if sqlite:
            cursor = raw.cursor()
            sql = _SQLITE_ROWS.replace("e.KEY", f"e.{key}").replace("e.ORDER", f"e.{order}")
        else:
            raw.cursor().execute("SET LOCAL timezone = 'UTC'")
            # A server-side cursor, so a long trail is never held in memory at once.
            cursor = raw.driver_connection.cursor(name="audit_verify")  # type: ignore[union-attr]
            sql = _PG_ROWS
        cursor.execute(sql, bounds)
        if sqlite:
            while batch := cursor.fetchmany(FETCH):
                yield batch
        else:
            # The next batch is fetched while this one is checked: the server works meanwhile.
            with ThreadPoolExecutor(1) as fetcher:
                ahead = fetcher.submit(cursor.fetchmany, FETCH)
                while batch := ahead.result():
                    ahead = fetcher.submit(cursor.fetchmany, FETCH)
                    yield _pg_batch(batch, times)
        cursor.close()
    finally:
        raw.rollback()
        raw.close()
