"""`enrich report`: the JSON for machines, one HTML file for people, and the refusals."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import get_settings
from tests.models.round_report.population import T0
from tests.models.round_report.scenario import Scenario, database_url
from tests.paths import REPO

runner = CliRunner()


@pytest.fixture
def cli(
    report_world: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scenario]:
    """The command's settings point at the scripted round's database."""
    env = {
        "ENRICH_DATA_DIR": str(tmp_path / "var"),
        "ENRICH_DATABASE_URL": database_url(report_world),
        "ENRICH_CAMPAIGN_FILE": str(REPO / "campaigns" / "default.yaml"),
        "ENRICH_TEMPLATES_DIR": str(REPO / "templates"),
        "ENRICH_BASE_URL": "https://enrich.example.org",
        "ENRICH_SECRET_KEY": "a-test-secret-of-its-own",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield report_world
    get_settings.cache_clear()


def run(*args: str) -> Any:
    return runner.invoke(app, ["report", *args])


def test_json_prints_the_report_of_one_round(cli: Scenario) -> None:
    result = run("--round", str(cli.round_id), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["report"]["parameters"] == {"round": cli.round_id, "campaign": None, "since": None}
    (only,) = found["rounds"]
    assert [(r["step"], r["sent"], r["answered"]) for r in only["funnel"]] == [
        (1, 10, 2),
        (2, 8, 2),
        (3, 6, 0),
    ]
    assert only["cost"]["total"] == 6.14


def test_json_to_a_file_and_the_filters(cli: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run(
        "--campaign", "report", "--since", T0.date().isoformat(), "--json", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report on 1 round(s) written to {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    found = json.loads(out.read_text(encoding="utf-8"))
    assert [r["round_id"] for r in found["rounds"]] == [cli.round_id]
    every = json.loads(run("--json").output)
    assert [r["round_id"] for r in every["rounds"]] == [cli.earlier_round_id, cli.round_id]
    later = json.loads(run("--json", "--since", "2026-11-03").output)
    assert later["rounds"] == []


def test_html_is_one_private_file_without_personal_data(cli: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report on 2 round(s) written to {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<script" not in html and "http://" not in html
    for name in cli.profiles:
        assert f"{name}@example.org" not in html
    assert "+3161" not in html
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "line", "code"),
    [
        (["--round", "1", "--campaign", "report", "--json"], "give --round or --campaign", 2),
        (["--round", "999", "--json"], "report refused: round 999 does not exist", 2),
        (["--campaign", "nope", "--json"], "no campaign has the key 'nope'", 2),
        ([], "give --out FILE.html, or --json", 2),
        (["--out", "report.json"], "report.json does not end in .html; add --json", 2),
        (["--out", "missing/folder/report.html"], "cannot write the report: no folder", 1),
    ],
)
def test_refusals_say_why_in_one_line(cli: Scenario, args: list[str], line: str, code: int) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert line in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_date_that_is_no_date_is_a_usage_error(cli: Scenario) -> None:
    result = run("--since", "2026-13-01", "--json")
    assert result.exit_code == 2
    assert "--since" in result.output and "2026-13-01" in result.output
