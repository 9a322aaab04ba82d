"""Tampering as an attacker with write access would do it, behind the triggers: every edit,
deletion, swap and insertion is found and named by ``verify`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from models.audit_trail.sealing import seal
from models.audit_trail.verify import verify
from models.db import make_engine
from tests.factories import NOW
from tests.models.audit_trail.trail_data import attacker, forged_hash, p, write_rows

ROWS = 12


@pytest.fixture
def sealed(engine: Engine) -> Engine:
    write_rows(engine, ROWS)
    seal(engine)
    assert verify(engine).problem is None
    parts = verify(engine, part_rows=3)
    assert (parts.problem, parts.rows, parts.head_seq) == (None, ROWS, ROWS)
    return engine


def ids_by_seq(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT seq, id FROM audit_event").all())


def problem_of(engine: Engine) -> tuple[str, int | None, int | None]:
    found = verify(engine).problem
    assert found is not None
    # Walked in parts side by side (as a long trail is on SQLite), the answer is the same.
    assert verify(engine, part_rows=3).problem == found
    return found.kind, found.seq, found.audit_id


def test_an_edited_row_is_named(sealed: Engine) -> None:
    json = "?" if sealed.dialect.name == "sqlite" else "CAST(? AS json)"
    with attacker(sealed) as cur:
        cur.execute(p(sealed, f"UPDATE audit_event SET after = {json} WHERE seq = 5"),
                    ('{"state":"forged"}',))  # fmt: skip
    assert problem_of(sealed) == ("edited", 5, ids_by_seq(sealed)[5])


def test_an_edited_timestamp_or_actor_is_named(sealed: Engine) -> None:
    with attacker(sealed) as cur:
        cur.execute("UPDATE audit_event SET actor = 'someone else' WHERE seq = 7")
    assert problem_of(sealed)[:2] == ("edited", 7)


def test_a_deleted_row_is_named(sealed: Engine) -> None:
    with attacker(sealed) as cur:
        cur.execute("DELETE FROM audit_event WHERE seq = 4")  # seq 4 has no personal part
    kind, seq, _ = problem_of(sealed)
    assert (kind, seq) == ("deleted", 4)
    assert "seq 4 is missing" in str(verify(sealed).problem)


def test_a_deleted_row_with_later_rows_renumbered_is_named(sealed: Engine) -> None:
    with attacker(sealed) as cur:
        cur.execute("DELETE FROM audit_event WHERE seq = 4")
        cur.execute("UPDATE audit_event SET seq = -seq WHERE seq > 4")
        cur.execute("UPDATE audit_event SET seq = -seq - 1 WHERE seq < 0")
    assert problem_of(sealed)[:2] == ("deleted", 4)


def test_two_swapped_rows_are_named(sealed: Engine) -> None:
    before = ids_by_seq(sealed)
    with attacker(sealed) as cur:
        cur.execute("UPDATE audit_event SET seq = -1 WHERE seq = 8")
        cur.execute("UPDATE audit_event SET seq = 8 WHERE seq = 9")
        cur.execute("UPDATE audit_event SET seq = 9 WHERE seq = -1")
    assert problem_of(sealed) == ("reordered", 8, before[9])


def test_an_inserted_row_is_named_even_with_a_valid_hash(sealed: Engine) -> None:
    with sealed.connect() as conn:
        prev = conn.exec_driver_sql("SELECT row_hash FROM audit_event WHERE seq = 5").scalar_one()
    forged = {"id": 1000, "at": NOW, "actor": "intruder", "action": "profile.update",
              "entity_type": "profile", "entity_id": 1, "profile_id": 1, "before": None,
              "after": None, "reason": "planted", "evidence": None}  # fmt: skip
    at = NOW.replace(tzinfo=None).isoformat(" ") + ".000000"
    with attacker(sealed) as cur:
        cur.execute("UPDATE audit_event SET seq = -seq WHERE seq > 5")
        cur.execute("UPDATE audit_event SET seq = -seq + 1 WHERE seq < 0")
        cur.execute(
            p(sealed, "INSERT INTO audit_event (id, at, actor, action, entity_type, entity_id,"
                      " profile_id, reason, seq, prev_hash, row_hash)"
                      " VALUES (1000, ?, 'intruder', 'profile.update', 'profile', 1, 1,"
                      " 'planted', 6, ?, ?)"),
            (at if sealed.dialect.name == "sqlite" else NOW, prev, forged_hash(prev, forged)),
        )  # fmt: skip
    assert problem_of(sealed) == ("inserted", 6, 1000)


def test_an_edited_or_deleted_personal_part_is_named(sealed: Engine) -> None:
    with attacker(sealed) as cur:
        cur.execute(p(sealed, "UPDATE audit_personal SET salt = ? WHERE audit_id = ?"),
                    ("0" * 32, ids_by_seq(sealed)[3]))  # fmt: skip
    assert problem_of(sealed)[:2] == ("edited", 3)
    assert "personal part" in str(verify(sealed).problem)
    with attacker(sealed) as cur:
        cur.execute(p(sealed, "DELETE FROM audit_personal WHERE audit_id = ?"),
                    (ids_by_seq(sealed)[3],))  # fmt: skip
    assert problem_of(sealed)[:2] == ("deleted", 3)
    assert "never erased" in str(verify(sealed).problem)


@pytest.fixture
def sealed_file(sqlite_url: str) -> Iterator[Engine]:
    """A sealed trail in a SQLite file: a file edit is the SQLite attack (PostgreSQL's files are
    the server's; the SQL attacks above cover it)."""
    engine = make_engine(sqlite_url)
    write_rows(engine, ROWS)
    seal(engine)
    yield engine
    engine.dispose()


def test_a_byte_edited_in_the_sqlite_file_is_named(sealed_file: Engine) -> None:
    sealed = sealed_file
    with sealed.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    sealed.dispose()
    path = Path(str(make_url(str(sealed.url)).database))
    data = path.read_bytes()
    assert data.count(b'"state":"new-000010"') == 1
    path.write_bytes(data.replace(b'"state":"new-000010"', b'"state":"new-000011"'))
    assert problem_of(sealed)[:2] == ("edited", 10)
