"""`enrich init` creates a fresh database and is safe to run again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import get_settings


def test_init_creates_database_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ENRICH_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["init"])
        assert first.exit_code == 0, first.output
        assert (tmp_path / "var" / "enrich.db").exists()
        assert "upgraded from empty" in first.output
        assert "profile" in inspect(get_engine()).get_table_names()

        again = runner.invoke(app, ["init"])
        assert again.exit_code == 0, again.output
        assert "up to date" in again.output
    finally:
        get_settings.cache_clear()
