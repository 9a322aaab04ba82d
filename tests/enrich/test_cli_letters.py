"""`enrich letters returned FILE` marks the addresses of returned letters and reports bad codes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from outreach.letters import return_code
from tests.models.feedback.people import T
from tests.models.feedback.test_returned_letters import letter

runner = CliRunner()


def statuses(settings: Settings) -> list[str]:
    with get_engine(settings).connect() as conn:
        return list(conn.execute(select(T["cp"].c.status).order_by(T["cp"].c.id)).scalars())


def test_returned_file_marks_invalid_and_exits_0(settings: Settings, tmp_path: Path) -> None:
    ann = letter(get_engine(settings), "ann")
    letter(get_engine(settings), "bob")
    codes = tmp_path / "returned.txt"
    codes.write_text(f"\n  {return_code(ann.outreach_id)}  \n\n")
    result = runner.invoke(app, ["letters", "returned", str(codes)])
    assert result.exit_code == 0, result.output
    assert "1 addresses marked invalid" in result.output
    assert statuses(settings) == ["invalid", "unverified"]


def test_csv_with_bad_and_unknown_codes_exits_1(settings: Settings, tmp_path: Path) -> None:
    ann = letter(get_engine(settings), "ann")
    codes = tmp_path / "returned.csv"
    codes.write_text(
        f"return_code,note\n{return_code(ann.outreach_id)},moved\nL-000001-9,x\n"
        f"{return_code(4242)},y\n"
    )
    result = runner.invoke(app, ["letters", "returned", str(codes)])
    assert result.exit_code == 1, result.output
    assert "bad code (malformed or wrong check digit): L-000001-9" in result.output
    assert f"unknown code (no posted letter): {return_code(4242)}" in result.output
    assert statuses(settings) == ["invalid"]
    second = runner.invoke(app, ["letters", "returned", str(codes)])
    assert "0 addresses marked invalid, 1 already invalid" in second.output
    assert statuses(settings) == ["invalid"]
