"""`enrich round plan` counts and writes nothing; `enrich round start` runs the round flow."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from enrich.cli.round import round_app
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.tables import Outreach, Round
from models.types import utcnow
from tests.factories import COMPLETE, add_profile, replace
from tests.models.rounds.test_selection import exhausted_profile, row_counts

runner = CliRunner()


def seed(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        add_profile(conn, "e1", replace(COMPLETE, "mobile"))
        add_profile(conn, "s1", replace(COMPLETE, "email"))
        add_profile(conn, "complete", COMPLETE)
        add_profile(conn, "objector", [], objected_at=COMPLETE[2]["verified_at"])


def test_plan_prints_counts_and_writes_nothing(settings: Settings) -> None:
    seed(settings)
    before = row_counts(get_engine(settings))
    result = runner.invoke(round_app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "2 profiles would be enrolled" in result.output
    assert "missing_mobile" in result.output
    assert "opted out or objected" in result.output
    assert row_counts(get_engine(settings)) == before


def test_plan_lists_a_profile_whose_ladder_ran_out_among_the_left_out(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        exhausted_profile(conn, ended_at=utcnow() - timedelta(days=3))
    result = runner.invoke(round_app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "0 profiles would be enrolled" in result.output
    assert re.search(r"ladder ran out recently, data unchanged since\W+1\b", result.output)


def test_plan_with_a_bad_campaign_file_says_so(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: x\nname: X\ngaps: [missing_fax]\nladder: []\n")
    result = runner.invoke(round_app, ["plan", "--campaign", str(bad)])
    assert result.exit_code == 2
    assert "invalid" in result.output


def test_start_runs_a_round_and_prints_a_summary(settings: Settings) -> None:
    """Runs without PREFECT_API_URL: Prefect starts its temporary server (slow, once)."""
    seed(settings)
    result = runner.invoke(round_app, ["start", "--started-by", "alice", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "Round 1 finished" in result.output
    assert "1 enrolled; sent 1" in result.output
    with get_engine(settings).connect() as conn:
        started_by = conn.execute(select(Round.started_by)).scalar_one()
        sent = conn.execute(select(func.count()).where(Outreach.status == "sent")).scalar_one()
    assert (started_by, sent) == ("alice", 1)
    assert len(list((settings.resolved_outbox_dir / "email").glob("*.eml"))) == 1


def test_resume_of_an_unknown_round_says_so_and_starts_nothing(settings: Settings) -> None:
    from enrich.cli import app

    result = CliRunner().invoke(app, ["round", "resume", "999"])
    assert result.exit_code == 2
    assert "Round 999 does not exist" in result.output
