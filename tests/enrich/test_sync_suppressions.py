"""SendGrid's suppression lists, read page by page from the stand-in, mark our email addresses
once: statuses, audit rows, nothing resurrected, a second run a no-op (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from models.feedback.suppressions import SuppressionEntry, apply_suppressions
from outreach.config import SendGridConfig
from outreach.errors import ConfigurationError, ProviderUnavailable
from outreach.providers.sendgrid.suppressions import fetch_suppressions
from tests.factories import NOW, add_profile
from tests.models.feedback.people import T
from tests.standins.common import serve_in_thread
from tests.standins.sendgrid import create_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, Outcome, SendGridState

runner = CliRunner()
CREATED = int((NOW - timedelta(days=3)).timestamp())
# profile -> (status, verified_at, address as we hold it)
PEOPLE: dict[str, tuple[str, datetime | None, str]] = {
    "ann": ("valid", None, "Ann.Smith@Example.org"),  # bounces, other case
    "bob": ("verified", NOW - timedelta(days=90), "bob@example.org"),  # invalid_emails
    "cat": ("valid", None, "cat@example.org"),  # spam_reports
    "dan": ("valid", None, "dan@example.org"),  # blocks only
    "eve": ("opted_out", None, "eve@example.org"),  # bounces: an opt-out stays
    "fay": ("verified", NOW - timedelta(days=1), "fay@example.org"),  # bounce before proof
    "gus": ("valid", None, "gus@example.org"),  # bounces and spam_reports
    "hal": ("bounced", None, "hal@example.org"),  # invalid_emails: no change
}
LISTED = {
    "bounces": ["ann.smith@example.org", "eve@example.org", "fay@example.org", "gus@example.org"],
    "invalid_emails": ["bob@example.org", "hal@example.org"],
    "spam_reports": ["cat@example.org", "gus@example.org"],
    "blocks": ["dan@example.org"],
}
EXPECTED = {
    "ann": "bounced",
    "bob": "invalid",
    "cat": "opted_out",
    "dan": "valid",
    "eve": "opted_out",
    "fay": "verified",
    "gus": "opted_out",
    "hal": "bounced",
}


@pytest.fixture
def state() -> SendGridState:
    state = SendGridState()
    for list_name, emails in LISTED.items():
        for email in emails:
            state.seed(list_name, email, created=CREATED)
    return state


@pytest.fixture
def url(state: SendGridState) -> Iterator[str]:
    with serve_in_thread(create_app(state)) as base:
        yield base


def seed_people(engine: Engine) -> None:
    stamps = {"created_at": NOW, "updated_at": NOW, "is_primary": True}
    with engine.begin() as conn:
        for name, (status, verified_at, email) in PEOPLE.items():
            profile_id = add_profile(conn, name, [{"kind": "mobile", "status": "valid"}])
            conn.execute(
                insert(T["cp"]).values(
                    profile_id=profile_id,
                    kind="email",
                    value=email,
                    status=status,
                    verified_at=verified_at,
                    **stamps,
                )
            )


def email_statuses(engine: Engine) -> dict[str, str]:
    cp, profile = T["cp"], T["profile"]
    query = (
        select(profile.c.external_id, cp.c.status)
        .join(cp, cp.c.profile_id == profile.c.id)
        .where(cp.c.kind == "email")
    )
    with engine.connect() as conn:
        return {r.external_id: r.status for r in conn.execute(query)}


def audit_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(T["audit"]).order_by(T["audit"].c.id)))


def sendgrid(url: str, **over: Any) -> SendGridConfig:
    return SendGridConfig(**{"api_key": STANDIN_API_KEY, "host": url, "max_retries": 2, **over})


def test_fetch_reads_every_list_page_by_page(state: SendGridState, url: str) -> None:
    for i in range(5):
        state.seed("bounces", f"old{i}@example.net", created=CREATED - 86400 * 30)
    entries = fetch_suppressions(sendgrid(url), page_size=3)
    lists = {name: sorted(e.email for e in entries if e.list_name == name) for name in LISTED}
    assert len(lists["bounces"]) == 9
    assert lists["spam_reports"] == ["cat@example.org", "gus@example.org"]
    # bounces 3+3+3+0, blocks 1, invalid_emails 2, spam_reports 2
    assert state.requests_seen == 4 + 1 + 1 + 1
    [ann] = [e for e in entries if e.email == "ann.smith@example.org"]
    assert ann.created == datetime.fromtimestamp(CREATED, UTC) and ann.status == "5.1.1"
    assert "ann" not in repr(ann)

    since = NOW - timedelta(days=10)
    recent = fetch_suppressions(sendgrid(url), since=since)
    assert not any(e.email.startswith("old") for e in recent)
    assert len(recent) == sum(len(v) for v in LISTED.values())


def test_fetch_retries_a_failing_server_then_gives_up(state: SendGridState, url: str) -> None:
    sleeps: list[float] = []
    state.push(Outcome.fail(500), Outcome.fail(503))
    entries = fetch_suppressions(sendgrid(url), sleep=sleeps.append)
    assert sleeps == [1.0, 2.0] and len(entries) == 9
    state.push(*[Outcome.fail(503)] * 3)
    with pytest.raises(ProviderUnavailable, match="answered 503 3 times"):
        fetch_suppressions(sendgrid(url), sleep=sleeps.append)


def test_refused_key_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\(401\): check ENRICH_SENDGRID_API_KEY"):
        fetch_suppressions(sendgrid(url, api_key="SG.revoked"))


def test_apply_marks_statuses_audits_and_a_second_run_changes_nothing(
    engine: Engine, state: SendGridState, url: str
) -> None:
    seed_people(engine)
    entries = fetch_suppressions(sendgrid(url))
    with engine.begin() as conn:
        outcome = apply_suppressions(conn, entries, now=NOW, actor="test")
    assert email_statuses(engine) == EXPECTED
    lists = outcome.lists
    assert (lists["bounces"].entries, lists["bounces"].matched, lists["bounces"].changed) == (
        4,
        4,
        1,  # ann; eve stays opted out, fay was verified after, gus ends opted out
    )
    assert lists["spam_reports"].changed == 2 and lists["invalid_emails"].changed == 1
    assert lists["blocks"].matched == 1 and lists["blocks"].changed == 0
    assert outcome.changed == 4

    rows = audit_rows(engine)
    assert len(rows) == 4
    by_reason = {r.reason: r for r in rows}
    assert set(by_reason) == {
        "sendgrid suppression list: bounces",
        "sendgrid suppression list: invalid_emails",
        "sendgrid suppression list: spam_reports",
    }
    bounce = by_reason["sendgrid suppression list: bounces"]
    assert bounce.action == "contact_point.bounced" and bounce.actor == "test"
    assert bounce.before["status"] == "valid" and bounce.after["status"] == "bounced"
    assert bounce.after["bounced_at"] == datetime.fromtimestamp(CREATED, UTC).isoformat()
    assert bounce.evidence == {
        "list": "bounces",
        "created": datetime.fromtimestamp(CREATED, UTC).isoformat(),
        "status": "5.1.1",
    }
    for row in rows:
        assert "@" not in row.reason
    spam = [r for r in rows if r.action == "contact_point.opted_out"]
    assert {r.before["status"] for r in spam} == {"valid"}

    with engine.begin() as conn:
        again = apply_suppressions(conn, entries, now=NOW + timedelta(hours=1), actor="test")
    assert again.changed == 0
    assert email_statuses(engine) == EXPECTED
    assert len(audit_rows(engine)) == 4


def test_only_email_contact_points_are_touched(engine: Engine) -> None:
    with engine.begin() as conn:
        add_profile(conn, "ivy", [{"kind": "mobile", "status": "valid"}])
        outcome = apply_suppressions(
            conn,
            [SuppressionEntry("+31612345678", "sendgrid", "bounces", effect="bounced")],
            now=NOW,
            actor="t",
        )
    assert outcome.lists["bounces"].matched == 0 and outcome.changed == 0


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[Settings]:
    monkeypatch.setenv("ENRICH_SENDGRID_API_KEY", STANDIN_API_KEY)
    monkeypatch.setenv("ENRICH_SENDGRID_HOST", url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_cli_syncs_and_prints_counts(cli_env: Settings, state: SendGridState) -> None:
    engine = get_engine(cli_env)
    seed_people(engine)
    for i in range(600):  # more than one page of 500
        state.seed("bounces", f"stranger{i}@example.net", created=CREATED)
    result = runner.invoke(app, ["providers", "sync-suppressions"])
    assert result.exit_code == 0, result.output
    assert email_statuses(engine) == EXPECTED
    lines = result.output.splitlines()
    [bounces] = [line for line in lines if "bounces" in line]
    assert [cell.strip() for cell in bounces.split("│")[1:6]] == [
        "bounces",
        "bounced",
        "604",
        "4",
        "1",
    ]
    assert "4 contact points changed." in result.output
    again = runner.invoke(app, ["providers", "sync-suppressions", "--since", "2026-01-01"])
    assert again.exit_code == 0, again.output
    assert "0 contact points changed." in again.output


def test_cli_without_a_key_exits_2_naming_the_setting(settings: Settings) -> None:
    result = runner.invoke(app, ["providers", "sync-suppressions"])
    assert result.exit_code == 2
    assert result.output.strip() == "SendGrid is not configured: set ENRICH_SENDGRID_API_KEY"


def test_cli_with_a_refused_key_exits_2(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICH_SENDGRID_API_KEY", "SG.revoked")
    get_settings.cache_clear()
    result = runner.invoke(app, ["providers", "sync-suppressions"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "SendGrid refused the API key (401): check ENRICH_SENDGRID_API_KEY"
    )
