"""The steward's side of messages left in doubt: `enrich outreach in-doubt` names them with
their reason, `enrich outreach resolve` sends or drops them (audited), and refuses what is not
in doubt; `enrich round status` lists what a round left unsettled."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.tables import ENROLLMENT, OUTREACH, AuditEvent
from models.types import utcnow
from tests.factories import COMPLETE, add_profile, replace
from tests.providers.conftest import Setup
from tests.providers.data import seed_round
from tests.providers.sender import send_round
from tests.providers.test_exactly_once import assert_exactly_once, in_doubt_ids
from tests.standins.sendgrid_state import Outcome

runner = CliRunner()


@pytest.fixture
def timed_out(providers: Setup, monkeypatch: pytest.MonkeyPatch) -> tuple[int, set[int]]:
    """A round of 15 emails whose second request (5 emails) timed out: in doubt."""
    monkeypatch.setenv("ENRICH_PROVIDER_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("ENRICH_SENDGRID_RECONCILE_GRACE_MINUTES", "60")
    get_settings.cache_clear()
    round_id = seed_round(get_engine(providers.settings), emails=15, sms=0, now=utcnow())
    providers.sendgrid.push(Outcome(), Outcome.hang(6))
    outcome = send_round(round_id, utcnow())
    assert outcome.in_doubt == 5
    return round_id, in_doubt_ids(get_engine(providers.settings))


def resolve(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["outreach", "resolve", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def audited(providers: Setup, action: str) -> list[tuple[int, str, str | None]]:
    with get_engine(providers.settings).connect() as conn:
        return sorted(
            conn.execute(
                select(AuditEvent.entity_id, AuditEvent.actor, AuditEvent.reason).where(  # type: ignore[call-overload]
                    AuditEvent.action == action
                )
            ).all()
        )


def test_in_doubt_lists_each_message_with_its_reason_and_next_step(
    providers: Setup, timed_out: tuple[int, set[int]]
) -> None:
    round_id, doubtful = timed_out
    result = runner.invoke(app, ["outreach", "in-doubt", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {item["outreach_id"] for item in listed} == doubtful
    assert {item["round_id"] for item in listed} == {round_id}
    assert all(item["reason"].startswith("no answer from SendGrid within 3s") for item in listed)
    assert all(item["next_action"].startswith("waiting for sendgrid events") for item in listed)

    status = runner.invoke(app, ["round", "status", str(round_id), "--json"])
    assert {u["outreach_id"] for u in json.loads(status.output)["unsettled"]} == doubtful
    text = runner.invoke(app, ["round", "status", str(round_id)], env={"COLUMNS": "250"})
    assert "Not settled: 5" in text.output
    assert all(str(i) in text.output for i in doubtful)


def test_send_decision_sends_each_message_once_and_is_audited(
    providers: Setup, timed_out: tuple[int, set[int]]
) -> None:
    _round_id, doubtful = timed_out
    ids = [str(i) for i in sorted(doubtful)]
    code, output = resolve(*ids, "--decision", "send", "--by", "alice", "--reason", "not in feed")
    assert code == 0, output
    assert "5 messages given back to be sent again" in output
    assert "Sent 5, failed 0, in doubt 0" in output
    providers.sendgrid.flush_webhooks()
    assert_exactly_once(providers, emails=15, sms=0)
    assert audited(providers, "outreach.resolved") == [
        (i, "alice", "not in feed") for i in sorted(doubtful)
    ]
    assert in_doubt_ids(get_engine(providers.settings)) == set()


def test_drop_decision_records_a_failure_and_moves_the_ladder_on(
    providers: Setup, timed_out: tuple[int, set[int]]
) -> None:
    _round_id, doubtful = timed_out
    first = min(doubtful)
    code, output = resolve(str(first), "--decision", "drop", "--by", "bob", "--reason", "bounced")
    assert code == 0, output
    engine = get_engine(providers.settings)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                OUTREACH.c.status,
                OUTREACH.c.error,
                ENROLLMENT.c.step_index,
                ENROLLMENT.c.next_due_at,
            )
            .select_from(OUTREACH.join(ENROLLMENT, ENROLLMENT.c.id == OUTREACH.c.enrollment_id))
            .where(OUTREACH.c.id == first)
        ).one()
    assert row.status == "failed"
    assert row.error == "dropped while in doubt by bob: bounced"
    assert row.step_index == 0 and row.next_due_at <= utcnow()  # the next step is due at once
    assert audited(providers, "outreach.resolved") == [(first, "bob", "bounced")]
    assert [r[0] for r in audited(providers, "outreach.failed")] == [first]
    assert len(providers.sendgrid.delivered) == 10  # nothing was sent
    assert in_doubt_ids(engine) == doubtful - {first}


def test_what_is_not_in_doubt_is_refused_with_the_reason_and_changes_nothing(
    providers: Setup, timed_out: tuple[int, set[int]]
) -> None:
    _round_id, doubtful = timed_out
    engine = get_engine(providers.settings)
    with engine.connect() as conn:
        sent = conn.execute(
            select(OUTREACH.c.id).where(OUTREACH.c.status == "sent").limit(1)
        ).scalar_one()
    code, output = resolve(str(sent), "999999", "--decision", "send", "--by", "a", "--reason", "x")
    assert code == 1
    assert f"Outreach {sent} not resolved: already settled (sent)" in output
    assert "Outreach 999999 not resolved: no such outreach" in output
    code, output = resolve(str(min(doubtful)), "--decision", "resend", "--by", "a", "--reason", "x")
    assert code == 2 and "--decision must be one of: send, drop" in output
    assert audited(providers, "outreach.resolved") == []
    assert in_doubt_ids(engine) == doubtful


def test_a_message_with_a_provider_event_is_not_resent(
    providers: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendGrid took the slow request: its events settle it, the steward cannot resend it."""
    monkeypatch.setenv("ENRICH_PROVIDER_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    round_id = seed_round(get_engine(providers.settings), emails=5, sms=0, now=utcnow())
    providers.sendgrid.push(Outcome.slow_accept(6))
    assert send_round(round_id, utcnow()).in_doubt == 5
    providers.sendgrid.flush_webhooks()
    doubtful = in_doubt_ids(get_engine(providers.settings))
    code, output = resolve(
        *map(str, sorted(doubtful)), "--decision", "send", "--by", "a", "--reason", "x"
    )
    assert code == 1
    assert output.count("a provider event shows it was taken") == 5
    assert send_round(round_id, utcnow() + timedelta(minutes=1)).already_sent == 5
    assert_exactly_once(providers, emails=5, sms=0)


@pytest.mark.flow
def test_a_round_that_leaves_emails_in_doubt_names_them_and_exits_3(
    providers: Setup, monkeypatch: pytest.MonkeyPatch, prefect_harness: str
) -> None:
    """SendGrid times out on the second request: the round finishes, names the 5 emails in
    doubt with the reason, and exits 3 (documented) instead of 0."""
    monkeypatch.setenv("ENRICH_PROVIDER_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("ENRICH_BATCH_SIZE", "15")
    get_settings.cache_clear()
    engine = get_engine(providers.settings)
    with engine.begin() as conn:
        for i in range(15):
            add_profile(conn, f"e{i}", replace(COMPLETE, "mobile"), family_name=f"E{i}")
    providers.sendgrid.push(Outcome(), Outcome.hang(6))
    result = runner.invoke(app, ["round", "start", "--started-by", "alice"], env={"COLUMNS": "250"})
    assert result.exit_code == 3, result.output
    doubtful = in_doubt_ids(engine)
    assert len(doubtful) == 5
    assert "Not settled: 5" in result.output
    assert "5 messages in doubt, 0 unsent" in result.output
    assert "no answer from SendGrid within 3s" in result.output
    assert all(str(i) in result.output for i in doubtful)
