"""`enrich sweep run | list | decide`: masked listings, confirmed erasures, refused repeats."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.tables import AuditEvent, Profile
from models.types import utcnow
from tests.factories import add_profile

runner = CliRunner()


def seed(settings: Settings) -> None:
    old = utcnow() - timedelta(days=1000)
    gone = {"created_at": old, "unreachable_at": old}
    with get_engine(settings).begin() as conn:
        add_profile(conn, "CRM-1", [{"kind": "email", "status": "valid"}], **gone)
        add_profile(conn, "CRM-2", [{"kind": "email", "status": "bounced"}], **gone)
        add_profile(conn, "CRM-3", [{"kind": "mobile", "status": "invalid"}], **gone)


def sweep(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["sweep", *args], input=input)
    return result.exit_code, result.output


def listed() -> list[dict[str, object]]:
    code, output = sweep("list", "--status", "all", "--json")
    assert code == 0, output
    return list(json.loads(output))


def family_names(settings: Settings) -> list[str | None]:
    with get_engine(settings).connect() as conn:
        return list(conn.execute(select(Profile.family_name).order_by(Profile.id)).scalars())


def test_run_then_list_shows_proposals_without_contact_data(settings: Settings) -> None:
    seed(settings)
    code, output = sweep("run", "--by", "alice")
    assert code == 0, output
    assert "3 new proposals" in output and "Nothing was changed" in output
    assert "unreachable_unverified" in output

    rows = listed()
    assert [(r["external_id"], r["proposal"], r["reason"]) for r in rows] == [
        ("CRM-1", "archive", "unconfirmed_contact"),
        ("CRM-2", "erase", "unreachable_unverified"),
        ("CRM-3", "erase", "unreachable_unverified"),
    ]
    assert rows[0]["last_interaction"] == (utcnow() - timedelta(days=1000)).date().isoformat()
    code, table = sweep("list", "--proposal", "erase")
    assert code == 0 and "CRM-2" in table and "CRM-1" not in table
    for text in (json.dumps(rows), table):
        assert "@example.org" not in text and "+316" not in text and "Test" not in text
    assert sweep("run")[1].count("0 new proposals") == 1  # a rerun proposes nothing twice


def test_decide_archives_once_and_refuses_a_second_decision(settings: Settings) -> None:
    seed(settings)
    sweep("run")
    code, output = sweep("decide", "1", "--decision", "archive", "--by", "alice", "--note", "ok")
    assert code == 0, output
    assert "1 proposal(s) decided: archived; 1 profile(s) changed" in output
    code, output = sweep("decide", "1", "--decision", "keep", "--by", "bob")
    assert code == 2
    assert "already decided: proposal 1 (archive)" in output
    with get_engine(settings).connect() as conn:
        actors = conn.execute(
            select(AuditEvent.actor).where(AuditEvent.action == "sweep.decided")
        ).all()
    assert actors == [("alice",)]


def test_erase_asks_for_confirmation(settings: Settings) -> None:
    seed(settings)
    sweep("run")
    code, output = sweep(
        "decide", "--all-proposed", "erase", "--decision", "erase", "--by", "dpo", input="n\n"
    )
    assert code == 1
    assert "Erase the personal data of 2 profile(s)?" in output and "Nothing was changed" in output
    assert family_names(settings) == ["CRM-1", "CRM-2", "CRM-3"]
    assert {r["status"] for r in listed()} == {"open"}

    code, output = sweep(
        "decide", "--all-proposed", "erase", "--decision", "erase", "--by", "dpo", input="y\n"
    )
    assert code == 0, output
    assert "2 proposal(s) decided: erased; 2 profile(s) changed" in output
    assert family_names(settings) == ["CRM-1", None, None]
    erased = [r["external_id"] for r in listed() if r["decision"] == "erase"]
    assert len(erased) == 2 and all(str(e).startswith("erased:") for e in erased)


def test_erase_with_yes_does_not_ask(settings: Settings) -> None:
    seed(settings)
    sweep("run")
    code, output = sweep("decide", "2", "--decision", "erase", "--by", "dpo", "--yes")
    assert code == 0, output
    assert "Erase the personal data" not in output
    assert family_names(settings) == ["CRM-1", None, "CRM-3"]


def test_bad_decide_commands_change_nothing(settings: Settings) -> None:
    seed(settings)
    sweep("run")
    cases = [
        (["decide", "--decision", "keep", "--by", "a"], "Name proposal ids or --all-proposed"),
        (["decide", "1", "--all-proposed", "keep", "--decision", "keep", "--by", "a"],
         "Name proposal ids or --all-proposed"),
        (["decide", "42", "--decision", "archive", "--by", "a"], "no such proposal: 42"),
        (["decide", "1", "--decision", "purge", "--by", "a"], "purge"),
        (["decide", "1", "--decision", "keep"], "--by"),
    ]  # fmt: skip
    for args, message in cases:
        code, output = sweep(*args)
        assert code == 2, (args, output)
        assert message in output, (args, output)
    assert {r["status"] for r in listed()} == {"open"}
    assert family_names(settings) == ["CRM-1", "CRM-2", "CRM-3"]
