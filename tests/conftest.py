"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL), settings, the CLI."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from enrich.settings import Settings, get_settings
from models.db import make_engine, upgrade
from tests import pg_server

# Prefect's own INFO lines at interpreter exit would hit pytest's closed capture streams.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-ins and the app listen on loopback: never through a proxy of the machine."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg_server.PgServer]:
    try:
        server = pg_server.start()
    except pg_server.PostgresUnavailable as err:
        if IN_CI:
            pytest.fail(f"PostgreSQL must run in CI: {err}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {err}")
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE enrich_template"))
    template = make_engine(server.url("enrich_template"))
    upgrade(template)
    template.dispose()
    admin.dispose()
    yield server
    server.stop()


_db_counter = itertools.count()


def _postgres_database(server: pg_server.PgServer) -> Iterator[str]:
    name = f"t_{os.getpid()}_{next(_db_counter)}"
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE enrich_template"))
    try:
        yield server.url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: once as a SQLite file, once on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "enrich.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres"))


@pytest.fixture
def pg_url(postgres: pg_server.PgServer) -> Iterator[str]:
    """A migrated, empty database on the throwaway PostgreSQL only: for what SQLite cannot show
    (writers at once), so no SQLite variant is collected only to be skipped."""
    yield from _postgres_database(postgres)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite file only: for what only a file can show (its bytes)."""
    path = tmp_path / "enrich.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at this test's database and a private data directory, also via env."""
    data_dir = tmp_path / "var"
    env = {
        "ENRICH_DATA_DIR": str(data_dir),
        "ENRICH_DATABASE_URL": db_url,
        "ENRICH_CAMPAIGN_FILE": str(REPO / "campaigns" / "default.yaml"),
        "ENRICH_TEMPLATES_DIR": str(REPO / "templates"),
        "ENRICH_BASE_URL": "https://enrich.example.org",
        "ENRICH_SECRET_KEY": "a-test-secret-of-its-own",
        # Tests run at any hour: every channel may send at any time unless a test says otherwise
        # (send windows have their own tests with their own policies).
        "ENRICH_EMAIL_WINDOW": "00:00-24:00",
        "ENRICH_EMAIL_DAYS": "mon-sun",
        "ENRICH_SMS_WINDOW": "00:00-24:00",
        "ENRICH_SMS_DAYS": "mon-sun",
        "ENRICH_LETTER_DAYS": "mon-sun",
        "ENRICH_LETTER_CUTOFF": "24:00",
        "ENRICH_HOLIDAY_COUNTRY": "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One Prefect test harness (a temporary API server) for the whole session's flow tests;
    yields its API URL, for the CLI processes a test starts."""
    # Imported here so that a broken Prefect server install fails the flow tests, not collection.
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def report_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The scripted round the steward's report is tested on (tests/models/round_report/
    scenario.py), built once per database for the whole session: the report only reads it."""
    from tests.models.round_report.scenario import built_world

    yield from built_world(request, tmp_path_factory.mktemp("report"))
