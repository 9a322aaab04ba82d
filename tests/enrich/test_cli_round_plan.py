"""`enrich round plan` forecasts the whole ladder, says where its rates come from, prints JSON
with `--json`, refuses bad forecast defaults, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from enrich.cli.round import round_app
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.campaigns.spec import load_campaign
from models.types import utcnow
from tests.models.forecast.history import earlier_email_round, population
from tests.models.rounds.test_selection import row_counts

runner = CliRunner()
CAMPAIGN = """key: t
name: T
gaps: [missing_email, missing_mobile, unverified_postal]
ladder:
  - {channel: email, wait_days: 5}
  - {channel: sms, wait_days: 5}
  - {channel: letter, wait_days: 21}
"""
DEFAULTS = """forecast_defaults:
  sms: {answered: 0.5, verified: 0.25, completed: 0.25}
  letter: {answered: 0.5, verified: 0.5, completed: 0.5}
costs:
  currency: EUR
  per_message: {email: 0.01, sms: 0.05, letter: 1.0}
"""


def campaign_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(CAMPAIGN + extra, encoding="utf-8")
    return path


def test_with_no_earlier_round_the_plan_forecasts_on_built_in_defaults(
    settings: Settings, tmp_path: Path
) -> None:
    with get_engine(settings).begin() as conn:
        population(conn)
    before = row_counts(get_engine(settings))
    result = runner.invoke(round_app, ["plan", "--campaign", str(campaign_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "20 profiles would be enrolled" in result.output
    assert "Forecast per ladder step" in result.output
    assert "No earlier round of campaign t: built-in defaults." in result.output
    assert "Dry run: nothing was written or sent." in result.output
    assert row_counts(get_engine(settings)) == before


def test_json_has_the_plan_and_a_forecast_from_the_earlier_round(
    settings: Settings, tmp_path: Path
) -> None:
    path = campaign_file(tmp_path, DEFAULTS)
    with get_engine(settings).begin() as conn:
        round_id = earlier_email_round(conn, load_campaign(path), now=utcnow())
        population(conn)
    result = runner.invoke(round_app, ["plan", "--campaign", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out) == ["plan", "forecast", "basis_note"]
    assert out["plan"]["selected"] == 20
    assert out["plan"]["per_first_channel"] == {"email": 10, "letter": 10}
    forecast = out["forecast"]
    assert (forecast["basis"], forecast["observed_rounds"]) == ("mixed", [round_id])
    assert (forecast["campaign"], forecast["currency"]) == ({"key": "t", "version": 1}, "EUR")
    steps = [
        (s["basis"], s["messages"], s["letters"], s["cost"], s["verified"], s["completed"])
        for s in forecast["steps"]
    ]
    # The same small population as tests/models/forecast/test_forecast.py works out by hand.
    assert steps == [
        ("observed", 8, 0, 0.08, 2, 1),
        ("defaults", 9, 0, 0.45, 2, 2),
        ("defaults", 17, 17, 17.0, 8, 8),
    ]
    assert forecast["total"] == {
        "messages": 34,
        "letters": 17,
        "cost": 17.53,
        "verified": 12,
        "completed": 11,
        "days": 31.0,
    }
    assert out["basis_note"] == (
        f"Step 1 from round {round_id} of campaign t; steps 2, 3 on configured defaults."
    )


def test_a_campaign_file_with_bad_forecast_defaults_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    bad = "forecast_defaults:\n  sms: {answered: 0.2, verified: 0.1, completed: -1}\n"
    result = runner.invoke(round_app, ["plan", "--campaign", str(campaign_file(tmp_path, bad))])
    assert result.exit_code == 2
    assert "forecast_defaults.sms.completed" in result.output
    assert "greater than or equal to 0" in result.output
