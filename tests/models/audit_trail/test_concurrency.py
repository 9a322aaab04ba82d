"""Several workers appending and sealing at once on PostgreSQL: one chain, no gaps, every row
sealed once, and writers never wait for a sealer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.audit_trail.sealing import LOCK_KEY, seal
from models.audit_trail.verify import verify
from models.db import make_engine
from tests.models.audit_trail.trail_data import write_rows

WORKERS = 4
ROUNDS = 8
BATCH = 40


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """PostgreSQL only: SQLite serialises writers by itself."""
    engine = make_engine(pg_url, pool_size=WORKERS + 2)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_writers_and_sealers_keep_one_chain(pg_engine: Engine) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def worker(n: int) -> None:
        try:
            start.wait()
            for r in range(ROUNDS):
                write_rows(pg_engine, BATCH, start=(n * ROUNDS + r) * BATCH + 1)
                seal(pg_engine, wait=False, batch_size=25)  # what a batch end does
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seal(pg_engine, wait=True)
    total = WORKERS * ROUNDS * BATCH
    with pg_engine.connect() as conn:
        seqs = conn.execute(text("SELECT seq FROM audit_event ORDER BY seq")).scalars().all()
        sealed = conn.execute(text("SELECT count(*) FROM audit_event WHERE row_hash IS NOT NULL"))
        assert sealed.scalar_one() == total
    assert seqs == list(range(1, total + 1))
    result = verify(pg_engine)
    assert (result.problem, result.rows, result.pending) == (None, total, 0)


@pytest.mark.postgres
def test_writers_do_not_wait_for_a_busy_sealer(pg_engine: Engine) -> None:
    write_rows(pg_engine, 5)
    with pg_engine.connect() as busy:
        busy.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})  # a sealer at work
        started = time.monotonic()
        write_rows(pg_engine, 5, start=6)
        assert seal(pg_engine, wait=False) == 0  # skipped, not blocked
        assert time.monotonic() - started < 5
        busy.rollback()
    assert seal(pg_engine, wait=False) == 10
    assert verify(pg_engine).problem is None
