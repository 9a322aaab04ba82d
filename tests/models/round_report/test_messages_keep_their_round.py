"""Upgrading to revision 0014 gives the messages already sent their enrollment's round, so the
report of a round started before the upgrade still counts them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.db import make_engine, upgrade
from models.round_report import collect_report
from tests.factories import NOW

T = "2026-11-02 10:00:00.000000"
ROWS = [
    "INSERT INTO campaign (id, key, version, content_hash, definition, created_at)"
    " VALUES (1, 'c', 1, 'x', '{}', :t)",
    "INSERT INTO round (id, campaign_id, started_by, status, parameters, started_at)"
    " VALUES (7, 1, 'steward', 'finished', '{}', :t)",
    "INSERT INTO profile (id, external_id, locale, created_at, updated_at)"
    " VALUES (1, 'a', 'nl', :t, :t), (2, 'b', 'nl', :t, :t)",
    "INSERT INTO enrollment (id, round_id, profile_id, state, gap_mask, step_index,"
    " created_at, updated_at) VALUES (3, 7, 1, 'exhausted', 1, 1, :t, :t),"
    " (4, 7, 2, 'active', 1, 0, :t, :t)",
    # two ladder messages and a one-time code (no enrollment, so no round)
    "INSERT INTO outreach (id, enrollment_id, profile_id, step_index, channel, template,"
    " status, sent_at, created_at, updated_at) VALUES"
    " (10, 3, 1, 0, 'email', 'ask', 'sent', :t, :t, :t),"
    " (11, 3, 1, 1, 'sms', 'ask', 'sent', :t, :t, :t),"
    " (12, 4, 2, 0, 'email', 'ask', 'skipped', NULL, :t, :t),"
    " (13, NULL, 2, 0, 'sms', 'otp', 'sent', :t, :t, :t)",
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database at revision 0013."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
        upgrade(engine, "0013")
        yield engine
        engine.dispose()
        return
    postgres: Any = request.getfixturevalue("postgres")
    admin = make_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE before_0014"))
    engine = make_engine(postgres.url("before_0014"))
    try:
        upgrade(engine, "0013")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE before_0014 WITH (FORCE)"))
        admin.dispose()


def test_the_upgrade_gives_each_message_its_round(old_database: Engine) -> None:
    with old_database.begin() as conn:
        for statement in ROWS:
            conn.execute(text(statement), {"t": T})
    upgrade(old_database)
    with old_database.connect() as conn:
        rounds = dict(conn.execute(text("SELECT id, round_id FROM outreach")).tuples().all())
        report = collect_report(conn, round_id=7, now=NOW)
    assert rounds == {10: 7, 11: 7, 12: 7, 13: None}
    funnel = {
        (r["step"], r["channel"]): (r["enrolled"], r["sent"]) for r in report["rounds"][0]["funnel"]
    }
    assert funnel == {(1, "email"): (2, 1), (2, "sms"): (1, 1)}
