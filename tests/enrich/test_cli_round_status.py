"""`enrich round status ROUND`: tables for the steward, JSON for machines, exit 2 if unknown."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from tests.factories import NOW
from tests.models.rounds.test_status import QUIET, REJECTED, ROUND, seed_round, start_round

runner = CliRunner()


def test_status_prints_the_header_and_the_counts(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        seed_round(conn)
    result = runner.invoke(app, ["round", "status", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        "Round 1 (campaign default v3): running, 9 enrolled.",
        "Started 2026-11-23 12:00 UTC by alice.",
    ]
    text = " ".join(" ".join(line.replace("│", " ").split()) for line in lines)
    assert "active 5" in text and "exhausted 2" in text
    assert "1 email 3 2 0 2" in text  # step, channel, sent, failed, pending, skipped
    assert "2 sms 1 0 1 1" in text
    assert f"waiting {QUIET} 2" in text
    assert f"failed {REJECTED} 2" in text
    assert "skipped no usable email 2" in text


def test_status_json_is_for_machines(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        seed_round(conn)
    result = runner.invoke(app, ["round", "status", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["campaign"] == {"key": "default", "version": 3}
    assert (data["started_by"], data["status"], data["enrolled"]) == ("alice", "running", 9)
    assert data["started_at"] == "2026-11-23T12:00:00+00:00"
    assert data["per_state"] == {"active": 5, "completed": 1, "exhausted": 2, "stopped": 1}
    assert data["per_step"][2] == {
        "step": 3,
        "step_index": 2,
        "channel": "letter",
        "pending": 0,
        "sent": 0,
        "failed": 0,
        "skipped": 1,
    }
    assert {"kind": "waiting", "reason": QUIET, "count": 2} in data["per_reason"]
    assert len(data["per_reason"]) == 10


def test_an_unknown_round_exits_2_with_one_line(settings: Settings) -> None:
    for args in (["round", "status", "7"], ["round", "status", "7", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.output == "Round 7 does not exist.\n"


def test_a_finished_round_shows_when_and_names_print_literally(settings: Settings) -> None:
    finished = NOW + timedelta(hours=2)
    with get_engine(settings).begin() as conn:
        rid = start_round(conn, "ops [bold]bot")
        conn.execute(
            update(ROUND).where(ROUND.c.id == rid).values(status="finished", finished_at=finished)
        )
    result = runner.invoke(app, ["round", "status", str(rid)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "Round 1 (campaign default v3): finished, 0 enrolled.",
        "Started 2026-11-23 12:00 UTC by ops [bold]bot. Finished 2026-11-23 14:00 UTC.",
    ]
    data = json.loads(runner.invoke(app, ["round", "status", str(rid), "--json"]).output)
    assert (data["finished_at"], data["per_step"], data["per_reason"]) == (
        "2026-11-23T14:00:00+00:00",
        [],
        [],
    )
