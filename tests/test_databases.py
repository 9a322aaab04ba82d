"""The schema migrates on both databases and the SQLite file runs in WAL with foreign keys."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.db import current_revision, stored_id, upgrade
from models.tables import Profile

TABLES = {
    "profile",
    "contact_point",
    "consent",
    "campaign",
    "round",
    "enrollment",
    "outreach",
    "delivery_event",
    "verification_token",
    "submission",
    "audit_event",
}


def test_schema_is_at_head_and_upgrade_is_idempotent(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    head = current_revision(engine)
    assert head is not None
    upgrade(engine)
    assert current_revision(engine) == head


def test_sqlite_runs_in_wal_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        assert engine.dialect.name == "postgresql"
        return
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_only_one_active_enrollment_per_profile(engine: Engine) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO profile (external_id, locale, created_at, updated_at) "
                "VALUES ('c1', 'nl', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO campaign (key, version, content_hash, definition, created_at) "
                "VALUES ('default', 1, 'x', '{}', CURRENT_TIMESTAMP)"
            )
        )
        for _ in range(2):
            conn.execute(
                text(
                    "INSERT INTO round (campaign_id, started_by, status, started_at) "
                    "VALUES (1, 'test', 'running', CURRENT_TIMESTAMP)"
                )
            )
        conn.execute(
            text(
                "INSERT INTO enrollment (round_id, profile_id, state, gap_mask, "
                "step_index, created_at, updated_at) VALUES "
                "(1, 1, 'active', 1, -1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO enrollment (round_id, profile_id, state, gap_mask, "
                "step_index, created_at, updated_at) VALUES "
                "(2, 1, 'active', 1, -1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )


def test_migrations_match_the_models(engine: Engine) -> None:
    """A column added to a model without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_row_has_an_id_once_stored_and_an_unstored_one_is_refused(engine: Engine) -> None:
    profile = Profile(external_id="c-1")
    with pytest.raises(ValueError, match="Profile row has no id: add and flush it first"):
        stored_id(profile)
    with Session(engine) as session:
        session.add(profile)
        session.flush()
        assert stored_id(profile) == profile.id
        assert isinstance(profile.id, int)
